// What a run is asked to do: the command line turned into a size profile (full or --quick,
// scaled), the scenario selection and the server's options; and the names of this run's files
// and secrets.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { randomBytes } from 'node:crypto';
import { hardNofile } from './proc.ts';
import { LOAD_LIMITS } from './server.ts';

const help = (scenarios: readonly string[]) => `Usage: npm run bench -- [options]

  --quick                 every scenario, small (CI keeps the bench working)
  --embedded              the server uses PGlite (DATA_DIR in a temp dir) instead of PostgreSQL
  --only=a,b              run only these scenarios: ${scenarios.join(', ')}
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

type Argv = ReturnType<typeof parse>['values'];

function parse(args: string[]) {
  return parseArgs({
    args,
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
}

const num = (v: string | undefined, fallback: number) => (v === undefined ? fallback : Number(v));

/** Every size of the run (written to the results file as its settings). */
function sizeProfile(argv: Argv) {
  const quick = argv.quick;
  const scale = num(argv['duration-scale'], 1);
  const sc = (n: number) => scaled(scale, n);
  return {
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
    results: {
      rate: num(argv['results-rate'], quick ? 200 : 2000),
      durationMs: sc(quick ? 2000 : 8000),
      devices: quick ? 20 : 200,
      /** Bound on invoking the commands to report on. */
      setupMaxMs: sc(quick ? 20_000 : 180_000),
    },
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
    /** The fleet-wide pages: commands and endpoints written with SQL, then pages timed over GraphQL. */
    fleetPaging: { commands: quick ? 100_000 : 1_000_000, endpoints: quick ? 1000 : 10_000, pages: quick ? 40 : 200, slowPages: quick ? 5 : 20 },
    /** The console's device page: one endpoint's history written with SQL, then cold loads in chromium. */
    consoleLoad: { commands: quick ? 1000 : 10_000, loads: quick ? 3 : 10 },
    /** NOTIFY fan-out to 0–8 listening processes: events per listener count, publishing connections, payload size. */
    notifyFanout: { events: sc(quick ? 2000 : 20_000), concurrency: 8, payloadBytes: 200 },
    /** invokeCommands to one version's endpoints (written with SQL), timed over GraphQL. */
    bulk: { endpoints: quick ? 1000 : 10_000, runs: quick ? 2 : 5 },
    raw: { single: sc(quick ? 500 : 10_000), batched: sc(quick ? 2000 : 40_000), batch: 100, concurrency: 10 },
    serverLimits: LOAD_LIMITS,
  };
}

function scaled(scale: number, n: number): number {
  return Math.max(1, Math.round(n * scale));
}

export type Settings = ReturnType<typeof sizeProfile>;

export interface BenchConfig {
  readonly settings: Settings;
  /** The scenarios to run, in the order given. */
  readonly scenarios: readonly string[];
  /** PostgreSQL given by DATABASE_URL (unset with --embedded: then PGlite). */
  readonly databaseUrl: string | undefined;
  readonly serverRoot: string | undefined;
  readonly serverNodeArgs: readonly string[];
}

/** The run's configuration, or undefined when --help was asked for (and printed). */
export function parseConfig(args: string[], scenarioNames: readonly string[]): BenchConfig | undefined {
  const { values: argv } = parse(args);
  if (argv.help) {
    process.stdout.write(help(scenarioNames));
    return undefined;
  }
  const only = argv.only ? new Set(argv.only.split(',').map((s) => s.trim())) : undefined;
  const skip = new Set((argv.skip ?? '').split(',').map((s) => s.trim()).filter(Boolean));
  for (const s of [...(only ?? []), ...skip]) if (!scenarioNames.includes(s)) throw new Error(`unknown scenario "${s}" (one of ${scenarioNames.join(', ')})`);
  return {
    settings: sizeProfile(argv),
    scenarios: scenarioNames.filter((s) => (!only || only.has(s)) && !skip.has(s)),
    databaseUrl: argv.embedded ? undefined : process.env['DATABASE_URL'],
    serverRoot: argv['server-root'],
    serverNodeArgs: argv['server-node-args']?.split(/\s+/).filter(Boolean) ?? [],
  };
}

/** This run's identity: names of its data, its files, the admin key, the open-file limit. */
export interface RunInfo {
  readonly id: string;
  readonly stamp: string;
  readonly adminKey: string;
  readonly app: string;
  readonly appVersion: string;
  readonly nofile: number;
  readonly benchDir: string;
  readonly resultsDir: string;
  readonly profDir: string;
  readonly serverLog: string;
}

export function newRun(): RunInfo {
  const benchDir = fileURLToPath(new URL('..', import.meta.url));
  const resultsDir = join(benchDir, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const id = randomBytes(3).toString('hex');
  return {
    id,
    stamp,
    adminKey: `bench-admin-${randomBytes(12).toString('hex')}`,
    app: `bench-${id}`,
    appVersion: `bench-${id}-v1`,
    nofile: hardNofile(),
    benchDir,
    resultsDir,
    profDir: join(resultsDir, `${stamp}-prof`),
    serverLog: join(resultsDir, `${stamp}-server.log`),
  };
}
