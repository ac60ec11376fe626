// Scenario 3: PostgreSQL restarts under load (`pg_ctl restart -m fast`, then `-m immediate`, then
// a longer stop/start outage). The server process stays up; requests made while the database is
// away fail fast with a clear error (GraphQL SERVICE_UNAVAILABLE, kp1 503) instead of hanging; and
// the service recovers by itself within seconds: invocations, device polls, results, pushes to
// MQTT devices (the LISTEN connection came back) and the expiry sweeper.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandById, InvokeCommand } from '../support/documents.ts';
import { createEndpoints, gql, invoke, kp1Http, sleep, waitFor, type Endpoint, type GqlResult } from './support/api.ts';
import { openBackend, type Backend } from './support/backend.ts';
import { FaultDevice } from './support/devices.ts';
import { killAllServers, type ServerProcess } from './support/server.ts';

const TYPE = 'reboot';
/** A request slower than this while the database is away is not failing fast. */
const FAIL_FAST_MS = 3_000;
/** The service must be back this soon after the database is. */
const RECOVERY_MS = 5_000;

interface Op {
  op: 'invoke' | 'poll' | 'result-http' | 'result-mqtt';
  phase: string;
  ms: number;
  ok: boolean;
  /** GraphQL error code, kp1 status, or the network error. */
  outcome: string;
}

