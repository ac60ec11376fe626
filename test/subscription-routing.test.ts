// Events reach subscribers by route (endpoint id, command id) through the real EventBus: a
// subscriber of one endpoint is not called, and does no work, for another endpoint's events.
import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { Command } from '../src/domain/types.ts';
import { MAX_BUFFERED_EVENTS, eventStream } from '../src/events/stream.ts';
import { createEndpoint, invokeCommand } from './support/api.ts';
import { ADMIN_PRINCIPAL, startApp, waitFor } from './support/app.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

/** Counts the events each handler gets, by name. */
function counter() {
  const calls: Record<string, number> = {};
  return { calls, count: (name: string) => () => void (calls[name] = (calls[name] ?? 0) + 1) };
}

describe('EventBus routes', () => {
  it("calls only the handlers of an event's endpoint and command, and every unrouted one", async () => {
    const bus = app.services.bus;
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const { calls, count } = counter();
    const offs = Array.from({ length: 1000 }, () => bus.on('commandChanged', count('elsewhere'), { endpointId: randomUUID() }));
    offs.push(
      bus.on('commandChanged', count('endpoint'), { endpointId: fx.endpointId }),
      bus.on('commandChanged', count('other endpoint'), { endpointId: other.endpointId }),
      bus.on('commandChanged', count('other command'), { commandId: 2 ** 50 }),
      bus.on('telemetryReceived', count('telemetry'), { endpointId: fx.endpointId }),
    );
    const seen: Command[] = [];
    const offUnrouted = bus.on('commandChanged', (c) => void (c.endpointId === fx.endpointId && seen.push(c)));

    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    await waitFor(() => seen.length === 1);
    const offCommand = bus.on('commandChanged', count('command'), { commandId: Number(c.id) });
    await app.services.commands.recordResults(fx.endpointId, 'reboot', [{ id: Number(c.id), statusCode: 200 }]);
    // Handlers run in one pass per event: once the unrouted one saw it, the routed ones had it.
    await waitFor(() => seen.length === 2);
    expect(seen.map((e) => e.status)).toEqual(['PENDING', 'EXECUTED']);
    expect(calls).toEqual({ endpoint: 2, command: 1 });

    offCommand();
    for (const off of offs) off();
    await invokeCommand(app, fx.endpointId, 'reboot');
    await waitFor(() => seen.length === 3);
    expect(calls).toEqual({ endpoint: 2, command: 1 });
    offUnrouted();
  });

  it('gives a stream only its endpoint; the streams of other endpoints never look at the event', async () => {
    const bus = app.services.bus;
    const fx = await createEndpoint(app);
    let routeReads = 0;
    const route = (endpointId: string) => ({
      get endpointId() {
        routeReads++;
        return endpointId;
      },
    });
    const others = Array.from({ length: 500 }, () => eventStream(bus, 'commandChanged', route(randomUUID())));
    const mine = eventStream(bus, 'commandChanged', route(fx.endpointId));
    const readsToSubscribe = routeReads;
    let delivered = 0;
    const consumers = others.map(async (s) => {
      for await (const _ of s) delivered++;
    });

    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await invokeCommand(app, fx.endpointId, 'sw')).id);
    const got = [];
    for (let i = 0; i < 3; i++) got.push(String((await mine.next()).value!.id));
    expect(got).toEqual(ids);
    expect(delivered).toBe(0);
    expect(routeReads, 'a subscriber route was consulted per event').toBe(readsToSubscribe);

    await Promise.all([mine, ...others].map((s) => s.return!()));
    await Promise.all(consumers);
  });
});

describe('routed streams', () => {
  it('end a telemetry subscription at once when its subscriber leaves, without waiting for an event', async () => {
    const fx = await createEndpoint(app);
    const samples = await app.services.subscriptions.telemetry(ADMIN_PRINCIPAL, fx.endpointId);
    const waiting = samples.next();
    await samples.return!();
    expect(await waiting).toEqual({ value: undefined, done: true });
  });


  it(`end a subscriber ${MAX_BUFFERED_EVENTS} events behind with RATE_LIMITED; other endpoints' subscribers go on`, async () => {
    const bus = app.services.bus;
    const flooded = await createEndpoint(app);
    const quiet = await createEndpoint(app);
    const slow = eventStream(bus, 'commandChanged', { endpointId: flooded.endpointId });
    const other = eventStream(bus, 'commandChanged', { endpointId: quiet.endpointId });
    let arrived = 0;
    const off = bus.on('commandChanged', () => void arrived++, { endpointId: flooded.endpointId });

    const invokeOn = (endpointId: string) => app.services.commands.invoke(ADMIN_PRINCIPAL, { endpointId, commandType: 'flood' });
    await Promise.all(Array.from({ length: MAX_BUFFERED_EVENTS + 1 }, () => invokeOn(flooded.endpointId)));
    await waitFor(() => arrived === MAX_BUFFERED_EVENTS + 1, 20_000, () => `${arrived} arrived`);
    off();

    // What was buffered is still delivered, then the error.
    for (let i = 0; i < MAX_BUFFERED_EVENTS; i++) expect((await slow.next()).done).toBe(false);
    await expect(slow.next()).rejects.toMatchObject({ code: 'RATE_LIMITED' });
    expect((await slow.next()).done).toBe(true);

    const c = await invokeOn(quiet.endpointId);
    expect((await other.next()).value).toMatchObject({ id: c.id, status: 'PENDING' });
    await other.return!();
  });
});
