// Three server processes (not a cluster: three nodes, as behind a TCP load balancer) on one
// PostgreSQL, on loopback: devices spread over all of them, an operator on each, commands
// invoked through every one. Each command reaches its device once, every operator sees every
// command PENDING then EXECUTED exactly once, and the database holds every result: nothing is
// lost or duplicated between nodes. Events cross nodes only through PostgreSQL LISTEN/NOTIFY.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { commandsViaApi, createEndpoints, invoke, kp1Http, waitFor, type Endpoint } from './faults/support/api.ts';
import { FaultDevice } from './faults/support/devices.ts';
import { killAllServers, ServerProcess } from './faults/support/server.ts';
import { Subscriber, untilSubscribed } from './faults/support/ws.ts';
import { usingPostgres } from './support/app.ts';

const NODES = 3;
const MQTT_PER_NODE = 3;
const ROUNDS = 4;

describe.skipIf(!usingPostgres)('three server processes on one PostgreSQL', () => {
  const nodes: ServerProcess[] = [];
  const devices: FaultDevice[] = [];
  const subscribers: Subscriber[] = [];
  let mqttEndpoints: Endpoint[];
  let httpEndpoints: Endpoint[];

  beforeAll(async () => {
    for (let i = 0; i < NODES; i++) nodes.push(new ServerProcess({ databaseUrl: process.env['TEST_DATABASE_URL'], name: `cex-node-${i}` }));
    await Promise.all(nodes.map((n) => n.start()));
    mqttEndpoints = await createEndpoints(nodes[0]!, NODES * MQTT_PER_NODE);
    httpEndpoints = await createEndpoints(nodes[1]!, NODES);
    // Device i on node i % 3.
    for (const [i, ep] of mqttEndpoints.entries()) devices.push(new FaultDevice(nodes[i % NODES]!.mqttUrl, ep, ['work']));
    await Promise.all(devices.map((d) => d.bound()));
    for (const [i, node] of nodes.entries()) {
      const sub = new Subscriber(() => node.httpPort);
      sub.subscribe();
      subscribers.push(sub);
      // Proven live by a command invoked through another node.
      const other = nodes[(i + 1) % NODES]!;
      await untilSubscribed(sub, async () => (await invoke(other, mqttEndpoints[0]!.endpointId, 'probe', null)).id);
    }
  }, 120_000);
  afterAll(async () => {
    await Promise.all(subscribers.map((s) => s.close()));
    await Promise.all(devices.map((d) => d.close()));
    await killAllServers();
  });

  it('delivers every command once and shows every operator every change once', async () => {
    const all = [...mqttEndpoints, ...httpEndpoints];
    const invoked = new Map<string, number[]>(all.map((ep) => [ep.endpointId, []]));
    // Each endpoint's commands go through every node in turn, at once.
    await Promise.all(
      all.map(async (ep, i) => {
        for (let round = 0; round < ROUNDS; round++) {
          const via = nodes[(i + round) % NODES]!;
          invoked.get(ep.endpointId)!.push((await invoke(via, ep.endpointId, 'work', { round })).id);
        }
      }),
    );
    const ids = [...invoked.values()].flat();
    expect(new Set(ids).size).toBe(all.length * ROUNDS);

    // MQTT devices: pushed by their own node whichever node took the invoke; each reports.
    await Promise.all(
      devices.map(async (device, i) => {
        const mine = invoked.get(mqttEndpoints[i]!.endpointId)!;
        await waitFor(() => mine.every((id) => device.ids().has(id)) || undefined, 15_000, () => `device ${i} got ${[...device.ids()]}`);
        expect(await device.result('work', mine.map((id) => ({ id, statusCode: 200 })))).toBe(true);
      }),
    );
    // HTTP devices: device i polls and reports through node i.
    await Promise.all(
      httpEndpoints.map(async (ep, i) => {
        const node = nodes[i]!;
        const poll = await kp1Http(node, ep, 'cex', 'command/work', {});
        expect(poll.json.map((c: { id: number }) => c.id)).toEqual(invoked.get(ep.endpointId));
        const report = await kp1Http(node, ep, 'cex', 'result/work', poll.json.map((c: { id: number }) => ({ id: c.id, statusCode: 202 })));
        expect(report.status).toBe(200);
      }),
    );

    for (const [n, sub] of subscribers.entries()) {
      await waitFor(() => ids.every((id) => sub.has(id, 'EXECUTED')) || undefined, 15_000, () => `operator on node ${n}`);
    }
    // A marker invoked and executed after everything else: events arrive in commit order, so a
    // duplicate of anything before it would have arrived by now.
    const marker = await invoke(nodes[2]!, httpEndpoints[0]!.endpointId, 'marker', null);
    await kp1Http(nodes[0]!, httpEndpoints[0]!, 'cex', 'result/marker', [{ id: marker.id, statusCode: 200 }]);
    for (const sub of subscribers) await waitFor(() => sub.has(marker.id, 'EXECUTED') || undefined, 15_000);

    for (const [n, sub] of subscribers.entries()) {
      for (const id of ids) expect(sub.statuses(id), `command ${id} on the operator of node ${n}`).toEqual(['PENDING', 'EXECUTED']);
      expect(sub.errors).toEqual([]);
    }
    for (const [i, device] of devices.entries()) {
      const mine = invoked.get(mqttEndpoints[i]!.endpointId)!;
      // Only its own commands (no other endpoint's topic), each pushed once.
      expect(device.deliveries.filter((d) => d.commandType === 'work').map((d) => d.id).sort((a, b) => a - b), `device ${i}`).toEqual([...mine].sort((a, b) => a - b));
      expect(device.topics.every((t) => t.includes(`/${mqttEndpoints[i]!.token}/`))).toBe(true);
    }
    const rows = await commandsViaApi(nodes[1]!, all.map((ep) => ep.endpointId));
    const work = rows.filter((r) => r.commandType === 'work');
    expect(work).toHaveLength(ids.length);
    for (const row of work) expect([row.status, row.statusCode]).toEqual(['EXECUTED', httpEndpoints.some((ep) => ep.endpointId === row.endpointId) ? 202 : 200]);
    for (const node of nodes) expect(node.problems()).toEqual([]);
  }, 90_000);
});
