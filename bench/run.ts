// `npm run bench`: measures the service the way users load it and, in the same run, the raw
// limits of the parts it stands on (aedes, PostgreSQL through postgres.js, yoga + graphql-ws,
// node:http), and prints both with their ratio. See bench/README.md.
//
// Everything runs on loopback. The server is `node --import tsx src/main.ts` in its own process
// on a real PostgreSQL (a private one started here when DATABASE_URL is unset) or PGlite with
// --embedded. Load generators run in their own processes (bench/workers/*), driven over IPC.
import { mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import { cpus, totalmem, tmpdir, release } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { now, sleep, until } from './lib/clock.ts';
import { graphql } from './lib/http-client.ts';
import { startPostgres, type PrivatePostgres } from './lib/postgres-server.ts';
import { cpuOf, cpuOfTree, freePort, hardNofile, loadAverage, memoryOf } from './lib/proc.ts';
import { check, formatTable, type Row } from './lib/report.ts';
import { LOAD_LIMITS, startServer, type RunningServer } from './lib/server.ts';
import { merge, round, summarize, type Summary } from './lib/stats.ts';
import { WorkerProcess, stopAll } from './lib/worker.ts';
import type { MemoryFigures } from './lib/memory.ts';
import { summarizeProfile } from './profile.ts';

const HELP = `Usage: npm run bench -- [options]

  --quick                 every scenario, small (CI keeps the bench working)
  --embedded              the server uses PGlite (DATA_DIR in a temp dir) instead of PostgreSQL
  --only=a,b              run only these scenarios: e2e, latency, results, subscriptions, connections, polling
  --skip=a,b              skip these scenarios
  --cpu-prof              write V8 CPU profiles of the server (bench/results/<ts>-prof/) and print its hot spots
  --devices=N             MQTT devices for e2e and latency (default 1000)
  --rate=N[,M…]           commands/s for the latency scenario (default 500,100: the target's rate, then one below saturation)
  --connections=N         devices for the connections scenario (default 19000)
  --results-rate=N        results/s for the results scenario (default 2000)
  --subscribers=N         graphql-ws subscribers (default 1000)
  --subs-rate=N           commands/s on the subscribed endpoint (default 2: 4 events/s × N deliveries)
  --e2e-concurrency=N     requests in flight for single invokes (default 64)
  --pipeline-concurrency=N requests in flight for pipelined invokes (default 8)
  --batch=N               invokeCommand mutations per pipelined request (default 20; the server's alias limit)
  --duration-scale=X      multiply every duration and count (default 1)
  --server-root=DIR       run src/main.ts from another checkout (with its own node_modules), to compare
  --server-node-args="…"  extra node options for the server (e.g. --trace-gc; its output is in the server log)

DATABASE_URL: use that PostgreSQL instead of starting a private one (data is added to it).
`;

const { values: argv } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    embedded: { type: 'boolean', default: false },
    only: { type: 'string' },
    skip: { type: 'string' },
    'cpu-prof': { type: 'boolean', default: false },
    devices: { type: 'string' },
    rate: { type: 'string' },
    connections: { type: 'string' },
    'results-rate': { type: 'string' },
    subscribers: { type: 'string' },
    'subs-rate': { type: 'string' },
    'e2e-concurrency': { type: 'string' },
    'pipeline-concurrency': { type: 'string' },
    batch: { type: 'string' },
    'duration-scale': { type: 'string' },
    'server-root': { type: 'string' },
    'server-node-args': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
  strict: true,
});
if (argv.help) {
  process.stdout.write(HELP);
  process.exit(0);
}

const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number(v));
const quick = argv.quick;
const scale = num(argv['duration-scale'], 1);
const sc = (n: number) => Math.max(1, Math.round(n * scale));

const settings = {
  quick,
  embedded: argv.embedded,
  cpuProf: argv['cpu-prof'],
  durationScale: scale,
  /** Padding in every command payload, so pushes are the size of a small real command. */
  payloadPad: 'x'.repeat(64),
  devices: num(argv.devices, quick ? 50 : 1000),
  deviceWorkers: 2,
  e2e: {
    warmup: sc(quick ? 200 : 2000),
    /** Each measured run stops issuing after this long, whatever its count (slow servers end too). */
    maxMs: sc(quick ? 5000 : 30_000),
    single: { total: sc(quick ? 600 : 15_000), concurrency: num(argv['e2e-concurrency'], quick ? 16 : 64) },
    pipelined: {
      total: sc(quick ? 2000 : 40_000),
      concurrency: num(argv['pipeline-concurrency'], quick ? 4 : 8),
      batch: num(argv.batch, 20),
    },
  },
  /** The first rate is the target's; the next ones show the latency below saturation. */
  latency: { rates: argv.rate ? argv.rate.split(',').map(Number) : quick ? [100] : [500, 100], durationMs: sc(quick ? 2000 : 20_000) },
  results: { rate: num(argv['results-rate'], quick ? 200 : 2000), durationMs: sc(quick ? 2000 : 8000), devices: quick ? 20 : 200 },
  subscriptions: { subscribers: num(argv.subscribers, quick ? 50 : 1000), workers: 2, rate: num(argv['subs-rate'], quick ? 5 : 2), durationMs: sc(quick ? 2000 : 15_000) },
  connections: {
    count: num(argv.connections, quick ? 300 : 19_000),
    workers: quick ? 2 : 4,
    connectConcurrency: quick ? 20 : 100,
    settleMs: quick ? 2000 : 15_000,
    probeRate: quick ? 20 : 50,
    probeMs: sc(quick ? 2000 : 5000),
  },
  polling: { connections: quick ? 8 : 32, durationMs: sc(quick ? 1500 : 5000), endpoints: quick ? 10 : 100, outstanding: 5 },
  raw: { single: sc(quick ? 500 : 10_000), batched: sc(quick ? 2000 : 40_000), batch: 100, concurrency: 10 },
  serverLimits: LOAD_LIMITS,
};

const ALL = ['e2e', 'latency', 'results', 'subscriptions', 'connections', 'polling'] as const;
type Scenario = (typeof ALL)[number];
const only = argv.only ? new Set(argv.only.split(',').map((s) => s.trim())) : undefined;
const skip = new Set((argv.skip ?? '').split(',').map((s) => s.trim()).filter(Boolean));
for (const s of [...(only ?? []), ...skip]) if (!ALL.includes(s as Scenario)) throw new Error(`unknown scenario "${s}" (one of ${ALL.join(', ')})`);
const enabled = (s: Scenario) => (!only || only.has(s)) && !skip.has(s);

// ---- run state -----------------------------------------------------------------------------

