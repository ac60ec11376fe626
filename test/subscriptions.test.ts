// commandStatusChanged over real graphql-ws websockets and over SSE.
import type { Client } from 'graphql-ws';
import WebSocket from 'ws';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { ResultOf } from '../src/graphql/typed.ts';
import { createApiKey, createEndpoint, invokeCommand } from './support/api.ts';
import { collect, sseSubscribe, startApp, untilSubscribed, waitFor, wsClient } from './support/app.ts';
import { CommandStatusChanged } from './support/documents.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

const open: Client[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.dispose();
});
function client(key?: string | null, extra?: Parameters<typeof wsClient>[2]): Client {
  const c = key === undefined ? wsClient(app) : wsClient(app, key, extra);
  open.push(c);
  return c;
}

type Event = ResultOf<typeof CommandStatusChanged>;
const eventsOf = (events: Event[], id: string) =>
  events.map((e) => e.commandStatusChanged).filter((c) => c.id === id);
const statusesOf = (events: Event[], id: string) => eventsOf(events, id).map((c) => c.status);

/** Subscribes to one endpoint's commands and waits until the server is surely listening. */
async function subscribeEndpoint(endpointId: string, c: Client = client()) {
  const sub = collect(c, CommandStatusChanged, { endpointId });
  await untilSubscribed(sub, () => invokeCommand(app, endpointId, 'probe'));
  return sub;
}

