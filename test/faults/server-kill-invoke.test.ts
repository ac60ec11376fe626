// Scenario 1: the server is SIGKILLed at a random point of a burst of invocations. Every command
// the API acknowledged is in the database after the crash; once the devices reconnect to the
// restarted server, every still-pending command reaches its own device, and no other.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEndpoints, invoke, pool, rng, waitFor, type Endpoint, type Invoked } from './support/api.ts';
import { openBackend, type Backend, type BackendKind } from './support/backend.ts';
import { FaultDevice } from './support/devices.ts';
import { killAllServers, type ServerProcess } from './support/server.ts';

const ENDPOINTS = 8;
const TYPES = ['reboot', 'switch-light'];
const BURST = 150;
const CONCURRENCY = 8;
const ROUNDS = 2;

describe.each<BackendKind>(['postgres', 'pglite'])('server killed during an invoke burst (%s)', (kind) => {
  let backend: Backend;
  let server: ServerProcess;
  let endpoints: Endpoint[];
  let devices: FaultDevice[] = [];

  beforeAll(async () => {
    backend = await openBackend(kind);
    server = backend.server();
    await server.start();
    endpoints = await createEndpoints(server, ENDPOINTS);
    devices = endpoints.map((ep) => new FaultDevice(server.mqttUrl, ep, TYPES));
    await Promise.all(devices.map((d) => d.bound()));
  });

  afterAll(async () => {
    await Promise.all(devices.map((d) => d.close()));
    await killAllServers();
    await backend?.destroy();
  });

  it(`keeps every acknowledged command and delivers every pending one to its own device (${ROUNDS} random kill points)`, async () => {
    const seed = Number(process.env['FAULT_SEED'] ?? Date.now() % 1_000_000);
    const random = rng(seed);
    console.log(`[${kind}] scenario 1 seed ${seed} (FAULT_SEED=${seed} replays it)`);
    const acknowledged = new Map<number, Invoked & { nonce: string }>();

    for (let round = 0; round < ROUNDS; round++) {
      const killAfter = 10 + Math.floor(random() * (BURST * 0.6));
      const extraDelay = Math.floor(random() * 20);
      let acked = 0;
      let killed = false;
      let failed = 0;
      const kill = async () => {
        await new Promise((r) => setTimeout(r, extraDelay));
        killed = true;
        await server.kill('SIGKILL');
      };
      let killing: Promise<void> | undefined;
      await pool(
        BURST,
        CONCURRENCY,
        async (i) => {
          const ep = endpoints[Math.floor(random() * endpoints.length)]!;
          const type = TYPES[i % TYPES.length]!;
          const nonce = `r${round}-${i}`;
          try {
            const c = await invoke(server, ep.endpointId, type, { nonce }, 3600, 10_000);
            // An acknowledgement read after the kill was still an acknowledgement.
            acknowledged.set(c.id, { ...c, nonce });
            if (++acked === killAfter) killing = kill();
          } catch {
            failed++;
          }
        },
        () => killed,
      );
      await killing;
      if (!killed) await server.kill('SIGKILL'); // the burst finished before the kill point
      console.log(`[${kind}] round ${round}: killed after ${acked} acks (+${extraDelay} ms), ${failed} failed`);
      expect(server.exit?.signal).toBe('SIGKILL');

      if (backend.kind === 'postgres') {
        // Straight from the database, before anything restarts.
        const stored = new Map((await backend.commands(endpoints.map((e) => e.endpointId), server)).map((c) => [c.id, c]));
        const missing = [...acknowledged.keys()].filter((id) => !stored.has(id));
        expect(missing, 'acknowledged commands missing after the crash').toEqual([]);
      }

      await server.start();
      const rows = await backend.commands(
        endpoints.map((e) => e.endpointId),
        server,
      );
      const byId = new Map(rows.map((c) => [c.id, c]));
      for (const [id, c] of acknowledged) {
        const row = byId.get(id);
        expect(row, `acknowledged command ${id}`).toBeDefined();
        expect({ endpointId: row!.endpointId, commandType: row!.commandType, payload: row!.payload, status: row!.status }).toEqual({
          endpointId: c.endpointId,
          commandType: c.commandType,
          payload: { nonce: c.nonce },
          status: 'PENDING',
        });
      }

      // The devices reconnect by themselves; each must end up with every pending command of its
      // endpoint (acknowledged or not: a command that committed is a command).
      const now = Date.now();
      const pendingFor = (ep: Endpoint) =>
        rows.filter((c) => c.endpointId === ep.endpointId && c.status === 'PENDING' && c.expiresAt.getTime() > now + 5_000);
      await waitFor(
        () => devices.every((d) => pendingFor(d.endpoint).every((c) => d.ids().has(c.id))),
        30_000,
        () =>
          devices
            .map((d) => `${d.endpoint.token}: missing ${pendingFor(d.endpoint).filter((c) => !d.ids().has(c.id)).map((c) => c.id)}`)
            .join('; '),
        100,
      );

      // None reaches a wrong device: every delivery is on the device's own token, of a command of
      // its own endpoint, with that command's type and payload.
      for (const d of devices) {
        expect(d.topics.filter((t) => !t.includes(`/${d.endpoint.token}/`)), 'messages on other tokens').toEqual([]);
        for (const delivery of d.deliveries) {
          const row = byId.get(delivery.id);
          expect(row, `delivered command ${delivery.id} exists`).toBeDefined();
          expect(
            { endpointId: row!.endpointId, commandType: row!.commandType, payload: row!.payload },
            `delivery of ${delivery.id} to ${d.endpoint.token}`,
          ).toEqual({ endpointId: d.endpoint.endpointId, commandType: delivery.commandType, payload: delivery.payload });
        }
      }
      expect(server.problems()).toEqual([]);
    }
    expect(acknowledged.size).toBeGreaterThan(ROUNDS * 10);
  });
});
