// Scenario 2: the server is SIGKILLed while devices report results, over MQTT (QoS 1: the PUBACK
// is the acknowledgement) and over HTTP (200). Every result whose acknowledgement a device saw
// is EXECUTED after the crash, with the code and payload it carried. Several kill points.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEndpoints, invoke, kp1Http, pool, rng, sleep, type Endpoint } from './support/api.ts';
import { openBackend, type Backend, type BackendKind } from './support/backend.ts';
import { FaultDevice } from './support/devices.ts';
import { killAllServers, type ServerProcess } from './support/server.ts';

const MQTT_DEVICES = 4;
const HTTP_DEVICES = 4;
const PER_ENDPOINT = 12;
/** Kill points per backend (PGlite restarts are slow). */
const ROUNDS: Record<BackendKind, number> = { postgres: 3, pglite: 2 };
const TYPE = 'reboot';

const codeFor = (id: number) => [200, 409, 500][id % 3]!;
const resultFor = (id: number) => ({ id, statusCode: codeFor(id), reasonPhrase: `r${id}`, payload: { done: id } });

describe.each<BackendKind>(['postgres', 'pglite'])('server killed while results arrive (%s)', (kind) => {
  let backend: Backend;
  let server: ServerProcess;
  let endpoints: Endpoint[];
  let mqttDevices: FaultDevice[] = [];

  beforeAll(async () => {
    backend = await openBackend(kind);
    server = backend.server();
    await server.start();
    endpoints = await createEndpoints(server, MQTT_DEVICES + HTTP_DEVICES);
    mqttDevices = endpoints.slice(0, MQTT_DEVICES).map((ep) => new FaultDevice(server.mqttUrl, ep, [TYPE]));
    await Promise.all(mqttDevices.map((d) => d.bound()));
  });

  afterAll(async () => {
    await Promise.all(mqttDevices.map((d) => d.close()));
    await killAllServers();
    await backend?.destroy();
  });

  it(`every acknowledged result is EXECUTED after the crash (${ROUNDS[kind]} kill points)`, async () => {
    const seed = Number(process.env['FAULT_SEED'] ?? Date.now() % 1_000_000);
    const random = rng(seed);
    console.log(`[${kind}] scenario 2 seed ${seed}`);
    /** id → when its acknowledgement was seen, and through which door. */
    const acked = new Map<number, { door: 'mqtt' | 'http'; round: number }>();
    const endpointIds = endpoints.map((e) => e.endpointId);

    for (let round = 0; round < ROUNDS[kind]; round++) {
      // Fresh pending commands for every endpoint.
      const commands = new Map<string, number[]>(endpoints.map((e) => [e.endpointId, []]));
      await pool(endpoints.length * PER_ENDPOINT, 6, async (i) => {
        const ep = endpoints[i % endpoints.length]!;
        const c = await invoke(server, ep.endpointId, TYPE, { i, round });
        commands.get(ep.endpointId)!.push(c.id);
      });
      const total = endpoints.length * PER_ENDPOINT;
      const killAfter = 5 + Math.floor(random() * total * 0.7);
      let acksThisRound = 0;
      let killed = false;
      let killing: Promise<unknown> | undefined;
      const onAck = (id: number, door: 'mqtt' | 'http') => {
        acked.set(id, { door, round });
        if (++acksThisRound === killAfter) {
          killed = true;
          killing = server.kill('SIGKILL');
        }
      };

      // Each device reports its results one batch (1 to 3 results) at a time, in order.
      const report = async (ep: Endpoint, index: number) => {
        const ids = [...commands.get(ep.endpointId)!].sort((a, b) => a - b);
        const device = index < MQTT_DEVICES ? mqttDevices[index]! : undefined;
        for (let i = 0; i < ids.length && !killed; ) {
          const batch = ids.slice(i, i + 1 + Math.floor(random() * 3));
          i += batch.length;
          if (device) {
            const ok = await device.result(TYPE, batch.map(resultFor), 10_000, () => batch.forEach((id) => acked.set(id, { door: 'mqtt', round })));
            if (ok) batch.forEach((id) => onAck(id, 'mqtt'));
          } else {
            const res = await kp1Http(server, ep, 'cex', `result/${TYPE}`, batch.map(resultFor)).catch(() => undefined);
            if (res?.status === 200) batch.forEach((id) => onAck(id, 'http'));
          }
        }
      };
      await Promise.all(endpoints.map((ep, index) => report(ep, index)));
      await killing;
      if (!killed) await server.kill('SIGKILL');
      console.log(`[${kind}] round ${round}: killed after ${acksThisRound} acknowledged results (aim ${killAfter})`);

      const check = async (ids: number[]) => {
        const rows = new Map((await backend.commands(endpointIds, server)).map((c) => [c.id, c]));
        const wrong = ids
          .map((id) => ({ id, row: rows.get(id) }))
          .filter(({ id, row }) => row?.status !== 'EXECUTED' || row.statusCode !== codeFor(id) || JSON.stringify(row.resultPayload) !== JSON.stringify({ done: id }))
          .map(({ id, row }) => ({ id, door: acked.get(id)?.door, status: row?.status, statusCode: row?.statusCode }));
        expect(wrong, 'acknowledged results not stored').toEqual([]);
      };
      const seenBeforeRestart = [...acked.keys()];
      // PostgreSQL: read the database before anything restarts.
      if (backend.kind === 'postgres') await check(seenBeforeRestart);
      await server.start();
      await check(seenBeforeRestart);

      // After the restart the devices report whatever is still unacknowledged (at-least-once).
      const all = [...commands.values()].flat();
      for (let attempt = 0; attempt < 20 && all.some((id) => !acked.has(id)); attempt++) {
        await Promise.all(
          endpoints.map(async (ep, index) => {
            const missing = commands.get(ep.endpointId)!.filter((id) => !acked.has(id));
            if (missing.length === 0) return;
            if (index < MQTT_DEVICES) {
              const device = mqttDevices[index]!;
              if (device.connected && (await device.result(TYPE, missing.map(resultFor)))) missing.forEach((id) => acked.set(id, { door: 'mqtt', round }));
            } else {
              const res = await kp1Http(server, ep, 'cex', `result/${TYPE}`, missing.map(resultFor)).catch(() => undefined);
              if (res?.status === 200) missing.forEach((id) => acked.set(id, { door: 'http', round }));
            }
          }),
        );
        await sleep(250);
      }
      await check(all);
    }
    expect(server.problems()).toEqual([]);
    expect(server.logs.filter((l) => l.msg === 'command executed').length).toBeGreaterThan(0);
  });
});
