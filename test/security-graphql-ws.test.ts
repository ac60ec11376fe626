// Operator API over graphql-ws: admission by key and Origin, message size, subscriptions per socket, init timeout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { ResultOf } from '../src/graphql/typed.ts';
import { createEndpoint, invokeCommand, type Fixture } from './support/api.ts';
import { ADMIN_KEY, collect, startApp, testConfig, untilSubscribed, waitFor, wsClient, type Subscription } from './support/app.ts';
import { CommandStatusChanged } from './support/documents.ts';
import { MiB, RawWs } from './support/security.ts';

const MAX_SUBSCRIPTIONS = 3;
const ALLOWED_ORIGIN = 'https://ops.example.com';

let app: App;
// Opened first so that the 4408 test near the end does not wait on its own.
let idleWs: RawWs;

beforeAll(async () => {
  app = await startApp({
    graphql: {
      ...testConfig().graphql,
      maxSubscriptionsPerConnection: MAX_SUBSCRIPTIONS,
      allowedOrigins: [ALLOWED_ORIGIN],
    },
  });
  idleWs = new RawWs(app);
});
afterAll(async () => {
  idleWs?.end();
  await app?.stop();
});

describe('graphql-ws admission and limits', () => {
  it('closes the socket with 4403 without a key or with a wrong one', async () => {
    for (const payload of [{}, { authorization: 'Bearer not-a-key-0123456789' }, { authorization: ADMIN_KEY }]) {
      const ws = new RawWs(app);
      expect(await ws.opened).toBe(true);
      ws.send({ type: 'connection_init', payload });
      await waitFor(() => ws.close, 5_000);
      expect(ws.close!.code).toBe(4403);
      expect(ws.messages).toEqual([]);
    }
    // The control: the same socket with the key is acknowledged.
    const ws = new RawWs(app);
    await ws.opened;
    ws.send({ type: 'connection_init', payload: { authorization: `Bearer ${ADMIN_KEY}` } });
    await waitFor(() => ws.messages.length > 0, 5_000);
    expect(ws.messages).toEqual([{ type: 'connection_ack' }]);
    ws.end();
  });

  it('refuses the upgrade from a disallowed Origin; an allowed Origin and no Origin work', async () => {
    const evil = new RawWs(app, { origin: 'https://evil.example' });
    expect(await evil.opened).toBe(false);
    expect(evil.refusedWith).toBe(401);
    for (const origin of [ALLOWED_ORIGIN, undefined]) {
      const ws = new RawWs(app, { origin });
      expect(await ws.opened).toBe(true);
      ws.send({ type: 'connection_init', payload: { authorization: `Bearer ${ADMIN_KEY}` } });
      await waitFor(() => ws.messages.length > 0, 5_000);
      expect(ws.messages).toEqual([{ type: 'connection_ack' }]);
      ws.end();
    }
  });

  it('closes the socket with 1009 on a message over 1 MiB; 900 KiB is answered', async () => {
    const ws = new RawWs(app);
    await ws.opened;
    ws.send({ type: 'connection_init', payload: { authorization: `Bearer ${ADMIN_KEY}` } });
    await waitFor(() => ws.messages.length > 0, 5_000);
    // A ping is answered with a pong carrying its payload.
    ws.send({ type: 'ping', payload: { pad: 'p'.repeat(900 * 1024) } });
    await waitFor(() => ws.messages.length > 1, 5_000);
    expect(ws.messages[1].type).toBe('pong');
    ws.send({ type: 'ping', payload: { pad: 'p'.repeat(2 * MiB) } });
    await waitFor(() => ws.close, 5_000);
    expect(ws.close!.code).toBe(1009);
    expect(ws.messages).toHaveLength(2);
  });

  /** Opens subscriptions one at a time (each confirmed live) until one is refused. */
  async function subscribeUntilRefused(fx: Fixture, client: ReturnType<typeof wsClient>, attempts: number) {
    const live: Subscription<ResultOf<typeof CommandStatusChanged>>[] = [];
    for (let i = 0; i < attempts; i++) {
      const sub = collect(client, CommandStatusChanged, { endpointId: fx.endpointId });
      try {
        await untilSubscribed(sub, () => invokeCommand(app, fx.endpointId, 'poke'));
        live.push(sub);
      } catch {
        return { live, refused: sub, index: i + 1 };
      }
    }
    return { live, refused: undefined, index: undefined };
  }

  it(`refuses a subscription beyond maxSubscriptionsPerConnection with RATE_LIMITED; the live ones keep working`, async () => {
    const fx = await createEndpoint(app);
    const client = wsClient(app);
    try {
      const { live, refused } = await subscribeUntilRefused(fx, client, MAX_SUBSCRIPTIONS + 1);
      expect(refused, 'no subscription was refused').toBeDefined();
      expect(JSON.stringify(refused!.errors)).toContain('RATE_LIMITED');
      expect(JSON.stringify(refused!.errors)).toContain(`At most ${MAX_SUBSCRIPTIONS} subscriptions per connection.`);
      expect(live.length).toBeGreaterThan(0);
      const c = await invokeCommand(app, fx.endpointId, 'after');
      for (const sub of live) await sub.waitFor((events) => events.some((e) => e.commandStatusChanged.id === c.id));
      // A slot frees when a subscription ends.
      live.pop()!.dispose();
      const again = collect(client, CommandStatusChanged, { endpointId: fx.endpointId });
      await untilSubscribed(again, () => invokeCommand(app, fx.endpointId, 'poke'));
    } finally {
      await client.dispose();
    }
  });

  // graphql-ws registers the operation (ctx.subscriptions[id] = null) before it calls
  // onSubscribe, so the count there includes the new one: an off-by-one would refuse the Nth.
  it(`exactly maxSubscriptionsPerConnection (${MAX_SUBSCRIPTIONS}) subscriptions work on one socket`, async () => {
    const fx = await createEndpoint(app);
    const client = wsClient(app);
    try {
      const { index } = await subscribeUntilRefused(fx, client, MAX_SUBSCRIPTIONS + 1);
      expect(index).toBe(MAX_SUBSCRIPTIONS + 1);
    } finally {
      await client.dispose();
    }
  });

  it('closes a socket that sends no connection_init within 5 s with 4408', { timeout: 20_000 }, async () => {
    await waitFor(() => idleWs.close, Math.max(1, idleWs.openedAt + 12_000 - Date.now()));
    expect(idleWs.close!.code).toBe(4408);
    const after = idleWs.close!.at - idleWs.openedAt;
    expect(after).toBeGreaterThanOrEqual(4_500);
    expect(after).toBeLessThan(12_000);
  });
});
