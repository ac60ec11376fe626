// The limits that live in config reach the servers: a small value set in config is the one
// enforced (GraphQL document limits, batch size, graphql-ws message size, shutdown drain time).
import { once } from 'node:events';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { ADMIN_KEY, gql, startApp, testConfig, waitFor } from './support/app.ts';
import { RawWs } from './support/security.ts';

describe('GraphQL limits from config', () => {
  let app: App;
  beforeAll(async () => {
    const graphql = testConfig().graphql;
    app = await startApp({
      graphql: {
        ...graphql,
        maxBatchOperations: 2,
        maxWebSocketMessageBytes: 16 * 1024,
        armor: { ...graphql.armor, maxDepth: 3, maxCost: 40 },
      },
    });
  });
  afterAll(() => app?.stop());

  const messages = (res: { errors?: { message: string }[] }) => (res.errors ?? []).map((e) => e.message);

  it('refuses documents deeper than graphql.armor.maxDepth', async () => {
    expect((await gql(app, '{ applications { versions { id } } }')).errors).toBeUndefined();
    const deep = await gql(app, '{ applications { versions { application { id } } } }');
    expect(messages(deep)).toEqual([expect.stringMatching(/^Syntax Error: Query depth limit of 3 exceeded, found \d+\.$/)]);
  });

  it('refuses documents above graphql.armor.maxCost', async () => {
    const costly = await gql(app, `{ ${Array.from({ length: 10 }, (_, i) => `a${i}: applications { id name }`).join(' ')} }`);
    expect(messages(costly)).toEqual([expect.stringMatching(/^This operation could return too much: its cost is \d+, the limit is 40\./)]);
  });

  it('refuses batches over graphql.maxBatchOperations', async () => {
    const post = (n: number) =>
      fetch(`${app.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
        body: JSON.stringify(Array.from({ length: n }, () => ({ query: '{ __typename }' }))),
      });
    expect((await post(2)).status).toBe(200);
    const refused = await post(3);
    expect(refused.status).toBe(413);
    expect(JSON.stringify(await refused.json())).toContain('Batching is limited to 2 operations per request.');
  });

  it('closes a graphql-ws socket whose message is over graphql.maxWebSocketMessageBytes', async () => {
    const ws = new RawWs(app);
    await ws.opened;
    ws.send({ type: 'connection_init', payload: { authorization: `Bearer ${ADMIN_KEY}`, pad: 'p'.repeat(32 * 1024) } });
    expect((await waitFor(() => ws.close, 5_000)).code).toBe(1009);
  });
});

describe('shutdown.drainMs', () => {
  /** Stops an app while a request whose body never arrives is in flight. */
  async function stopWithStuckRequest(drainMs: number): Promise<{ tookMs: number; cut: boolean }> {
    const app = await startApp({ shutdown: { drainMs, exitAfterMs: drainMs + 5_000 } });
    const socket = connect(app.httpPort, '127.0.0.1');
    socket.on('error', () => {});
    await once(socket, 'connect');
    socket.write('POST /graphql HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"query"');
    await sleep(200);
    const started = Date.now();
    await app.stop();
    const tookMs = Date.now() - started;
    await sleep(50);
    const cut = socket.destroyed || socket.readableEnded;
    socket.destroy();
    return { tookMs, cut };
  }

  it('waits that long for a request in flight, then cuts it', async () => {
    const short = await stopWithStuckRequest(300);
    expect(short.tookMs).toBeGreaterThanOrEqual(280);
    expect(short.tookMs).toBeLessThan(2_500);
    expect(short.cut).toBe(true);
    expect((await stopWithStuckRequest(2_800)).tookMs).toBeGreaterThanOrEqual(2_750);
  });
});
