// Scenario 5: device links are cut while commands are being delivered. After each reconnect a
// device is sent every command still pending for it again (at-least-once; devices de-duplicate by
// id), and a command whose result was stored is never delivered again.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEndpoints, invoke, pool, sleep, waitFor, type Endpoint } from './support/api.ts';
import { openBackend, type Backend, type BackendKind } from './support/backend.ts';
import { FaultDevice } from './support/devices.ts';
import { TcpProxy } from './support/proxy.ts';
import { killAllServers, type ServerProcess } from './support/server.ts';

const TYPES = ['reboot', 'switch-light'];
const ENDPOINTS = 4;
const BURST = 120;
const CUTS = 6;

describe.each<BackendKind>(['postgres', 'pglite'])('device links cut mid-delivery (%s)', (kind) => {
  let backend: Backend;
  let server: ServerProcess;
  let proxy: TcpProxy;
  let endpoints: Endpoint[];
  let devices: FaultDevice[] = [];

  beforeAll(async () => {
    backend = await openBackend(kind);
    server = backend.server();
    await server.start();
    proxy = new TcpProxy(() => server.mqttPort);
    await proxy.start();
    endpoints = await createEndpoints(server, ENDPOINTS);
    devices = endpoints.map((ep) => new FaultDevice(proxy.url, ep, TYPES, { reconnectPeriod: 100 }));
    await Promise.all(devices.map((d) => d.bound()));
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await proxy?.close();
    await killAllServers();
    await backend?.destroy();
  });

  const pendingOf = async (d: FaultDevice) =>
    (await backend.commands([d.endpoint.endpointId], server)).filter((c) => c.status === 'PENDING').map((c) => c.id);

  it('redelivers every pending command after each reconnect, and nothing whose result is stored', async () => {
    // 1. A burst of invocations while every link is cut again and again.
    let bursting = true;
    const cutter = (async () => {
      for (let i = 0; i < CUTS && bursting; i++) {
        await sleep(100 + Math.floor(Math.random() * 300));
        proxy.cutAll();
      }
    })();
    const invoked: number[] = [];
    await pool(BURST, 4, async (i) => {
      const ep = endpoints[i % ENDPOINTS]!;
      invoked.push((await invoke(server, ep.endpointId, TYPES[i % TYPES.length]!, { i })).id);
    });
    bursting = false;
    await cutter;
    expect(invoked.length).toBe(BURST);
    console.log(`[${kind}] ${proxy.cuts} cuts during the burst; connections per device: ${devices.map((d) => d.connections)}`);

    // 2. One more cut after the burst: on the new connection each device is sent every pending
    // command of its endpoint again (it reported no result yet).
    const before = devices.map((d) => d.connections);
    proxy.cutAll();
    await waitFor(() => devices.every((d, i) => d.connections > before[i]!), 10_000, () => 'devices did not reconnect');
    await Promise.all(devices.map((d) => d.bound()));
    for (const d of devices) {
      const pending = await pendingOf(d);
      expect(pending.length).toBe(BURST / ENDPOINTS);
      const onLatest = () => new Set(d.deliveries.filter((x) => x.connection === d.connections).map((x) => x.id));
      await waitFor(
        () => pending.every((id) => onLatest().has(id)),
        15_000,
        () => `${d.endpoint.token}: not redelivered after the reconnect: ${pending.filter((id) => !onLatest().has(id))}`,
      );
      // Only its own commands, only on its own topics.
      expect(d.topics.filter((t) => !t.includes(`/${d.endpoint.token}/`))).toEqual([]);
      const own = new Set((await backend.commands([d.endpoint.endpointId], server)).map((c) => c.id));
      expect([...d.ids()].filter((id) => !own.has(id)), 'commands of another endpoint').toEqual([]);
    }

    // 3. The devices report every result (QoS 1: stored before the PUBACK).
    for (const d of devices) {
      for (const type of TYPES) {
        const ids = [...new Set(d.deliveries.filter((x) => x.commandType === type).map((x) => x.id))];
        await waitFor(
          async () => d.connected && (await d.result(type, ids.map((id) => ({ id, statusCode: 200 })))),
          15_000,
          () => `results of ${d.endpoint.token} not acknowledged`,
        );
      }
    }
    const marks = devices.map((d) => d.mark);
    for (const d of devices) expect(await pendingOf(d)).toEqual([]);

    // 4. Cut the links twice more and invoke a fresh command per endpoint: the fresh ones arrive,
    // none of the executed ones is ever delivered again.
    const fresh = new Map<FaultDevice, number>();
    for (let round = 0; round < 2; round++) {
      const connections = devices.map((d) => d.connections);
      proxy.cutAll();
      await waitFor(() => devices.every((d, i) => d.connections > connections[i]!), 10_000, () => 'devices did not reconnect');
      await Promise.all(devices.map((d) => d.bound()));
    }
    for (const d of devices) fresh.set(d, (await invoke(server, d.endpoint.endpointId, TYPES[0]!, { fresh: true })).id);
    await waitFor(() => devices.every((d) => d.ids().has(fresh.get(d)!)), 10_000, () => 'fresh commands not delivered');
    for (const [i, d] of devices.entries()) {
      const again = d.deliveries.filter((x) => x.seq >= marks[i]! && x.id !== fresh.get(d)).map((x) => x.id);
      expect(again, `${d.endpoint.token}: executed commands delivered again`).toEqual([]);
    }
    expect(server.problems()).toEqual([]);
  });
});