describe('commandStatusChanged over graphql-ws', () => {
  it('emits PENDING on invoke, then EXPIRED when the retention passes', async () => {
    const fx = await createEndpoint(app);
    const sub = await subscribeEndpoint(fx.endpointId);
    const c = await invokeCommand(app, fx.endpointId, 'short', { a: 1 }, 1);
    await sub.waitFor((events) => statusesOf(events, c.id).includes('EXPIRED'), 5_000);
    expect(statusesOf(sub.events, c.id)).toEqual(['PENDING', 'EXPIRED']);
    expect(eventsOf(sub.events, c.id)[0]).toMatchObject({ commandType: 'short', endpoint: { id: fx.endpointId } });
    expect(sub.errors).toEqual([]);
    sub.dispose();
  });

  it('emits EXECUTED with the result when a device result is recorded', async () => {
    const fx = await createEndpoint(app);
    const sub = await subscribeEndpoint(fx.endpointId);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    await sub.waitFor((events) => statusesOf(events, c.id).includes('PENDING'));
    await app.services.commands.recordResults(fx.endpointId, 'reboot', [
      { id: Number(c.id), statusCode: 202, reasonPhrase: 'Accepted', payload: { eta: 3 } },
    ]);
    await sub.waitFor((events) => statusesOf(events, c.id).includes('EXECUTED'));
    expect(eventsOf(sub.events, c.id)).toEqual([
      expect.objectContaining({ status: 'PENDING', statusCode: null }),
      expect.objectContaining({ status: 'EXECUTED', statusCode: 202, reasonPhrase: 'Accepted', resultPayload: { eta: 3 } }),
    ]);
  });

  it('sends nothing for a refused result batch, and nothing for a duplicate result', async () => {
    const fx = await createEndpoint(app);
    const sub = await subscribeEndpoint(fx.endpointId);
    const c = await invokeCommand(app, fx.endpointId, 'sw');
    const commands = app.services.commands;
    await expect(commands.recordResults(fx.endpointId, 'sw', [{ id: Number(c.id), statusCode: 500 }, { id: 2 ** 50, statusCode: 200 }])).rejects.toThrow();
    await commands.recordResults(fx.endpointId, 'sw', [{ id: Number(c.id), statusCode: 200 }]);
    await commands.recordResults(fx.endpointId, 'sw', [{ id: Number(c.id), statusCode: 201 }]);
    // A later command's event proves earlier ones had their chance to arrive (events keep order).
    const marker = await invokeCommand(app, fx.endpointId, 'marker');
    await sub.waitFor((events) => statusesOf(events, marker.id).length > 0);
    expect(eventsOf(sub.events, c.id)).toEqual([
      expect.objectContaining({ status: 'PENDING' }),
      expect.objectContaining({ status: 'EXECUTED', statusCode: 200 }),
    ]);
  });

  it('keeps the status of each event for a command too large for one NOTIFY', async () => {
    // Events over ~8000 bytes travel as references and are read back on arrival. The read must not
    // replace the event's state with a later one: a PENDING event has to arrive as PENDING even when
    // the result was recorded before the subscriber's server read it back.
    const fx = await createEndpoint(app);
    const busy = await createEndpoint(app);
    const sub = await subscribeEndpoint(fx.endpointId);
    const blob = 'x'.repeat(10_000);
    // Keep the server's event queue busy with other large events, so it reads the target's back late.
    await Promise.all(Array.from({ length: 60 }, (_, i) => invokeCommand(app, busy.endpointId, 'filler', { i, blob })));
    const c = await invokeCommand(app, fx.endpointId, 'big', { blob });
    await app.services.commands.recordResults(fx.endpointId, 'big', [{ id: Number(c.id), statusCode: 200 }]);
    await sub.waitFor((events) => eventsOf(events, c.id).length >= 2);
    // A later event on the same stream: anything more about c would have come before it.
    const marker = await invokeCommand(app, fx.endpointId, 'marker');
    await sub.waitFor((events) => eventsOf(events, marker.id).length > 0);
    expect(statusesOf(sub.events, c.id)).toEqual(['PENDING', 'EXECUTED']);
    expect(eventsOf(sub.events, c.id)[0]).toMatchObject({ status: 'PENDING', statusCode: null, resultPayload: null });
  });

  it('filters by commandId', async () => {
    const fx = await createEndpoint(app);
    const target = await invokeCommand(app, fx.endpointId, 'sw');
    const c = client();
    const byCommand = collect(c, CommandStatusChanged, { commandId: target.id });
    // Subscribed on the same socket after the commandId one: once this one hears a probe, the
    // earlier one is listening too.
    const byEndpoint = await subscribeEndpoint(fx.endpointId, c);

    const other = await invokeCommand(app, fx.endpointId, 'sw');
    await app.services.commands.recordResults(fx.endpointId, 'sw', [{ id: Number(other.id), statusCode: 200 }]);
    await app.services.commands.recordResults(fx.endpointId, 'sw', [{ id: Number(target.id), statusCode: 204 }]);
    await byCommand.waitFor((events) => events.length > 0);
    const marker = await invokeCommand(app, fx.endpointId, 'marker');
    await byEndpoint.waitFor((events) => statusesOf(events, marker.id).length > 0);
    expect(byCommand.events.map((e) => e.commandStatusChanged)).toMatchObject([{ id: target.id, status: 'EXECUTED', statusCode: 204 }]);
    expect(statusesOf(byCommand.events, marker.id)).toEqual([]);
  });

  it("does not send another endpoint's commands", async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const sub = await subscribeEndpoint(fx.endpointId);
    const foreign = await invokeCommand(app, other.endpointId, 'sw', null, 1);
    await app.services.commands.recordResults(other.endpointId, 'sw', [{ id: Number(foreign.id), statusCode: 200 }]);
    const mine = await invokeCommand(app, fx.endpointId, 'sw');
    await sub.waitFor((events) => statusesOf(events, mine.id).includes('PENDING'));
    expect(sub.events.every((e) => e.commandStatusChanged.endpoint && e.commandStatusChanged.endpoint.id === fx.endpointId)).toBe(true);
    expect(eventsOf(sub.events, foreign.id)).toEqual([]);
  });

  it('sends every command without a filter', async () => {
    const a = await createEndpoint(app);
    const b = await createEndpoint(app);
    const sub = collect(client(), CommandStatusChanged, {});
    await untilSubscribed(sub, () => invokeCommand(app, a.endpointId, 'probe'));
    const ca = await invokeCommand(app, a.endpointId, 'x');
    const cb = await invokeCommand(app, b.endpointId, 'x');
    await sub.waitFor((events) => statusesOf(events, ca.id).length > 0 && statusesOf(events, cb.id).length > 0);
  });

  it('closes the socket with 4403 without a valid key', async () => {
    for (const key of [null, 'not-a-valid-key-0123456789']) {
      const closes: number[] = [];
      const c = client(key, { on: { closed: (event) => void closes.push((event as { code: number }).code) } });
      const sub = collect(c, CommandStatusChanged, {});
      await waitFor(() => closes.length > 0 && sub.errors.length > 0, 5_000);
      expect(closes).toEqual([4403]);
      expect(sub.events).toEqual([]);
    }
  });

  it('closes a raw graphql-transport-ws socket with 4403 when connection_init has no key', async () => {
    const socket = new WebSocket(`ws://127.0.0.1:${app.httpPort}/graphql`, 'graphql-transport-ws');
    try {
      await new Promise((resolve, reject) => {
        socket.once('open', resolve);
        socket.once('error', reject);
      });
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      socket.send(JSON.stringify({ type: 'connection_init', payload: {} }));
      expect(await closed).toBe(4403);
    } finally {
      socket.terminate();
    }
  });

  it('lets a VIEWER key subscribe', async () => {
    const viewer = (await createApiKey(app, 'VIEWER')).secret;
    const fx = await createEndpoint(app);
    const sub = await subscribeEndpoint(fx.endpointId, client(viewer));
    const c = await invokeCommand(app, fx.endpointId, 'sw', null, 1);
    await sub.waitFor((events) => statusesOf(events, c.id).includes('EXPIRED'), 5_000);
    expect(statusesOf(sub.events, c.id)).toEqual(['PENDING', 'EXPIRED']);
  });
});