describe('PostgreSQL restarted under load', () => {
  let backend: Backend;
  let server: ServerProcess;
  let endpoints: Endpoint[];
  let device: FaultDevice;
  const ops: Op[] = [];
  const acknowledgedInvokes = new Set<number>();
  const acknowledgedResults = new Set<number>();
  const pending: { id: number; ep: Endpoint }[] = [];
  let phase = 'warm-up';
  let loadRunning = false;
  let load: Promise<void> | undefined;

  beforeAll(async () => {
    backend = await openBackend('postgres');
    server = backend.server('cex-a');
    await server.start();
    endpoints = await createEndpoints(server, 3);
    device = new FaultDevice(server.mqttUrl, endpoints[0]!, [TYPE]);
    await device.bound();
  });

  afterAll(async () => {
    loadRunning = false;
    await load;
    await device?.close();
    await killAllServers();
    await backend?.destroy();
  });

  async function one(): Promise<void> {
    const roll = Math.random();
    const started = Date.now();
    const record = (op: Op['op'], ok: boolean, outcome: string) => ops.push({ op, phase, ms: Date.now() - started, ok, outcome });
    const ep = endpoints[1 + Math.floor(Math.random() * 2)]!;
    try {
      if (roll < 0.4) {
        const res = await gql(server, InvokeCommand, { input: { endpointId: ep.endpointId, commandType: TYPE, payload: { phase } } });
        if (res.data?.invokeCommand) {
          const id = Number(res.data.invokeCommand.id);
          acknowledgedInvokes.add(id);
          pending.push({ id, ep });
          record('invoke', true, 'ok');
        } else record('invoke', false, String(res.errors?.[0]?.extensions?.['code'] ?? `http ${res.status}`));
      } else if (roll < 0.7) {
        const res = await kp1Http(server, ep, 'cex', `command/${TYPE}`, {});
        record('poll', res.status === 200, res.status === 200 ? 'ok' : `${res.status} ${res.text}`);
      } else if (roll < 0.9) {
        const c = pending.shift();
        if (!c) return;
        const res = await kp1Http(server, c.ep, 'cex', `result/${TYPE}`, [{ id: c.id, statusCode: 200 }]);
        if (res.status === 200) acknowledgedResults.add(c.id);
        else pending.push(c);
        record('result-http', res.status === 200, res.status === 200 ? 'ok' : `${res.status} ${res.text}`);
      } else {
        // A result over MQTT for a command of the device's own endpoint.
        const c = await invoke(server, endpoints[0]!.endpointId, TYPE, { mqtt: true }).catch(() => undefined);
        if (!c) return;
        acknowledgedInvokes.add(c.id);
        const outcome = await device.resultOutcome(TYPE, [{ id: c.id, statusCode: 200 }], 10_000, () => acknowledgedResults.add(c.id));
        if (outcome === 'acked') acknowledgedResults.add(c.id);
        record('result-mqtt', outcome === 'acked', outcome === 'acked' ? 'ok' : outcome);
      }
    } catch (error) {
      const name = (error as Error).name === 'TimeoutError' ? 'TIMEOUT' : String((error as Error).cause ?? error);
      record(roll < 0.4 ? 'invoke' : roll < 0.7 ? 'poll' : 'result-http', false, name);
    }
  }

  function startLoad(workers = 4): void {
    loadRunning = true;
    load = Promise.all(
      Array.from({ length: workers }, async () => {
        // Bounded: at most 5 minutes of load, however the test goes.
        const until = Date.now() + 300_000;
        while (loadRunning && Date.now() < until) {
          await one();
          await sleep(15);
        }
      }),
    ).then(() => {});
  }

  /** Time until invoke, poll and a push to the MQTT device all work again, with a trace of the attempts. */
  async function recovery(label: string): Promise<{ ms: number; trace: string[] }> {
    const started = Date.now();
    const trace: string[] = [];
    const note = (what: string) => trace.push(`${Date.now() - started} ms: ${what}`);
    await waitFor(
      async () => {
        const since = device.mark;
        const c = await invoke(server, endpoints[0]!.endpointId, TYPE, { probe: label }, 3600, 5_000).catch((e: Error) => {
          note(`invoke failed: ${e.name === 'TimeoutError' ? 'no answer within 5 s' : e.message.slice(0, 120)}`);
          return undefined;
        });
        if (!c) return false;
        acknowledgedInvokes.add(c.id);
        const poll = await kp1Http(server, endpoints[0]!, 'cex', `command/${TYPE}`, {}, 5_000).catch(() => undefined);
        if (poll?.status !== 200) {
          note(`poll failed: ${poll?.status ?? 'no answer within 5 s'}`);
          return false;
        }
        // The push comes through NOTIFY: it proves the LISTEN connection is back.
        const pushed = await waitFor(() => device.ids(since).has(c.id), 1_500).then(
          () => true,
          () => false,
        );
        if (!pushed) note(`command ${c.id} not pushed to the MQTT device within 1.5 s`);
        return pushed;
      },
      RECOVERY_MS + 15_000,
      () => `no recovery after ${label}: ${trace.join('; ')}`,
      100,
    );
    return { ms: Date.now() - started, trace };
  }

  it('stays up, fails fast while the database is away, and recovers by itself', async () => {
    startLoad();
    await sleep(1_500);

    for (const mode of ['fast', 'immediate'] as const) {
      phase = `restart-${mode}`;
      const started = Date.now();
      await backend.pg!.restart(mode);
      const pgBack = Date.now();
      const recovered = await recovery(phase);
      console.log(`pg_ctl restart -m ${mode}: ${pgBack - started} ms; service back ${recovered.ms} ms after PostgreSQL. ${recovered.trace.join('; ')}`);
      expect(server.running, 'the server process is still up').toBe(true);
      expect.soft(recovered.ms, `recovery after restart -m ${mode}: ${recovered.trace.join('; ')}`).toBeLessThan(RECOVERY_MS);
      phase = `after-${mode}`;
      await sleep(1_000);
    }

    // A longer outage, to look at what requests get while the database is gone.
    const expiring = await invoke(server, endpoints[2]!.endpointId, TYPE, { expiring: true }, 1);
    const forMqtt = await invoke(server, endpoints[0]!.endpointId, TYPE, { mqtt: 'outage' });
    acknowledgedInvokes.add(forMqtt.id);
    phase = 'stopped';
    await backend.pg!.stop('fast');
    const outage = Date.now();
    const probes: { what: string; ms: number; result: string }[] = [];
    const probe = async (what: string, request: () => Promise<string>, expected: string) => {
      const t = Date.now();
      const result = await request().catch((e: Error) => (e.name === 'TimeoutError' ? 'no answer within 8 s' : `network error ${e.message}`));
      probes.push({ what, ms: Date.now() - t, result });
      expect.soft(result, what).toBe(expected);
    };
    const codes = (r: GqlResult<unknown>) => JSON.stringify(r.errors?.map((e) => e.extensions?.['code']));
    // A result the server cannot store: no PUBACK, and the connection is dropped (README,
    // Guarantees), so the device sends it again once it is back. Not a connection left hanging.
    await waitFor(() => device.connected, 5_000, () => 'the MQTT device is not connected');
    await probe(
      'mqtt result',
      () => device.resultOutcome(TYPE, [{ id: forMqtt.id, statusCode: 200 }], 8_000, () => acknowledgedResults.add(forMqtt.id)),
      'closed',
    );
    for (let i = 0; i < 3 && (i === 0 || Date.now() - outage < 4_000); i++) {
      await probe(
        'graphql invoke',
        async () => codes(await gql(server, InvokeCommand, { input: { endpointId: endpoints[0]!.endpointId, commandType: TYPE } }, 8_000)),
        '["SERVICE_UNAVAILABLE"]',
      );
      await probe(
        'graphql query',
        // A read that must reach the database (endpoint lookups may be served from a 2 s cache).
        async () => codes(await gql(server, CommandById, { id: String(expiring.id) }, 8_000)),
        '["SERVICE_UNAVAILABLE"]',
      );
      await probe(
        'kp1 poll',
        async () => {
          const p = await kp1Http(server, endpoints[1]!, 'cex', `command/${TYPE}`, {}, 8_000);
          return `${p.status} ${p.json?.statusCode === 503 && typeof p.json?.reasonPhrase === 'string' ? 'kp1 error' : p.text}`;
        },
        '503 kp1 error',
      );
      await probe('healthz', async () => String((await fetch(`${server.url}/healthz`, { signal: AbortSignal.timeout(8_000) })).status), '503');
      await sleep(300);
    }
    console.log('while PostgreSQL is stopped:', JSON.stringify(probes));
    for (const p of probes) expect.soft(p.ms, `${p.what} failed fast`).toBeLessThan(FAIL_FAST_MS);
    await sleep(Math.max(0, 2_500 - (Date.now() - outage)));
    phase = 'restarting';
    await backend.pg!.start();
    const recovered = await recovery('stop/start');
    console.log(`stop/start outage: service back ${recovered.ms} ms after PostgreSQL. ${recovered.trace.join('; ')}`);
    expect.soft(recovered.ms, `recovery after the stop/start outage: ${recovered.trace.join('; ')}`).toBeLessThan(RECOVERY_MS);
    // The sweeper recovered too: the command that came due during the outage expires.
    const sweepStarted = Date.now();
    await waitFor(
      async () => (await backend.commands([endpoints[2]!.endpointId], server)).find((c) => c.id === expiring.id)?.status === 'EXPIRED',
      RECOVERY_MS + 20_000,
      () => 'the command that came due during the outage never expired',
    );
    expect.soft(Date.now() - sweepStarted, 'the expiry sweeper recovered').toBeLessThan(RECOVERY_MS);

    phase = 'done';
    loadRunning = false;
    await load;
    expect(server.running).toBe(true);

    // No hangs: every request settled well within its deadline.
    const slow = ops.filter((o) => o.outcome === 'TIMEOUT' || (o.op !== 'result-mqtt' && o.ms > 8_000));
    expect.soft(slow, 'requests that hung (over 8 s)').toEqual([]);
    // Every failure said clearly why: SERVICE_UNAVAILABLE / 503, or a dropped MQTT connection.
    const unclear = ops.filter(
      (o) =>
        !o.ok &&
        !(o.op === 'invoke' && o.outcome === 'SERVICE_UNAVAILABLE') &&
        !(o.op !== 'invoke' && o.op !== 'result-mqtt' && o.outcome.startsWith('503 ')) &&
        // A result the server cannot store closes the MQTT connection without PUBACK (README,
        // Guarantees); later ones find it reconnecting. Left open without an answer is a hang.
        !(o.op === 'result-mqtt' && (o.outcome === 'closed' || o.outcome === 'offline')),
    );
    expect.soft(unclear, 'failures without a clear error').toEqual([]);
    const failed = ops.filter((o) => !o.ok);
    // The drop itself is required by the 'mqtt result' probe of the outage above: after it, the
    // load's MQTT results may all find the device reconnecting ('offline'), so none is required here.
    console.log('slowest requests:', JSON.stringify([...ops].filter((o) => o.op !== 'result-mqtt').sort((a, b) => b.ms - a.ms).slice(0, 6)));
    const failing = failed.filter((o) => o.op !== 'result-mqtt');
    console.log(
      `load: ${ops.length} requests, ${failed.length} failed; slowest failure ${Math.max(0, ...failing.map((o) => o.ms))} ms;`,
      JSON.stringify(Object.fromEntries(['restart-fast', 'restart-immediate', 'stopped', 'restarting'].map((p) => [p, failed.filter((o) => o.phase === p).length]))),
    );
    const slowFailures = failing.filter((o) => o.ms >= FAIL_FAST_MS).map((o) => `${o.op} in ${o.phase}: ${o.ms} ms`);
    expect.soft(slowFailures, 'failures that were not fast').toEqual([]);

    // Nothing acknowledged was lost, not even across the immediate (crash) restart.
    const rows = new Map((await backend.commands(endpoints.map((e) => e.endpointId), server)).map((c) => [c.id, c]));
    expect([...acknowledgedInvokes].filter((id) => !rows.has(id)), 'acknowledged commands lost').toEqual([]);
    expect([...acknowledgedResults].filter((id) => rows.get(id)?.status !== 'EXECUTED'), 'acknowledged results lost').toEqual([]);
    expect(server.stderr).not.toMatch(/uncaughtException|TypeError/);
  });
});