const benchDir = fileURLToPath(new URL('.', import.meta.url));
const resultsDir = join(benchDir, 'results');
mkdirSync(resultsDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const runId = randomBytes(3).toString('hex');
const ADMIN_KEY = `bench-admin-${randomBytes(12).toString('hex')}`;
const APP = `bench-${runId}`;
const APP_VERSION = `bench-${runId}-v1`;
const nofile = hardNofile();
const profDir = join(resultsDir, `${stamp}-prof`);
const serverLog = join(resultsDir, `${stamp}-server.log`);

const rows: Row[] = [];
const figures: Record<string, unknown> = {};
const live = new Set<WorkerProcess>();
let server: RunningServer | undefined;
let pg: PrivatePostgres | undefined;
let embeddedDir: string | undefined;
let databaseUrl = argv.embedded ? undefined : process.env['DATABASE_URL'];
let endpoints: { id: string; token: string }[] = [];
let addressCounter = 1;
let janitor: WorkerProcess | undefined;
/** What the server supports for many invokes per request (detected; see pipelineOp). */
let capabilities = { httpBatching: false, invokeCommands: false };

const log = (msg: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function row(r: Omit<Row, 'pass' | 'ratio'> & { ratio?: number }): void {
  const ratio = r.ratio ?? (r.baseline !== undefined && r.baseline !== 0 ? r.value / r.baseline : undefined);
  rows.push({ ...r, ratio, pass: check(r.value, r.target) });
}

/** A fresh source address per fleet worker (127.0.0.2 …): no TIME_WAIT carried between fleets. */
function nextAddress(): string {
  addressCounter++;
  return `127.0.${Math.floor(addressCounter / 250)}.${(addressCounter % 250) + 1}`;
}

async function worker(script: string, name: string, nodeArgs?: string[]): Promise<WorkerProcess> {
  const w = await WorkerProcess.start(script, name, { nofile, nodeArgs });
  live.add(w);
  return w;
}

async function stopWorkers(...ws: (WorkerProcess | undefined)[]): Promise<void> {
  await stopAll(ws);
  for (const w of ws) if (w) live.delete(w);
}

// ---- CPU meters ----------------------------------------------------------------------------

interface Meter {
  stop(ops: number): { wallMs: number; serverCpuPct: number; databaseCpuPct?: number; serverCpuUsPerOp: number; databaseCpuUsPerOp?: number };
}

function meter(pid?: number): Meter {
  const serverPid = pid ?? server?.pid;
  const t0 = now();
  const s0 = serverPid ? cpuOf(serverPid) : 0;
  const d0 = pg ? cpuOfTree(pg.pid) : 0;
  return {
    stop(ops) {
      const wallMs = now() - t0;
      const s = (serverPid ? cpuOf(serverPid) : 0) - s0;
      const d = pg ? cpuOfTree(pg.pid) - d0 : undefined;
      return {
        wallMs: round(wallMs, 1),
        serverCpuPct: round((s / wallMs) * 100, 1),
        databaseCpuPct: d === undefined ? undefined : round((d / wallMs) * 100, 1),
        serverCpuUsPerOp: ops ? round((s * 1000) / ops, 1) : NaN,
        databaseCpuUsPerOp: d === undefined || !ops ? undefined : round((d * 1000) / ops, 1),
      };
    },
  };
}

// ---- fleets of devices ---------------------------------------------------------------------

interface DeviceStats {
  devices: number;
  received: number;
  acked: number;
  ackErrors: number;
  errors: number;
  closedUnexpectedly: number;
  firstReceivedAt: number;
  lastReceivedAt: number;
  lastAckAt: number;
  cpuMs: number;
  recv: number[];
  exec: number[];
}

class Fleet {
  private constructor(
    readonly workers: WorkerProcess[],
    readonly addresses: string[],
  ) {}

  static async start(
    name: string,
    tokens: string[],
    options: { workers: number; port: number; bind: 'observe' | 'optout' | 'subscribe' | 'none'; commandType: string; answer: boolean; concurrency?: number },
  ): Promise<{ fleet: Fleet; connectMs: number; connected: number; failed: number; outstanding: number }> {
    const n = Math.max(1, Math.min(options.workers, tokens.length));
    const workers = await Promise.all(Array.from({ length: n }, (_, i) => worker('devices.ts', `${name}-${i}`)));
    const addresses = workers.map(() => nextAddress());
    const fleet = new Fleet(workers, addresses);
    const started = now();
    const results = await Promise.all(
      workers.map((w, i) =>
        w.call<{ connected: number; failed: number; firstError?: string; outstanding: number }>('connect', {
          host: '127.0.0.1',
          port: options.port,
          appVersion: APP_VERSION,
          tokens: tokens.filter((_, j) => j % n === i),
          clientPrefix: `${name}-${runId}-${i}`,
          localAddresses: [addresses[i]],
          concurrency: options.concurrency ?? 50,
          bind: options.bind,
          commandType: options.commandType,
          answer: options.answer,
        }),
      ),
    );
    const failed = results.reduce((s, r) => s + r.failed, 0);
    if (failed) log(`${name}: ${failed} devices failed to connect: ${results.find((r) => r.firstError)?.firstError}`);
    return {
      fleet,
      connectMs: now() - started,
      connected: results.reduce((s, r) => s + r.connected, 0),
      failed,
      outstanding: results.reduce((s, r) => s + r.outstanding, 0),
    };
  }

  async stats(reset = true): Promise<DeviceStats> {
    const all = await Promise.all(this.workers.map((w) => w.call<DeviceStats>('stats', { reset })));
    return {
      devices: sum(all, 'devices'),
      received: sum(all, 'received'),
      acked: sum(all, 'acked'),
      ackErrors: sum(all, 'ackErrors'),
      errors: sum(all, 'errors'),
      closedUnexpectedly: sum(all, 'closedUnexpectedly'),
      firstReceivedAt: Math.min(...all.map((s) => s.firstReceivedAt || Infinity)),
      lastReceivedAt: Math.max(...all.map((s) => s.lastReceivedAt)),
      lastAckAt: Math.max(...all.map((s) => s.lastAckAt)),
      cpuMs: sum(all, 'cpuMs'),
      recv: merge(all.map((s) => s.recv)),
      exec: merge(all.map((s) => s.exec)),
    };
  }

  async counts(): Promise<{ received: number; acked: number; lastAckAt: number; lastReceivedAt: number; closedUnexpectedly: number }> {
    const all = await Promise.all(this.workers.map((w) => w.call<{ received: number; acked: number; lastAckAt: number; lastReceivedAt: number; closedUnexpectedly: number }>('counts')));
    return {
      received: sum(all, 'received'),
      acked: sum(all, 'acked'),
      lastAckAt: Math.max(...all.map((c) => c.lastAckAt)),
      lastReceivedAt: Math.max(...all.map((c) => c.lastReceivedAt)),
      closedUnexpectedly: sum(all, 'closedUnexpectedly'),
    };
  }

  /** Waits until `field` reaches `target` (or nothing moved for `idleMs`). */
  async waitFor(field: 'acked' | 'received', target: number, timeoutMs: number, idleMs = 10_000): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    let last = -1;
    let lastMove = Date.now();
    for (;;) {
      const c = await this.counts();
      if (c[field] >= target) return c[field];
      if (c[field] !== last) {
        last = c[field];
        lastMove = Date.now();
      }
      if (Date.now() > deadline || Date.now() - lastMove > idleMs) {
        log(`warning: ${field} stopped at ${c[field]} of ${target}`);
        return c[field];
      }
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.call('disconnect').catch(() => {})));
    await stopWorkers(...this.workers);
  }
}

function sum<T>(list: T[], key: keyof T): number {
  return list.reduce((s, x) => s + (Number(x[key]) || 0), 0);
}

// ---- setup ---------------------------------------------------------------------------------