describe('commandStatusChanged over SSE', () => {
  it('streams a PENDING event to POST /graphql with accept: text/event-stream', async () => {
    const fx = await createEndpoint(app);
    const stream = await sseSubscribe(app, CommandStatusChanged, { endpointId: fx.endpointId });
    try {
      expect(stream.status).toBe(200);
      expect(stream.contentType).toMatch(/^text\/event-stream/);
      // The stream gives no "subscribed" signal: invoke until an event arrives.
      const invoked: string[] = [];
      await waitFor(
        async () => {
          if (stream.events.length > 0) return true;
          invoked.push((await invokeCommand(app, fx.endpointId, 'sse', { n: invoked.length })).id);
          await new Promise((r) => setTimeout(r, 200));
          return stream.events.length > 0;
        },
        10_000,
        () => JSON.stringify(stream.events),
      );
      const first = stream.events[0]!;
      expect(first.errors).toBeUndefined();
      expect(first.data!.commandStatusChanged).toMatchObject({ status: 'PENDING', commandType: 'sse', endpoint: { id: fx.endpointId } });
      expect(invoked).toContain(first.data!.commandStatusChanged.id);

      // Later changes follow on the same stream.
      const c = await invokeCommand(app, fx.endpointId, 'sse2');
      await app.services.commands.recordResults(fx.endpointId, 'sse2', [{ id: Number(c.id), statusCode: 200 }]);
      await stream.waitFor((events) => events.some((e) => e.data?.commandStatusChanged.id === c.id && e.data?.commandStatusChanged.status === 'EXECUTED'));
      expect(stream.events.filter((e) => e.data?.commandStatusChanged.id === c.id).map((e) => e.data!.commandStatusChanged.status)).toEqual([
        'PENDING',
        'EXECUTED',
      ]);
    } finally {
      await stream.close();
    }
  });

  it('refuses an SSE subscription without a key with UNAUTHENTICATED', async () => {
    const fx = await createEndpoint(app);
    const stream = await sseSubscribe(app, CommandStatusChanged, { endpointId: fx.endpointId }, null);
    try {
      await stream.waitFor((events) => events.length > 0, 5_000);
      expect(stream.events[0]!.data ?? null).toBeNull();
      expect(stream.events[0]!.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
      await invokeCommand(app, fx.endpointId, 'x');
      await waitFor(() => stream.ended(), 5_000);
      expect(stream.events).toHaveLength(1);
    } finally {
      await stream.close();
    }
  });
});
