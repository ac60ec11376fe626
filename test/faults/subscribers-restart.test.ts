// Scenario 9: graphql-ws subscribers across a restart of their server. Two processes share the
// database; while process A is down (SIGKILL, then SIGTERM), process B keeps working: commands
// are invoked, executed over MQTT and HTTP, and expire. A's subscribers reconnect by themselves,
// and a re-query (the README's contract: events are not replayed, re-query after reconnecting)
// shows every status change of the gap; the subscription delivers new changes again. A
// subscriber on B saw the gap's events as they happened.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandsViaApi, createEndpoints, invoke, kp1Http, sleep, waitFor, type Endpoint } from './support/api.ts';
import { openBackend, type Backend } from './support/backend.ts';
import { FaultDevice } from './support/devices.ts';
import { killAllServers, type ServerProcess } from './support/server.ts';
import { Subscriber, untilSubscribed } from './support/ws.ts';

const TYPE = 'reboot';

describe('subscribers across a server restart', () => {
  let backend: Backend;
  let a: ServerProcess;
  let b: ServerProcess;
  let endpoint: Endpoint;
  let device: FaultDevice;
  const subscribers: Subscriber[] = [];

  beforeAll(async () => {
    backend = await openBackend('postgres');
    a = backend.server('cex-a');
    b = backend.server('cex-b');
    await Promise.all([a.start(), b.start()]);
    [endpoint] = (await createEndpoints(b, 1)) as [Endpoint];
    device = new FaultDevice(b.mqttUrl, endpoint, [TYPE]);
    await device.bound();
  });

  afterAll(async () => {
    await Promise.all(subscribers.map((s) => s.close()));
    await device?.close();
    await killAllServers();
    await backend?.destroy();
  });

  it.each(['SIGKILL', 'SIGTERM'] as const)('re-query after reconnecting shows every change of the gap (%s)', async (signal) => {
    const onA = new Subscriber(() => a.httpPort, { endpointId: endpoint.endpointId }, { reconnect: true });
    const onB = new Subscriber(() => b.httpPort, { endpointId: endpoint.endpointId });
    subscribers.push(onA, onB);
    for (const s of [onA, onB]) {
      s.subscribe();
      await untilSubscribed(s, async () => (await invoke(b, endpoint.endpointId, 'probe', null)).id);
    }
    // Before the gap: pending commands, one of them about to expire.
    const before = await Promise.all([1, 2, 3].map((i) => invoke(b, endpoint.endpointId, TYPE, { before: i })));
    const expiring = await invoke(b, endpoint.endpointId, TYPE, { expiring: true }, 1);
    await waitFor(() => [...before, expiring].every((c) => onA.has(c.id, 'PENDING')), 10_000, () => 'A missed PENDING events');
    const connectsBefore = onA.connects;

    // The gap: A is down, B works.
    const exit = await a.stop(signal);
    expect(exit?.signal ?? exit?.code).toBe(signal === 'SIGKILL' ? 'SIGKILL' : 0);
    const gapStarted = Date.now();
    const during = await Promise.all([1, 2].map((i) => invoke(b, endpoint.endpointId, TYPE, { during: i })));
    expect(await device.result(TYPE, [{ id: before[0]!.id, statusCode: 200 }, { id: during[0]!.id, statusCode: 201 }])).toBe(true);
    expect((await kp1Http(b, endpoint, 'cex', `result/${TYPE}`, [{ id: before[1]!.id, statusCode: 409 }])).status).toBe(200);
    await waitFor(() => onB.has(expiring.id, 'EXPIRED'), 10_000, () => 'the command did not expire during the gap');
    await sleep(Math.max(0, 1_500 - (Date.now() - gapStarted)));

    await a.start();
    // The client reconnects and re-subscribes by itself…
    await waitFor(() => onA.connects > connectsBefore, 20_000, () => `no reconnect: ${JSON.stringify(onA.errors.slice(-3))}`);
    // …and, as the contract says, re-queries to catch up: every change of the gap is there.
    const requery = new Map((await commandsViaApi(a, [endpoint.endpointId])).map((c) => [c.id, c]));
    expect(requery.get(before[0]!.id)).toMatchObject({ status: 'EXECUTED', statusCode: 200 });
    expect(requery.get(before[1]!.id)).toMatchObject({ status: 'EXECUTED', statusCode: 409 });
    expect(requery.get(before[2]!.id)).toMatchObject({ status: 'PENDING' });
    expect(requery.get(expiring.id)).toMatchObject({ status: 'EXPIRED' });
    expect(requery.get(during[0]!.id)).toMatchObject({ status: 'EXECUTED', statusCode: 201 });
    expect(requery.get(during[1]!.id)).toMatchObject({ status: 'PENDING' });
    // The re-query agrees with the database, and with what B's subscriber saw live.
    const truth = await backend.commands([endpoint.endpointId], a);
    for (const row of truth) expect(requery.get(row.id)?.status, `command ${row.id}`).toBe(row.status);
    for (const c of [...before, expiring, ...during]) {
      expect(onB.statuses(c.id).at(-1), `B saw the last change of ${c.id} live`).toBe(requery.get(c.id)!.status);
    }

    // The re-established subscription delivers new changes, from either process.
    const after = await invoke(b, endpoint.endpointId, TYPE, { after: true });
    expect((await kp1Http(a, endpoint, 'cex', `result/${TYPE}`, [{ id: during[1]!.id, statusCode: 202 }])).status).toBe(200);
    await waitFor(
      () => onA.has(after.id, 'PENDING') && onA.has(during[1]!.id, 'EXECUTED'),
      10_000,
      () => `A's subscriber got nothing after the reconnect: ${JSON.stringify(onA.events.slice(-5))}`,
    );
    // Events are not replayed (the contract): the gap's changes reached A's subscriber only
    // through the re-query.
    expect(onA.has(before[0]!.id, 'EXECUTED') || onA.has(expiring.id, 'EXPIRED') || onA.has(during[0]!.id, 'PENDING')).toBe(false);
    expect(onB.errors).toEqual([]);
    await onA.close();
    await onB.close();
  });
});
