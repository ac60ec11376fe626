// Scenario 6: two server processes on one database; commands with a one-second retention get
// their results right around their expiry, through both processes (MQTT on one, HTTP on the
// other), sometimes twice at once. Both expiry sweepers run every 20 ms. Every command ends in
// exactly one outcome, the late-result rule holds every time (a result after expiry lands:
// EXECUTED), duplicates keep one result, and no request fails (no deadlock, no error).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEndpoints, invoke, kp1Http, pool, sleep, waitFor, type Endpoint, type Invoked } from './support/api.ts';
import { openBackend, type Backend } from './support/backend.ts';
import { FaultDevice } from './support/devices.ts';
import { killAllServers, type ServerProcess } from './support/server.ts';
import { Subscriber, untilSubscribed } from './support/ws.ts';

const TYPE = 'reboot';
const PER_ROUND = 60;
const ROUNDS = 2;

describe('expiry racing results, two server processes', () => {
  let backend: Backend;
  let a: ServerProcess;
  let b: ServerProcess;
  let endpoints: Endpoint[];
  let devices: FaultDevice[];
  let subscribers: Subscriber[];

  // Two servers and a PostgreSQL starting on a busy machine can take more than the default minute.
  beforeAll(async () => {
    backend = await openBackend('postgres');
    a = backend.server('cex-a', { EXPIRY_SWEEP_MS: '20' });
    b = backend.server('cex-b', { EXPIRY_SWEEP_MS: '20' });
    await Promise.all([a.start(), b.start()]);
    endpoints = await createEndpoints(a, 4);
    // Endpoints 0 and 1 report over MQTT to A; 2 and 3 over HTTP to B.
    devices = endpoints.slice(0, 2).map((ep) => new FaultDevice(a.mqttUrl, ep, [TYPE]));
    await Promise.all(devices.map((d) => d.bound()));
    subscribers = [new Subscriber(() => a.httpPort), new Subscriber(() => b.httpPort)];
    for (const s of subscribers) {
      s.subscribe();
      await untilSubscribed(s, async () => (await invoke(a, endpoints[3]!.endpointId, 'probe', null)).id);
    }
  }, 240_000);

  afterAll(async () => {
    await Promise.all((subscribers ?? []).map((s) => s.close()));
    await Promise.all((devices ?? []).map((d) => d.close()));
    await killAllServers();
    await backend?.destroy();
  });

  it('settles every command exactly once, by the late-result rule, with no failed request', async () => {
    const all: (Invoked & { results: { code: number; acked: boolean; door: string }[] })[] = [];
    const failures: string[] = [];

    const report = async (c: (typeof all)[number], batch: (typeof all)[number][], door: 'mqtt' | 'http', code: number) => {
      const ep = endpoints.find((e) => e.endpointId === c.endpointId)!;
      // A batch in descending id order: the service must sort its locks itself.
      const body = [...batch].sort((x, y) => y.id - x.id).map((x) => ({ id: x.id, statusCode: code }));
      let acked = false;
      if (door === 'mqtt') {
        acked = await devices.find((d) => d.endpoint === ep)!.result(TYPE, body, 10_000);
        if (!acked) failures.push(`mqtt result ${body.map((x) => x.id)} not acknowledged`);
      } else {
        const res = await kp1Http(b, ep, 'cex', `result/${TYPE}`, body, 10_000).catch((e: Error) => ({ status: 0, text: e.message }));
        acked = res.status === 200;
        if (!acked) failures.push(`http result ${body.map((x) => x.id)}: ${res.status} ${res.text}`);
      }
      for (const x of batch) x.results.push({ code, acked, door });
    };

    for (let round = 0; round < ROUNDS; round++) {
      const timers: Promise<void>[] = [];
      const held = new Map<string, (typeof all)[number]>();
      // Each result is scheduled as soon as its command is invoked: it is sent from 900 ms before
      // to 400 ms after the command's expiry (on a busy machine a request takes up to a few
      // hundred ms, which moves arrivals later). A fifth get no result; now and then two
      // commands are reported in one request.
      const schedule = (group: (typeof all)[number][], mqtt: boolean) => {
        const at = group[0]!.expiresAt.getTime() - 900 + Math.random() * 1300;
        timers.push(
          sleep(Math.max(0, at - Date.now())).then(async () => {
            const code = 200 + Math.floor(Math.random() * 300);
            // A fifth of the MQTT ones are also reported over HTTP to the other process, at once.
            if (mqtt && Math.random() < 0.2) await Promise.all([report(group[0]!, group, 'mqtt', code), report(group[0]!, group, 'http', code + 1)]);
            else await report(group[0]!, group, mqtt ? 'mqtt' : 'http', code);
          }),
        );
      };
      await pool(PER_ROUND, 4, async (i) => {
        const index = i % endpoints.length;
        const ep = endpoints[index]!;
        const c = { ...(await invoke(i % 2 ? a : b, ep.endpointId, TYPE, { round, i }, 1)), results: [] };
        all.push(c);
        const roll = Math.random();
        const waiting = held.get(ep.endpointId);
        if (waiting) {
          held.delete(ep.endpointId);
          schedule([waiting, c], index < 2);
        } else if (roll < 0.2) {
          // no result: it must expire
        } else if (roll < 0.3) {
          held.set(ep.endpointId, c);
        } else {
          schedule([c], index < 2);
        }
      });
      for (const [endpointId, c] of held) schedule([c], endpoints.findIndex((e) => e.endpointId === endpointId) < 2);
      await Promise.all(timers);
    }

    // Everything settles: no command stays PENDING, and both subscribers saw the outcomes.
    const ids = all.map((c) => c.id);
    let rows = new Map<number, Awaited<ReturnType<Backend['commands']>>[number]>();
    await waitFor(
      async () => {
        rows = new Map((await backend.commands(endpoints.map((e) => e.endpointId), a)).map((r) => [r.id, r]));
        return ids.every((id) => rows.get(id)?.status !== 'PENDING');
      },
      10_000,
      () => 'commands still PENDING',
    );
    // Both subscribers have every command's final state, then a command invoked after all of it:
    // events arrive in commit order, so anything published before the marker has arrived too.
    await waitFor(
      () => subscribers.every((s) => ids.every((id) => s.statuses(id).at(-1) === rows.get(id)!.status)),
      20_000,
      () => 'the subscribers did not see every final state',
    );
    const marker = await invoke(a, endpoints[3]!.endpointId, 'marker', null);
    await waitFor(() => subscribers.every((s) => s.statuses(marker.id).length > 0), 10_000, () => 'the marker did not arrive');
    expect(failures, 'result requests that failed').toEqual([]);

    let late = 0;
    let early = 0;
    for (const c of all) {
      const row = rows.get(c.id)!;
      const acked = c.results.filter((r) => r.acked);
      if (acked.length === 0) {
        expect(row.status, `command ${c.id} without a result`).toBe('EXPIRED');
      } else {
        // The late-result rule: a result lands even after expiry.
        expect(row.status, `command ${c.id} with a result`).toBe('EXECUTED');
        expect(acked.map((r) => r.code), `command ${c.id} keeps one of its results`).toContain(row.statusCode);
      }
      for (const s of subscribers) {
        const seq = s.statuses(c.id).join(' ');
        const allowed = acked.length === 0 ? ['PENDING EXPIRED'] : ['PENDING EXECUTED', 'PENDING EXPIRED EXECUTED'];
        expect(allowed, `events of command ${c.id}`).toContain(seq);
        const executed = s.events.find((e) => e.id === c.id && e.status === 'EXECUTED');
        if (executed) expect(executed.statusCode).toBe(row.statusCode);
      }
      if (acked.length > 0) subscribers[0]!.statuses(c.id).includes('EXPIRED') ? late++ : early++;
    }
    console.log(`${all.length} commands: ${early} executed before expiry, ${late} expired then executed (late results), ${all.filter((c) => c.results.length === 0).length} expired; ${all.filter((c) => c.results.length === 2).length} reported twice at once`);
    expect(late, 'the race was exercised (late results)').toBeGreaterThan(0);
    expect(early, 'the race was exercised (results in time)').toBeGreaterThan(0);
    for (const s of subscribers) expect(s.errors).toEqual([]);
    for (const server of [a, b]) {
      expect(server.logs.filter((l) => /deadlock/i.test(JSON.stringify(l)))).toEqual([]);
      expect(server.problems()).toEqual([]);
    }
  });
});
