// Subscriptions are checked by the domain service, as queries are: the same codes for a missing
// key and for an endpoint or command that does not exist, from the service and over GraphQL.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { Principal } from '../src/domain/types.ts';
import type { TadaDocumentNode } from '../src/graphql/typed.ts';
import { createEndpoint, invokeCommand } from './support/api.ts';
import { collect, gql, sseSubscribe, startApp, wsClient, type GqlArguments } from './support/app.ts';
import { CommandHistory, CommandStatusChanged, TelemetryReceived } from './support/documents.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

const VIEWER: Principal = { keyId: 'test', name: 'viewer', role: 'VIEWER' };
const UNKNOWN_ENDPOINT = '00000000-0000-0000-0000-000000000000';

/** The code of the first error a graphql-ws subscription ends with. */
async function subscriptionCode<R, V>(document: TadaDocumentNode<R, V>, ...args: GqlArguments<V>): Promise<unknown> {
  const ws = wsClient(app);
  try {
    const sub = collect(ws, document, ...args);
    await sub.waitFor(() => sub.errors.length > 0, 5_000);
    return (sub.errors[0] as { extensions?: { code?: string } }).extensions?.code;
  } finally {
    await ws.dispose();
  }
}

async function historyCode(endpointId: string, key?: null): Promise<unknown> {
  return (await gql(app, CommandHistory, { endpointId }, key)).errors?.[0]?.extensions?.code;
}

describe('the subscription service', () => {
  it('refuses a caller without a key with UNAUTHENTICATED before it looks at anything', async () => {
    const subscriptions = app.services.subscriptions;
    await expect(subscriptions.commandChanges(null, {})).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
    await expect(subscriptions.commandChanges(null, { endpointId: UNKNOWN_ENDPOINT })).rejects.toMatchObject({
      code: 'UNAUTHENTICATED',
    });
    await expect(subscriptions.telemetry(null, UNKNOWN_ENDPOINT)).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('refuses an endpoint or command that does not exist with NOT_FOUND', async () => {
    const subscriptions = app.services.subscriptions;
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'sw');
    for (const filter of [
      { endpointId: UNKNOWN_ENDPOINT },
      { endpointId: 'not-an-id' },
      { commandId: '999999999999' },
      { commandId: 'not-an-id' },
      { commandId: c.id, endpointId: other.endpointId },
    ]) {
      await expect(subscriptions.commandChanges(VIEWER, filter), JSON.stringify(filter)).rejects.toMatchObject({ code: 'NOT_FOUND' });
    }
    await expect(subscriptions.telemetry(VIEWER, UNKNOWN_ENDPOINT)).rejects.toMatchObject({ code: 'NOT_FOUND' });

    const live = await subscriptions.commandChanges(VIEWER, { commandId: c.id, endpointId: fx.endpointId });
    await live.return!();
  });
});

describe('over GraphQL, a subscription answers like the equivalent query', () => {
  it.each([UNKNOWN_ENDPOINT, 'not-an-id'])('endpoint %j: NOT_FOUND, as commandHistory', async (endpointId) => {
    expect(await historyCode(endpointId)).toBe('NOT_FOUND');
    expect(await subscriptionCode(CommandStatusChanged, { endpointId })).toBe('NOT_FOUND');
    expect(await subscriptionCode(TelemetryReceived, { endpointId })).toBe('NOT_FOUND');
  });

  it("a command that does not exist, or is another endpoint's: NOT_FOUND", async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'sw');
    expect(await subscriptionCode(CommandStatusChanged, { commandId: '999999999999' })).toBe('NOT_FOUND');
    expect(await subscriptionCode(CommandStatusChanged, { commandId: c.id, endpointId: other.endpointId })).toBe('NOT_FOUND');
  });

  it('no key over SSE: UNAUTHENTICATED, as commandHistory', async () => {
    const fx = await createEndpoint(app);
    expect(await historyCode(fx.endpointId, null)).toBe('UNAUTHENTICATED');
    const streams = [
      () => sseSubscribe(app, CommandStatusChanged, {}, null),
      () => sseSubscribe(app, TelemetryReceived, { endpointId: fx.endpointId }, null),
    ];
    for (const subscribe of streams) {
      const stream = await subscribe();
      try {
        await stream.waitFor((events) => events.length > 0, 5_000);
        expect(stream.events[0]!.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      } finally {
        await stream.close();
      }
    }
  });
});
