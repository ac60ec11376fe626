// A NOTIFY sent while the server's LISTEN connection is down is never delivered to it, so a
// subscriber cannot know what it missed: when that connection is lost and re-established, every
// open subscription ends with SERVICE_UNAVAILABLE ("re-subscribe and re-query"), on graphql-ws and
// SSE, whether or not an event fell in the gap (src/events/stream.ts). PostgreSQL only: PGlite's
// LISTEN lives in the process and cannot be cut.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint, invokeCommand } from './support/api.ts';
import { collect, sseSubscribe, startApp, testConfig, unique, untilSubscribed, usingPostgres, waitFor, wsClient } from './support/app.ts';
import { rawQuery } from './support/db.ts';
import { CommandStatusChanged } from './support/documents.ts';

const applicationName = unique('cex-feed');
let app: App;
beforeAll(async () => {
  if (!usingPostgres) return;
  const database = testConfig().database;
  if (database.kind !== 'postgres') throw new Error('expected a PostgreSQL configuration');
  // Its own application_name, so that only this server's listener is cut, not those of the
  // test files running beside it on the same database.
  const url = new URL(database.url);
  url.searchParams.set('application_name', applicationName);
  app = await startApp({ database: { ...database, url: url.toString() } });
});
afterAll(() => app?.stop());

/** Terminates this server's LISTEN connection; the server re-establishes it on its own. */
async function cutListener(): Promise<void> {
  const killed = await rawQuery(
    `select pg_terminate_backend(pid) from pg_stat_activity where application_name = $1 and query ilike 'listen %'`,
    [applicationName],
  );
  expect(killed, 'the LISTEN connections of this server').toHaveLength(1);
}

describe.runIf(usingPostgres)('losing the LISTEN connection', () => {
  it('ends every open subscription with SERVICE_UNAVAILABLE; new ones get events again', async () => {
    const fx = await createEndpoint(app);
    const client = wsClient(app);
    const ws = collect(client, CommandStatusChanged, { endpointId: fx.endpointId });
    const sse = await sseSubscribe(app, CommandStatusChanged, { endpointId: fx.endpointId });
    try {
      await untilSubscribed(ws, () => invokeCommand(app, fx.endpointId, 'warm-up'));
      await waitFor(async () => {
        if (sse.events.length > 0) return true;
        await invokeCommand(app, fx.endpointId, 'warm-up');
        return sse.events.length > 0;
      }, 10_000);

      // No command is invoked from here on: the subscriptions end for the gap itself.
      await cutListener();
      await ws.waitFor(() => ws.errors.length > 0, 10_000);
      expect(ws.errors.flat()).toMatchObject([
        {
          message: 'The server lost its database event feed for a moment; re-subscribe and re-query.',
          extensions: { code: 'SERVICE_UNAVAILABLE' },
        },
      ]);
      await sse.waitFor((events) => events.some((e) => e.errors?.length), 10_000);
      expect(sse.events.at(-1)!.errors![0]!.extensions?.code).toBe('SERVICE_UNAVAILABLE');
      await waitFor(() => sse.ended(), 5_000, () => 'the SSE stream is still open');

      // Once the listener is back, a new subscription is served as before.
      const again = collect(client, CommandStatusChanged, { endpointId: fx.endpointId });
      await untilSubscribed(again, () => invokeCommand(app, fx.endpointId, 'after'));
      expect(again.errors).toEqual([]);
      again.dispose();
    } finally {
      ws.dispose();
      await sse.close();
      await client.dispose();
    }
  });
});