async function startTheServer(label: string): Promise<RunningServer> {
  // Default profile names (CPU.<date>.<time>.<pid>.<tid>.<seq>): tsx's loader thread writes one too.
  const nodeArgs = [
    ...(settings.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${join(profDir, label)}`] : []),
    ...(argv['server-node-args']?.split(/\s+/).filter(Boolean) ?? []),
  ];
  if (settings.cpuProf) mkdirSync(join(profDir, label), { recursive: true });
  const s = await startServer({
    databaseUrl,
    dataDir: embeddedDir,
    adminKey: ADMIN_KEY,
    logFile: serverLog,
    nodeArgs,
    nofile,
    root: argv['server-root'],
    probeFile: join(resultsDir, `${stamp}-${label}-memory.json`),
  });
  await janitor?.call('register', { key: 'server', item: { kind: 'process', pid: s.pid } });
  log(`server ${label} up: pid ${s.pid}, http ${s.httpPort}, mqtt ${s.mqttPort}, RSS ${memoryOf(s.pid).rssMiB} MiB`);
  return s;
}

async function setupData(count: number): Promise<void> {
  const url = `${server!.url}/graphql`;
  await graphql(url, ADMIN_KEY, `mutation($n: String!) { createApplication(name: $n) { id } }`, { n: APP });
  await graphql(url, ADMIN_KEY, `mutation($a: String!, $n: String!) { createApplicationVersion(applicationName: $a, name: $n) { id } }`, {
    a: APP,
    n: APP_VERSION,
  });
  const started = now();
  const tokens = Array.from({ length: count }, (_, i) => `d${runId}x${i}`);
  const created: { id: string; token: string }[] = new Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const from = next;
      const batch = tokens.slice(from, from + 20);
      next += batch.length;
      const fields = batch.map((t, i) => `e${i}: createEndpoint(applicationVersion: "${APP_VERSION}", token: "${t}") { endpoint { id } }`).join(' ');
      const data = await graphql<Record<string, { endpoint: { id: string } }>>(url, ADMIN_KEY, `mutation { ${fields} }`);
      batch.forEach((t, i) => (created[from + i] = { id: data[`e${i}`]!.endpoint.id, token: t }));
    }
  };
  // Each createEndpoint commits on its own (20 per request run one after another): many lanes let PostgreSQL group the commits.
  await Promise.all(Array.from({ length: 16 }, lane));
  endpoints = created;
  log(`created ${count} endpoints in ${((now() - started) / 1000).toFixed(1)} s`);
}

/**
 * How the server can take many invokes in one request, best first: an `invokeCommands(inputs:)`
 * mutation (one service call), GraphQL-over-HTTP batching (yoga `batching`: the operations of
 * one request run concurrently), or aliases (always there; GraphQL runs them one by one).
 */
async function detectCapabilities(): Promise<void> {
  const url = `${server!.url}/graphql`;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify([{ query: 'mutation { __typename }' }, { query: 'mutation { __typename }' }]),
  });
  const body = await res.json().catch(() => null);
  const fields = await graphql<{ __type: { fields: { name: string }[] } }>(url, ADMIN_KEY, '{ __type(name: "Mutation") { fields { name } } }');
  capabilities = { httpBatching: res.ok && Array.isArray(body), invokeCommands: fields.__type.fields.some((f) => f.name === 'invokeCommands') };
}

function pipelineOps(): { invoke: 'invoke' | 'invoke-many' | 'invoke-http-batch'; noop: 'noop' | 'noop-http-batch'; label: string } {
  if (capabilities.invokeCommands) return { invoke: 'invoke-many', noop: 'noop', label: 'invokeCommands(inputs)' };
  if (capabilities.httpBatching) return { invoke: 'invoke-http-batch', noop: 'noop-http-batch', label: 'HTTP batch' };
  return { invoke: 'invoke', noop: 'noop', label: 'aliases' };
}

// ---- scenario 1 + baselines: end-to-end rate -----------------------------------------------

interface InvokeResult {
  startedAt: number;
  endedAt: number;
  requests: number;
  ops: number;
  errors: number;
  firstError?: string;
  opsPerSec: number;
  requestsPerSec: number;
  latency: number[];
  cpuMs: number;
  lag?: number[];
  maxInFlight?: number;
  planned?: number;
}

async function invokerFor(port: number, endpointIds: string[], commandType: string, maxSockets = 128): Promise<WorkerProcess> {
  const w = await worker('invoker.ts', `invoker-${commandType}`);
  await w.call('init', { host: '127.0.0.1', port, key: ADMIN_KEY, endpointIds, commandType, pad: settings.payloadPad, maxSockets });
  return w;
}

function checkInvoke(name: string, r: InvokeResult): void {
  if (r.errors) log(`${name}: ${r.errors} failed requests, first: ${r.firstError}`);
}

async function scenarioE2E(): Promise<void> {
  log(`e2e: ${settings.devices} devices over MQTT`);
  const fleetIds = endpoints.slice(0, settings.devices);
  const { fleet, connectMs, connected } = await Fleet.start('e2e', fleetIds.map((e) => e.token), {
    workers: settings.deviceWorkers,
    port: server!.mqttPort,
    bind: 'observe',
    commandType: 'bench',
    answer: true,
  });
  log(`e2e: ${connected} devices observing in ${(connectMs / 1000).toFixed(1)} s`);
  const invoker = await invokerFor(server!.httpPort, fleetIds.map((e) => e.id), 'bench');
  const out: Record<string, unknown> = { devices: connected, connectMs: round(connectMs, 0) };
  try {
    // Warm-up (JIT, pools, caches): not measured.
    await invoker.call('closed', { op: 'invoke', total: settings.e2e.warmup, batch: 1, concurrency: 16 });
    await invoker.call('closed', { op: 'noop', total: settings.e2e.warmup, batch: 1, concurrency: 16 });
    await fleet.waitFor('acked', settings.e2e.warmup, 60_000);

    const pipe = pipelineOps();
    out['pipelineMode'] = pipe.label;
    for (const mode of ['single', 'pipelined'] as const) {
      const p = settings.e2e[mode];
      const batch = mode === 'single' ? 1 : settings.e2e.pipelined.batch;
      const ops = mode === 'single' ? { invoke: 'invoke', noop: 'noop' } : pipe;
      // The no-op mutation on the same server, same concurrency and batching.
      let m = meter();
      const noop = await invoker.call<InvokeResult>('closed', { op: ops.noop, total: p.total, batch, concurrency: p.concurrency, maxMs: settings.e2e.maxMs });
      const noopCpu = m.stop(noop.ops);
      checkInvoke(`noop ${mode}`, noop);

      await fleet.stats(true);
      m = meter();
      const inv = await invoker.call<InvokeResult>('closed', { op: ops.invoke, total: p.total, batch, concurrency: p.concurrency, maxMs: settings.e2e.maxMs });
      checkInvoke(`invoke ${mode}`, inv);
      const acked = await fleet.waitFor('acked', inv.ops, 300_000);
      const cpu = m.stop(inv.ops);
      const st = await fleet.stats(true);
      const e2eSeconds = (st.lastAckAt - inv.startedAt) / 1000;
      const rate = acked / e2eSeconds;
      out[mode] = {
        concurrency: p.concurrency,
        batch,
        commands: inv.ops,
        executed: acked,
        invokeErrors: inv.errors,
        commandsPerSec: round(rate, 1),
        invokesPerSec: round(inv.opsPerSec, 1),
        requestLatencyMs: summarize(inv.latency),
        invokeToExecutedMs: summarize(st.exec),
        invokeToDeviceMs: summarize(st.recv),
        cpu,
        invokerCpuMs: round(inv.cpuMs, 0),
        devicesCpuMs: round(st.cpuMs, 0),
        noop: { opsPerSec: round(noop.opsPerSec, 1), requestLatencyMs: summarize(noop.latency), errors: noop.errors, cpu: noopCpu },
      };
      log(
        `e2e ${mode}: ${rate.toFixed(0)} commands/s invoke→EXECUTED (invokes ${inv.opsPerSec.toFixed(0)}/s), no-op ${noop.opsPerSec.toFixed(0)}/s; server CPU ${cpu.serverCpuPct}%, db ${cpu.databaseCpuPct ?? '-'}%`,
      );
      row({
        scenario: '1 e2e',
        metric: mode === 'single' ? 'single invokes: cmd/s invoke→EXECUTED' : `pipelined (${batch}/request, ${pipe.label}): cmd/s`,
        value: rate,
        unit: '/s',
        target: mode === 'single' ? undefined : '≥ 5000',
        baselineName: `no-op mutation${batch > 1 ? ` ×${batch}` : ''}`,
        baseline: noop.opsPerSec,
      });
      if (mode === 'single') {
        const ratio = rate / noop.opsPerSec;
        rows.push({
          scenario: '1 e2e',
          metric: 'single invokes vs no-op mutation',
          value: ratio,
          unit: '%',
          target: '≥ 0.5',
          pass: ratio >= 0.5,
        });
      }
    }
  } finally {
    await stopWorkers(invoker);
  }

  // Baselines on the same machine, same run: the tiny yoga server's no-op, raw postgres.js, bare aedes relay.
  figures['e2e'] = out;
  await fleet.stop();
  await baselineTinyGraphQL(out);
  await baselineRawPostgres(out);
  await baselineAedesRelay(out);
}

async function baselineTinyGraphQL(out: Record<string, any>): Promise<void> {
  const srv = await worker('tiny-graphql.ts', 'tiny-graphql');
  try {
    const { port, pid } = await srv.call<{ port: number; pid: number }>('start', { host: '127.0.0.1', port: await freePort(), adminKey: ADMIN_KEY });
    const invoker = await invokerFor(port, endpoints.slice(0, settings.devices).map((e) => e.id), 'bench');
    try {
      await invoker.call('closed', { op: 'noop-input', total: settings.e2e.warmup, batch: 1, concurrency: 16 });
      const res: Record<string, unknown> = {};
      for (const mode of ['single', 'pipelined'] as const) {
        const p = settings.e2e[mode];
        const batch = mode === 'single' ? 1 : settings.e2e.pipelined.batch;
        const m = meter(pid);
        const r = await invoker.call<InvokeResult>('closed', { op: 'noop-input', total: p.total, batch, concurrency: p.concurrency, maxMs: settings.e2e.maxMs });
        checkInvoke('tiny noop', r);
        res[mode] = { opsPerSec: round(r.opsPerSec, 1), requestLatencyMs: summarize(r.latency), cpu: m.stop(r.ops) };
        row({ scenario: '7 baseline', metric: `tiny yoga+Pothos noop(input) ${mode === 'single' ? 'single' : `×${batch}`}`, value: r.opsPerSec, unit: '/s' });
      }
      out['tinyGraphQLNoop'] = res;
    } finally {
      await stopWorkers(invoker);
    }
  } finally {
    await stopWorkers(srv);
  }
}

async function baselineRawPostgres(out: Record<string, any>): Promise<void> {
  const w = await worker('pg-raw.ts', 'pg-raw');
  try {
    const info = await w.call<{ serverVersion: string }>('init', {
      url: databaseUrl,
      pool: settings.raw.concurrency,
      endpointIds: databaseUrl ? endpoints.slice(0, settings.devices).map((e) => e.id) : undefined,
      endpoints: settings.devices,
    });
    figures['postgresVersion'] = info.serverVersion;
    const res: Record<string, unknown> = {};
    for (const variant of ['single', 'single-unprepared', 'single-tx-notify', 'batched'] as const) {
      const total = variant === 'batched' ? settings.raw.batched : settings.raw.single;
      const m = meter();
      const r = await w.call<{ rows: number; rowsPerSec: number; insertLatency: number[]; updateLatency: number[]; cpuMs: number }>('run', {
        variant,
        total,
        concurrency: settings.raw.concurrency,
        batch: settings.raw.batch,
        pad: settings.payloadPad,
      });
      res[variant] = {
        rows: r.rows,
        rowsPerSec: round(r.rowsPerSec, 1),
        insertMs: summarize(r.insertLatency),
        updateMs: summarize(r.updateLatency),
        cpu: m.stop(r.rows),
      };
      log(`raw postgres ${variant}: ${r.rowsPerSec.toFixed(0)} insert+update/s`);
    }
    await w.call('cleanup');
    out['rawPostgres'] = res;
    const e2e = out as { single?: { commandsPerSec: number }; pipelined?: { commandsPerSec: number } };
    const raw = res as Record<string, { rowsPerSec: number }>;
    row({ scenario: '7 baseline', metric: 'raw postgres.js insert+update, single (prepared)', value: raw['single']!.rowsPerSec, unit: '/s' });
    row({ scenario: '7 baseline', metric: 'raw … single, unprepared (as drizzle sends)', value: raw['single-unprepared']!.rowsPerSec, unit: '/s' });
    row({ scenario: '7 baseline', metric: 'raw … single, tx + pg_notify (as the service)', value: raw['single-tx-notify']!.rowsPerSec, unit: '/s' });
    row({ scenario: '7 baseline', metric: `raw … batched (${settings.raw.batch} rows/statement)`, value: raw['batched']!.rowsPerSec, unit: '/s' });
    if (e2e.single) row({ scenario: '1 e2e', metric: 'single invokes vs raw single insert+update', value: e2e.single.commandsPerSec, unit: '/s', baselineName: 'raw pg single', baseline: raw['single']!.rowsPerSec });
    if (e2e.pipelined) row({ scenario: '1 e2e', metric: 'pipelined vs raw batched insert+update', value: e2e.pipelined.commandsPerSec, unit: '/s', baselineName: 'raw pg batched', baseline: raw['batched']!.rowsPerSec });
  } finally {
    await stopWorkers(w);
  }
}

async function startBareAedes(): Promise<{ worker: WorkerProcess; port: number; pid: number }> {
  // --expose-gc only lets the bench ask for a full GC before reading memory (as for the server).
  const w = await worker('bare-aedes.ts', 'bare-aedes', ['--expose-gc']);
  const { port, pid } = await w.call<{ port: number; pid: number }>('start', { host: '127.0.0.1', port: await freePort() });
  return { worker: w, port, pid };
}

async function baselineAedesRelay(out: Record<string, any>): Promise<void> {
  const broker = await startBareAedes();
  const tokens = endpoints.slice(0, settings.devices).map((e) => e.token);
  const { fleet } = await Fleet.start('relay-sub', tokens, { workers: settings.deviceWorkers, port: broker.port, bind: 'subscribe', commandType: 'bench', answer: false });
  const pub = await worker('devices.ts', 'relay-pub');
  try {
    const topics = tokens.map((t) => `kp1/${APP_VERSION}/cex/${t}/command/bench/status`);
    const total = (out as { pipelined?: { executed: number } }).pipelined?.executed || settings.e2e.pipelined.total;
    await pub.call('relayPublish', { host: '127.0.0.1', port: broker.port, localAddress: nextAddress(), topics, total: settings.e2e.warmup, window: 100, pad: settings.payloadPad });
    await fleet.waitFor('received', settings.e2e.warmup, 30_000);
    await fleet.stats(true);
    const m = meter(broker.pid);
    const r = await pub.call<{ startedAt: number; endedAt: number; acked: number }>('relayPublish', {
      host: '127.0.0.1',
      port: broker.port,
      localAddress: nextAddress(),
      topics,
      total,
      window: 100,
      pad: settings.payloadPad,
    });
    const got = await fleet.waitFor('received', total, 120_000);
    const cpu = m.stop(total);
    const st = await fleet.stats(true);
    const rate = got / ((st.lastReceivedAt - r.startedAt) / 1000);
    out['aedesRelay'] = { messages: total, received: got, messagesPerSec: round(rate, 1), publishToReceiptMs: summarize(st.recv), cpu };
    log(`bare aedes relay: ${rate.toFixed(0)} msg/s (QoS 1, ${settings.devices} subscribers)`);
    row({ scenario: '7 baseline', metric: `bare aedes relay, QoS 1, ${settings.devices} subscribers`, value: rate, unit: '/s' });
    const e2e = out as { pipelined?: { commandsPerSec: number } };
    if (e2e.pipelined) row({ scenario: '1 e2e', metric: 'pipelined vs bare aedes relay', value: e2e.pipelined.commandsPerSec, unit: '/s', baselineName: 'aedes relay', baseline: rate });
  } finally {
    await stopWorkers(pub);
    await fleet.stop();
    await stopWorkers(broker.worker);
  }
}

// ---- scenario 2: latency at a fixed rate ---------------------------------------------------

const SUBSCRIPTION = 'subscription S($e: ID) { commandStatusChanged(endpointId: $e) { id status payload } }';

async function scenarioLatency(): Promise<void> {
  const byRate: Record<string, unknown> = {};
  figures['latency'] = byRate;
  for (const rate of settings.latency.rates) byRate[String(rate)] = await latencyAt(rate);
}

async function latencyAt(rate: number): Promise<Record<string, unknown>> {
  const { durationMs } = settings.latency;
  log(`latency: ${rate} commands/s for ${durationMs / 1000} s, ${settings.devices} devices, 1 operator subscription`);
  const fleetIds = endpoints.slice(0, settings.devices);
  const { fleet } = await Fleet.start('lat', fleetIds.map((e) => e.token), {
    workers: settings.deviceWorkers,
    port: server!.mqttPort,
    bind: 'observe',
    commandType: 'bench',
    answer: true,
  });
  const subs = await worker('subscriber.ts', 'lat-operator');
  const invoker = await invokerFor(server!.httpPort, fleetIds.map((e) => e.id), 'bench');
  const out: Record<string, unknown> = { rate, durationMs, devices: settings.devices };
  try {
    await subs.call('connect', { url: `ws://127.0.0.1:${server!.httpPort}/graphql`, key: ADMIN_KEY, count: 1, query: SUBSCRIPTION, variables: {}, field: 'commandStatusChanged', concurrency: 1 });
    // Warm-up at the same rate, and proof that the subscription is live.
    const warm = await invoker.call<InvokeResult>('open', { op: 'invoke', rate, durationMs: Math.min(2000, durationMs), batch: 1 });
    await subs.call('waitFor', { status: 'EXECUTED', atLeast: warm.ops, timeoutMs: 60_000 });
    await fleet.waitFor('acked', warm.ops, 60_000);
    await fleet.stats(true);
    await subs.call('stats', { reset: true });
    const m = meter();
    const inv = await invoker.call<InvokeResult>('open', { op: 'invoke', rate, durationMs, batch: 1 });
    checkInvoke('latency invoke', inv);
    await fleet.waitFor('acked', inv.ops, 120_000);
    await subs.call('waitFor', { status: 'EXECUTED', atLeast: inv.ops, timeoutMs: 60_000 }).catch((e) => log(String(e)));
    const cpu = m.stop(inv.ops);
    const st = await fleet.stats(true);
    const sub = await subs.call<{ latency: Record<string, number[]>; counts: Record<string, number> }>('stats', { reset: true });
    const device = summarize(st.recv);
    const executed = summarize(sub.latency['EXECUTED'] ?? []);
    // Results stored per second over the run: below the offered rate, the server is saturated and the latencies are queueing.
    const executedRate = st.acked / ((st.lastAckAt - inv.startedAt) / 1000);
    const saturated = executedRate < rate * 0.95;
    if (saturated) log(`latency: saturated — ${executedRate.toFixed(0)} commands/s executed of ${rate}/s offered`);
    Object.assign(out, {
      executedRate: round(executedRate, 1),
      saturated,
      commands: inv.ops,
      invokeErrors: inv.errors,
      achievedRate: round(inv.opsPerSec, 1),
      invokeSendLagMs: summarize(inv.lag ?? []),
      mutationRoundTripMs: summarize(inv.latency),
      invokeToDeviceMs: device,
      invokeToOperatorPendingMs: summarize(sub.latency['PENDING'] ?? []),
      invokeToOperatorExecutedMs: executed,
      invokeToResultStoredMs: summarize(st.exec),
      cpu,
    });
    log(`latency: device p50 ${device.p50} p99 ${device.p99} max ${device.max} ms; EXECUTED seen p50 ${executed.p50} p99 ${executed.p99} ms`);
    row({ scenario: `2 latency @${rate}/s`, metric: 'executed rate (saturated when below offered)', value: executedRate, unit: '/s', target: `≥ ${Math.floor(rate * 0.95)}` });
    for (const [name, s] of [
      ['invoke→device receipt', device],
      ['invoke→operator sees EXECUTED', executed],
    ] as const) {
      row({ scenario: `2 latency @${rate}/s`, metric: `${name} p50`, value: s.p50, unit: 'ms', target: '≤ 5' });
      row({ scenario: `2 latency @${rate}/s`, metric: `${name} p90`, value: s.p90, unit: 'ms' });
      row({ scenario: `2 latency @${rate}/s`, metric: `${name} p99`, value: s.p99, unit: 'ms', target: '≤ 25' });
      row({ scenario: `2 latency @${rate}/s`, metric: `${name} max`, value: s.max, unit: 'ms' });
    }
  } finally {
    await stopWorkers(invoker, subs);
    await fleet.stop();
  }
  // Baseline: the bare broker relaying the same messages at the same rate to as many subscribers.
  const broker = await startBareAedes();
  const tokens = fleetIds.map((e) => e.token);
  const { fleet: subsFleet } = await Fleet.start('lat-relay', tokens, { workers: settings.deviceWorkers, port: broker.port, bind: 'subscribe', commandType: 'bench', answer: false });
  const pub = await worker('devices.ts', 'lat-relay-pub');
  try {
    const topics = tokens.map((t) => `kp1/${APP_VERSION}/cex/${t}/command/bench/status`);
    const total = Math.floor((rate * durationMs) / 1000);
    await pub.call('relayPublish', { host: '127.0.0.1', port: broker.port, localAddress: nextAddress(), topics, total, rate, pad: settings.payloadPad });
    await subsFleet.waitFor('received', total, 60_000);
    const st = await subsFleet.stats(true);
    const relay = summarize(st.recv);
    out['aedesRelayAtRateMs'] = relay;
    const device = out['invokeToDeviceMs'] as Summary | undefined;
    if (device) {
      row({ scenario: `2 latency @${rate}/s`, metric: 'invoke→device p50 vs bare relay', value: device.p50, unit: 'ms', baselineName: 'aedes relay', baseline: relay.p50 });
      row({ scenario: `2 latency @${rate}/s`, metric: 'invoke→device p99 vs bare relay', value: device.p99, unit: 'ms', baselineName: 'aedes relay', baseline: relay.p99 });
    }
  } finally {
    await stopWorkers(pub);
    await subsFleet.stop();
    await stopWorkers(broker.worker);
  }
  return out;
}

// ---- scenario 4: results over MQTT QoS 1 ---------------------------------------------------

async function scenarioResults(): Promise<void> {
  const { rate, durationMs, devices } = settings.results;
  const total = Math.floor((rate * durationMs) / 1000);
  const warm = Math.min(total, rate);
  log(`results: ${total} results at ${rate}/s over MQTT QoS 1 from ${devices} devices`);
  const ids = endpoints.slice(0, devices);
  const out: Record<string, unknown> = { rate, durationMs, devices };
  // The commands to report on: invoked beforehand (pipelined), nobody observing them.
  const invoker = await invokerFor(server!.httpPort, ids.map((e) => e.id), 'res');
  const setupStarted = now();
  const inv = await invoker.call<InvokeResult>('closed', { op: pipelineOps().invoke, total: total + warm, batch: 20, concurrency: 16, maxMs: sc(quick ? 20_000 : 180_000) });
  checkInvoke('results setup', inv);
  log(`results: ${inv.ops} commands to report on, invoked in ${((now() - setupStarted) / 1000).toFixed(1)} s`);
  await stopWorkers(invoker);
  // Bound with {"observe": false}: the reply lists each device's outstanding ids, nothing is pushed.
  const { fleet, outstanding } = await Fleet.start('res', ids.map((e) => e.token), {
    workers: settings.deviceWorkers,
    port: server!.mqttPort,
    bind: 'optout',
    commandType: 'res',
    answer: false,
  });
  try {
    if (outstanding < total + warm) log(`results: only ${outstanding} outstanding commands (wanted ${total + warm})`);
    type SendResult = { planned: number; sent: number; failed: number; achievedRate: number; lag: number[]; latency: number[] };
    const perWorker = (r: number) => r / fleet.workers.length;
    // Warm-up: the first `warm` results (each device's first ids).
    await Promise.all(fleet.workers.map((w) => w.call<SendResult>('sendResults', { rate: perWorker(rate), durationMs: (Math.min(warm, outstanding / 4) / rate) * 1000, commandType: 'res' })));
    await fleet.stop();
    // The fleet's ids lists restart from the beginning on reconnect; reconnecting re-reads what is still outstanding.
    const again = await Fleet.start('res2', ids.map((e) => e.token), { workers: settings.deviceWorkers, port: server!.mqttPort, bind: 'optout', commandType: 'res', answer: false });
    const m = meter();
    const results = await Promise.all(again.fleet.workers.map((w) => w.call<SendResult>('sendResults', { rate: perWorker(rate), durationMs, commandType: 'res' })));
    const sent = sum(results, 'sent');
    const cpu = m.stop(sent);
    await again.fleet.stop();
    const ack = summarize(merge(results.map((r) => r.latency)));
    Object.assign(out, {
      results: sent,
      failed: sum(results, 'failed'),
      achievedRate: round(sum(results, 'achievedRate'), 1),
      sendLagMs: summarize(merge(results.map((r) => r.lag))),
      publishToPubackMs: ack,
      cpu,
    });
    log(`results: PUBLISH→PUBACK p50 ${ack.p50} p99 ${ack.p99} max ${ack.max} ms at ${sum(results, 'achievedRate').toFixed(0)}/s`);
  } finally {
    await fleet.stop();
  }
  // Baseline: the same publishes to a bare aedes (PUBACK without any storage).
  const broker = await startBareAedes();
  const { fleet: bare } = await Fleet.start('res-bare', ids.map((e) => e.token), { workers: settings.deviceWorkers, port: broker.port, bind: 'none', commandType: 'res', answer: false });
  try {
    type SendResult = { latency: number[] };
    const results = await Promise.all(bare.workers.map((w) => w.call<SendResult>('sendResults', { rate: rate / bare.workers.length, durationMs, commandType: 'res', synthetic: true })));
    const base = summarize(merge(results.map((r) => r.latency)));
    out['bareAedesPubackMs'] = base;
    const ack = out['publishToPubackMs'] as Summary | undefined;
    if (ack) {
      row({ scenario: `4 results @${rate}/s`, metric: 'result stored→PUBACK p50', value: ack.p50, unit: 'ms', baselineName: 'bare aedes PUBACK', baseline: base.p50 });
      row({ scenario: `4 results @${rate}/s`, metric: 'result stored→PUBACK p99', value: ack.p99, unit: 'ms', target: '≤ 20', baselineName: 'bare aedes PUBACK', baseline: base.p99 });
    }
  } finally {
    await bare.stop();
    await stopWorkers(broker.worker);
  }
  figures['results'] = out;
}

// ---- scenario 6: subscription fan-out ------------------------------------------------------

type SubStats = { counts: Record<string, number>; errors: number; firstError?: string; latency: Record<string, number[]>; spread: [string, [number, number]][]; cpuMs: number };

async function fanOut(
  label: string,
  httpPort: number,
  endpointId: string,
  op: 'invoke' | 'noop-input',
  device?: { token: string; mqttPort: number },
): Promise<{ pending: Summary; executed?: Summary; spreadMs: Summary; events: number; connectMs: number; errors: number }> {
  const { subscribers, workers, rate, durationMs } = settings.subscriptions;
  const subs = await Promise.all(Array.from({ length: workers }, (_, i) => worker('subscriber.ts', `${label}-sub-${i}`)));
  const deviceFleet = device
    ? (await Fleet.start(`${label}-dev`, [device.token], { workers: 1, port: device.mqttPort, bind: 'observe', commandType: 'bench', answer: true })).fleet
    : undefined;
  const invoker = await invokerFor(httpPort, [endpointId], 'bench');
  try {
    const started = now();
    const per = Math.ceil(subscribers / workers);
    const conn = await Promise.all(
      subs.map((s, i) =>
        s.call<{ connected: number; errors: number; firstError?: string }>('connect', {
          url: `ws://127.0.0.1:${httpPort}/graphql`,
          key: ADMIN_KEY,
          count: Math.min(per, subscribers - i * per),
          query: SUBSCRIPTION,
          variables: { e: endpointId },
          field: 'commandStatusChanged',
          concurrency: 20,
        }),
      ),
    );
    const connectMs = now() - started;
    const connected = sum(conn, 'connected');
    if (connected < subscribers) log(`${label}: only ${connected} of ${subscribers} subscribers connected: ${conn.find((c) => c.firstError)?.firstError}`);
    // graphql-ws has no "subscribed" acknowledgement: one probe event proves every subscription is live.
    await invoker.call('closed', { op, total: 1, batch: 1, concurrency: 1 });
    await Promise.all(subs.map((s, i) => s.call('waitFor', { status: 'PENDING', atLeast: 1, timeoutMs: 60_000 }).catch((e) => log(`${label} sub ${i}: ${e}`))));
    if (deviceFleet) await deviceFleet.waitFor('acked', 1, 30_000);
    await sleep(200);
    await Promise.all(subs.map((s) => s.call('stats', { reset: true })));
    const inv = await invoker.call<InvokeResult>('open', { op, rate, durationMs, batch: 1 });
    checkInvoke(`${label} invoke`, inv);
    const want = (inv.ops * connected) / workers;
    await Promise.all(subs.map((s) => s.call('waitFor', { status: device ? 'EXECUTED' : 'PENDING', atLeast: Math.floor(want * 0.999), timeoutMs: 60_000 }).catch((e) => log(`${label}: ${e}`))));
    await sleep(300);
    const st = await Promise.all(subs.map((s) => s.call<SubStats>('stats', { reset: true })));
    // Fan-out spread: first to last delivery of each event, across processes.
    const spans = new Map<string, [number, number]>();
    for (const s of st) for (const [k, [a, b]] of s.spread) {
      const x = spans.get(k);
      spans.set(k, x ? [Math.min(x[0], a), Math.max(x[1], b)] : [a, b]);
    }
    const errors = sum(st, 'errors');
    if (errors) log(`${label}: ${errors} subscriber errors: ${st.find((s) => s.firstError)?.firstError}`);
    return {
      pending: summarize(merge(st.map((s) => s.latency['PENDING'] ?? []))),
      executed: device ? summarize(merge(st.map((s) => s.latency['EXECUTED'] ?? []))) : undefined,
      spreadMs: summarize([...spans.values()].map(([a, b]) => b - a)),
      events: st.reduce((n, s) => n + Object.values(s.counts).reduce((a, b) => a + b, 0), 0),
      connectMs: round(connectMs, 0),
      errors,
    };
  } finally {
    await Promise.all(subs.map((s) => s.call('disconnect').catch(() => {})));
    await stopWorkers(invoker, ...subs);
    await deviceFleet?.stop();
  }
}

async function scenarioSubscriptions(): Promise<void> {
  const { subscribers, rate, durationMs } = settings.subscriptions;
  log(`subscriptions: ${subscribers} graphql-ws subscribers on one endpoint, ${rate} commands/s for ${durationMs / 1000} s`);
  const target = endpoints[0]!;
  const m = meter();
  const real = await fanOut('subs', server!.httpPort, target.id, 'invoke', { token: target.token, mqttPort: server!.mqttPort });
  const cpu = m.stop(real.events);
  log(`subscriptions: PENDING p50 ${real.pending.p50} p99 ${real.pending.p99}; EXECUTED p99 ${real.executed?.p99} ms`);
  const srv = await worker('tiny-graphql.ts', 'tiny-graphql-ws');
  let base: Awaited<ReturnType<typeof fanOut>> | undefined;
  try {
    const { port } = await srv.call<{ port: number }>('start', { host: '127.0.0.1', port: await freePort(), adminKey: ADMIN_KEY });
    base = await fanOut('subs-bare', port, target.id, 'noop-input');
  } finally {
    await stopWorkers(srv);
  }
  figures['subscriptions'] = { subscribers, rate, durationMs, service: { ...real, cpu }, tinyServer: base };
  const sc = `6 subscriptions ×${subscribers}`;
  row({ scenario: sc, metric: 'invoke→PENDING delivered p50', value: real.pending.p50, unit: 'ms', baselineName: 'tiny graphql-ws', baseline: base?.pending.p50 });
  row({ scenario: sc, metric: 'invoke→PENDING delivered p99', value: real.pending.p99, unit: 'ms', target: '≤ 100', baselineName: 'tiny graphql-ws', baseline: base?.pending.p99 });
  if (real.executed) row({ scenario: sc, metric: 'invoke→EXECUTED delivered p99', value: real.executed.p99, unit: 'ms', target: '≤ 100' });
  row({ scenario: sc, metric: 'first→last delivery of one event p99', value: real.spreadMs.p99, unit: 'ms', baselineName: 'tiny graphql-ws', baseline: base?.spreadMs.p99 });
}

// ---- scenario 3: connections ---------------------------------------------------------------

async function holdConnections(
  label: string,
  port: number,
  pid: number,
  bind: 'observe' | 'subscribe',
  memory: (gc: boolean) => Promise<MemoryFigures | undefined>,
): Promise<{ fleet: Fleet; connected: number; failed: number; rampMs: number; memory: Record<string, unknown>; rssMiB: number }> {
  const { count, workers, connectConcurrency, settleMs } = settings.connections;
  const tokens = endpoints.slice(0, count).map((e) => e.token);
  const rampRss: [number, number][] = [];
  const started = now();
  const sampler = setInterval(() => {
    try {
      rampRss.push([round((now() - started) / 1000, 1), memoryOf(pid).rssMiB]);
    } catch {
      /* gone */
    }
  }, 1000);
  let fleetStart;
  try {
    fleetStart = await Fleet.start(label, tokens, { workers, port, bind, commandType: 'bench', answer: true, concurrency: connectConcurrency });
  } finally {
    clearInterval(sampler);
  }
  const atRampEnd = memoryOf(pid);
  // Idle with every connection open: what a fleet of quiet devices costs once the ramp's garbage is collected by V8 on its own.
  await sleep(settleMs);
  const settled = memoryOf(pid);
  const inside = await memory(false);
  const afterGc = await memory(true);
  return {
    fleet: fleetStart.fleet,
    connected: fleetStart.connected,
    failed: fleetStart.failed,
    rampMs: round(fleetStart.connectMs, 0),
    rssMiB: settled.rssMiB,
    memory: { rampEndRssMiB: atRampEnd.rssMiB, settledRssMiB: settled.rssMiB, settledAfterMs: settleMs, settledHeap: inside, afterFullGc: afterGc, rampRss },
  };
}

async function scenarioConnections(): Promise<void> {
  const { count, probeRate, probeMs } = settings.connections;
  log(`connections: ramping to ${count} observing MQTT devices (${settings.connections.workers} client processes)`);
  // A fresh server, so its RSS is that of the connections, not of earlier scenarios' garbage.
  await server!.stop();
  server = await startTheServer('connections');
  const srv = server;
  await sleep(2000);
  const idle = memoryOf(srv.pid);
  const out: Record<string, unknown> = { count, idleRssMiB: idle.rssMiB };
  const held = await holdConnections('conn', srv.mqttPort, srv.pid, 'observe', (gc) => srv.memory(gc));
  try {
    log(`connections: ${held.connected} connected in ${(held.rampMs / 1000).toFixed(1)} s; server RSS ${JSON.stringify(held.memory['settledRssMiB'])} MiB settled, ${(held.memory['afterFullGc'] as MemoryFigures | undefined)?.rssMiB} MiB after a full GC`);
    const ids = endpoints.slice(0, count).map((e) => e.id);
    // Spread the probe commands over the whole fleet.
    const shuffled = ids.map((id) => [Math.random(), id] as const).sort((a, b) => a[0] - b[0]).map(([, id]) => id);
    const invoker = await invokerFor(srv.httpPort, shuffled, 'bench');
    try {
      await held.fleet.stats(true);
      const m = meter();
      const inv = await invoker.call<InvokeResult>('open', { op: 'invoke', rate: probeRate, durationMs: probeMs, batch: 1 });
      checkInvoke('connections probe', inv);
      await held.fleet.waitFor('acked', inv.ops, 60_000);
      const cpu = m.stop(inv.ops);
      const st = await held.fleet.stats(true);
      const push = summarize(st.recv);
      const after = memoryOf(srv.pid);
      Object.assign(out, {
        connected: held.connected,
        failed: held.failed,
        rampMs: held.rampMs,
        connectsPerSec: round(held.connected / (held.rampMs / 1000), 1),
        rssMiB: held.rssMiB,
        memory: held.memory,
        rssAfterPushesMiB: after.rssMiB,
        hwmMiB: after.hwmMiB,
        probe: { rate: probeRate, commands: inv.ops, invokeToDeviceMs: push, invokeToResultStoredMs: summarize(st.exec), mutationRoundTripMs: summarize(inv.latency), cpu },
        closedUnexpectedly: st.closedUnexpectedly,
      });
      log(`connections: push p50 ${push.p50} p99 ${push.p99} ms; RSS after pushes ${after.rssMiB} MiB (peak ${after.hwmMiB})`);
    } finally {
      await stopWorkers(invoker);
    }
  } finally {
    await held.fleet.stop();
  }
  // Baseline: a bare aedes holding as many subscribed connections, relaying at the same rate.
  const broker = await startBareAedes();
  await sleep(2000);
  const bareIdle = memoryOf(broker.pid);
  const bare = await holdConnections('conn-bare', broker.port, broker.pid, 'subscribe', (gc) => broker.worker.call<MemoryFigures>('memory', { gc }));
  const pub = await worker('devices.ts', 'conn-bare-pub');
  try {
    const topics = endpoints
      .slice(0, count)
      .map((e) => `kp1/${APP_VERSION}/cex/${e.token}/command/bench/status`)
      .sort(() => Math.random() - 0.5);
    const total = Math.floor((probeRate * probeMs) / 1000);
    await bare.fleet.stats(true);
    await pub.call('relayPublish', { host: '127.0.0.1', port: broker.port, localAddress: nextAddress(), topics, total, rate: probeRate, pad: settings.payloadPad });
    await bare.fleet.waitFor('received', total, 30_000);
    const st = await bare.fleet.stats(true);
    out['bareAedes'] = { idleRssMiB: bareIdle.rssMiB, connected: bare.connected, rampMs: bare.rampMs, rssMiB: bare.rssMiB, memory: bare.memory, hwmMiB: memoryOf(broker.pid).hwmMiB, relayMs: summarize(st.recv) };
  } finally {
    await stopWorkers(pub);
    await bare.fleet.stop();
    await stopWorkers(broker.worker);
  }
  figures['connections'] = out;
  type Mem = { afterFullGc?: MemoryFigures };
  const o = out as { connected?: number; rssMiB?: number; memory?: Mem; probe?: { invokeToDeviceMs: Summary }; bareAedes: { rssMiB: number; memory: Mem; relayMs: Summary; connected: number } };
  const sc = `3 connections ×${count}`;
  if (o.connected !== undefined) {
    row({ scenario: sc, metric: 'connected, observing', value: o.connected, unit: '', target: `≥ ${count}`, baselineName: 'bare aedes', baseline: o.bareAedes.connected });
    row({ scenario: sc, metric: 'server RSS, settled', value: o.rssMiB!, unit: 'MiB', target: '≤ 512', baselineName: 'bare aedes', baseline: o.bareAedes.rssMiB });
    const gcd = o.memory?.afterFullGc;
    const bareGcd = o.bareAedes.memory?.afterFullGc;
    if (gcd) row({ scenario: sc, metric: 'server RSS after a full GC', value: gcd.rssMiB, unit: 'MiB', baselineName: 'bare aedes', baseline: bareGcd?.rssMiB });
    if (gcd) row({ scenario: sc, metric: 'server JS heap used after a full GC', value: gcd.heapUsedMiB, unit: 'MiB', baselineName: 'bare aedes', baseline: bareGcd?.heapUsedMiB });
    row({ scenario: sc, metric: `push latency p50 @${probeRate}/s`, value: o.probe!.invokeToDeviceMs.p50, unit: 'ms', baselineName: 'aedes relay', baseline: o.bareAedes.relayMs.p50 });
    row({ scenario: sc, metric: `push latency p99 @${probeRate}/s`, value: o.probe!.invokeToDeviceMs.p99, unit: 'ms', target: '≤ 50', baselineName: 'aedes relay', baseline: o.bareAedes.relayMs.p99 });
  }
}

// ---- scenario 5: HTTP polling --------------------------------------------------------------

async function scenarioPolling(): Promise<void> {
  const { connections, durationMs, endpoints: n, outstanding } = settings.polling;
  log(`polling: ${connections} concurrent HTTP pollers, ${durationMs / 1000} s each, empty and ${outstanding} outstanding`);
  // The last endpoints, so the outstanding commands left here never reach the MQTT fleets.
  const eps = endpoints.slice(endpoints.length - n);
  const invoker = await invokerFor(server!.httpPort, eps.map((e) => e.id), 'poll');
  const inv = await invoker.call<InvokeResult>('closed', { op: pipelineOps().invoke, total: n * outstanding, batch: 20, concurrency: 8 });
  checkInvoke('polling setup', inv);
  await stopWorkers(invoker);
  const load = await worker('http-load.ts', 'poller');
  type Load = { requests: number; errors: number; unexpected: number; firstError?: string; statuses: Record<string, number>; requestsPerSec: number; latency: number[]; cpuMs: number; meanBodyBytes: number };
  const out: Record<string, unknown> = { connections, durationMs, endpoints: n, outstanding };
  try {
    const path = (e: { token: string }, type: string) => `/kp1/${APP_VERSION}/cex/${e.token}/command/${type}`;
    const run = async (name: string, port: number, paths: string[], expect: string, pid?: number) => {
      await load.call('run', { host: '127.0.0.1', port, paths, body: '{}', connections, durationMs: Math.min(1000, durationMs) });
      const m = meter(pid);
      const r = await load.call<Load>('run', { host: '127.0.0.1', port, paths, body: '{}', connections, durationMs, expect });
      if (r.errors || r.unexpected) log(`polling ${name}: ${r.errors} errors, ${r.unexpected} unexpected: ${r.firstError}`);
      return { requestsPerSec: round(r.requestsPerSec, 1), requests: r.requests, errors: r.errors, unexpected: r.unexpected, statuses: r.statuses, meanBodyBytes: round(r.meanBodyBytes, 0), latencyMs: summarize(r.latency), loadgenCpuMs: round(r.cpuMs, 0), cpu: m.stop(r.requests) };
    };
    const empty = await run('empty', server!.httpPort, eps.map((e) => path(e, 'nothing')), '[]');
    const full = await run('non-empty', server!.httpPort, eps.map((e) => path(e, 'poll')), '[{');
    const bareSrv = await worker('bare-http.ts', 'bare-http');
    let bare;
    try {
      const { port, pid } = await bareSrv.call<{ port: number; pid: number }>('start', { host: '127.0.0.1', port: await freePort() });
      bare = await run('bare', port, eps.map((e) => path(e, 'poll')), '[]', pid);
    } finally {
      await stopWorkers(bareSrv);
    }
    Object.assign(out, { empty, nonEmpty: full, bareHttp: bare });
    log(`polling: empty ${empty.requestsPerSec.toFixed(0)}/s, non-empty ${full.requestsPerSec.toFixed(0)}/s, bare node:http ${bare.requestsPerSec.toFixed(0)}/s`);
    const sc = `5 polling ×${connections}`;
    row({ scenario: sc, metric: 'empty polls/s', value: empty.requestsPerSec, unit: '/s', baselineName: 'bare node:http', baseline: bare.requestsPerSec });
    row({ scenario: sc, metric: `non-empty polls/s (${outstanding} commands)`, value: full.requestsPerSec, unit: '/s', baselineName: 'bare node:http', baseline: bare.requestsPerSec });
    row({ scenario: sc, metric: 'empty poll p99', value: empty.latencyMs.p99, unit: 'ms', baselineName: 'bare node:http', baseline: bare.latencyMs.p99 });
  } finally {
    await stopWorkers(load);
  }
  figures['polling'] = out;
}

// ---- main ----------------------------------------------------------------------------------

function packageVersion(name: string): string {
  try {
    return (JSON.parse(readFileSync(join(benchDir, '..', 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

async function cleanup(): Promise<void> {
  await stopAll(live).catch(() => {});
  live.clear();
  if (server) await server.stop().catch(() => {});
  pg?.stop();
  if (embeddedDir) rmSync(embeddedDir, { recursive: true, force: true });
  // Everything is cleaned: the janitor leaves without doing anything.
  await janitor?.stop();
}

let interrupted = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    if (interrupted) process.exit(130);
    interrupted = true;
    log(`${signal}: stopping`);
    cleanup().finally(() => process.exit(130));
  });
}

async function main(): Promise<void> {
  const loadBefore = loadAverage();
  const startedAt = new Date();
  janitor = await WorkerProcess.start('janitor.ts', 'janitor');
  log(`cex bench ${quick ? '(quick) ' : ''}run ${runId}; load average ${loadBefore.join(' ')}; open files ${nofile}`);
  if (nofile < settings.connections.count + 100 && enabled('connections')) {
    log(`warning: the open-file limit (${nofile}) is below ${settings.connections.count + 100}; the connections scenario will fail`);
  }
  let database: Record<string, unknown>;
  if (settings.embedded) {
    embeddedDir = mkdtempSync(join(tmpdir(), 'cex-bench-pglite-'));
    await janitor.call('register', { key: 'pglite', item: { kind: 'dir', path: embeddedDir } });
    database = { kind: 'pglite', dataDir: embeddedDir };
  } else if (databaseUrl) {
    database = { kind: 'postgres', source: 'DATABASE_URL' };
  } else {
    pg = await startPostgres();
    await janitor.call('register', { key: 'postgres', item: { kind: 'postgres', pgCtl: pg.pgCtl, dataDir: pg.dataDir, asPostgres: pg.asPostgres } });
    databaseUrl = pg.url;
    database = { kind: 'postgres', source: 'private PostgreSQL 15 started by the bench (initdb defaults otherwise)', settings: pg.settings };
    log(`private PostgreSQL on 127.0.0.1:${pg.port} (${pg.dataDir})`);
  }
  server = await startTheServer('main');
  const needed = Math.max(
    settings.devices,
    settings.results.devices,
    enabled('connections') ? settings.connections.count : 0,
  ) + settings.polling.endpoints;
  await setupData(needed);
  await detectCapabilities();
  log(`server capabilities: ${JSON.stringify(capabilities)}`);

  const scenarios: [Scenario, () => Promise<void>][] = [
    ['e2e', scenarioE2E],
    ['latency', scenarioLatency],
    ['results', scenarioResults],
    ['subscriptions', scenarioSubscriptions],
    ['connections', scenarioConnections],
    ['polling', scenarioPolling],
  ];
  const failures: string[] = [];
  for (const [name, run] of scenarios) {
    if (!enabled(name)) continue;
    const t = now();
    try {
      await run();
    } catch (error) {
      failures.push(name);
      log(`scenario ${name} failed: ${error instanceof Error ? error.stack : String(error)}`);
      figures[`${name}Error`] = String(error);
    }
    log(`scenario ${name} took ${((now() - t) / 1000).toFixed(1)} s`);
  }
  const serverRss = server ? memoryOf(server.pid) : undefined;
  await server.stop();
  server = undefined;
  let profile: unknown;
  if (settings.cpuProf) {
    // The main thread's profiles (tid 0), one per server process started.
    const files = readdirSync(profDir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
    profile = files.map((f) => {
      const s = summarizeProfile(join(profDir, f), 30);
      process.stdout.write(`\nServer CPU profile ${f}:\n${s.text}\n`);
      return { file: join(profDir, f), busyTop: s.top, byPackage: s.byPackage, inclusive: s.inclusive };
    });
  }
  pg?.stop();
  pg = undefined;

  const result = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    runId,
    ok: failures.length === 0,
    failedScenarios: failures,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model,
      memoryMiB: Math.round(totalmem() / 1024 / 1024),
      kernel: release(),
      loadAverageBefore: loadBefore,
      loadAverageAfter: loadAverage(),
      openFilesLimit: nofile,
    },
    versions: {
      node: process.version,
      postgres: figures['postgresVersion'],
      aedes: packageVersion('aedes'),
      'mqtt-packet': packageVersion('mqtt-packet'),
      'graphql-yoga': packageVersion('graphql-yoga'),
      'graphql-ws': packageVersion('graphql-ws'),
      graphql: packageVersion('graphql'),
      postgres_js: packageVersion('postgres'),
      'drizzle-orm': packageVersion('drizzle-orm'),
      pglite: packageVersion('@electric-sql/pglite'),
      ws: packageVersion('ws'),
    },
    settings: { ...settings, database, scenarios: ALL.filter(enabled), serverCapabilities: capabilities, pipelineMode: pipelineOps().label },
    finalServerMemory: serverRss,
    table: rows,
    scenarios: figures,
    profile,
  };
  const file = join(resultsDir, `${stamp}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  process.stdout.write(`\ncex bench ${quick ? '--quick ' : ''}${startedAt.toISOString()} — ${cpus().length} cores, ${result.machine.memoryMiB} MiB, load ${loadBefore.join(' ')} → ${result.machine.loadAverageAfter.join(' ')}; ${settings.embedded ? 'PGlite' : 'PostgreSQL'}\n\n`);
  process.stdout.write(`${formatTable(rows)}\n\nAll figures: ${file}\n`);
  if (failures.length) {
    process.stdout.write(`Failed scenarios: ${failures.join(', ')} (see above)\n`);
    process.exitCode = 1;
  }
}

main()
  .catch((error) => {
    log(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
    process.exitCode = 1;
  })
  .finally(async () => {
    await cleanup();
    // Workers exit with their IPC channel; nothing else should hold the loop.
    setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
  });
