// What every scenario is given (the run's identity, its sizes, the shared servers, the worker
// pool, the report, the endpoints), and the helpers several scenarios use with it.
import { now } from './clock.ts';
import type { RunInfo, Settings } from './config.ts';
import { log } from './log.ts';
import { cpuOf, cpuOfTree, freePort } from './proc.ts';
import type { Report } from './report.ts';
import type { Servers } from './servers.ts';
import type { Endpoint, PipelineOps } from './service-api.ts';
import { round } from './stats.ts';
import type { WorkerPool } from './worker-pool.ts';
import type { WorkerProcess } from './worker.ts';

export interface BenchContext {
  readonly run: RunInfo;
  /** The size profile (full or --quick, scaled). */
  readonly settings: Settings;
  readonly servers: Servers;
  readonly workers: WorkerPool;
  readonly report: Report;
  /** Created before the scenarios: the MQTT fleets use the first ones, polling the last ones. */
  readonly endpoints: readonly Endpoint[];
  /** The best way the server offers to carry many invokes in one request. */
  readonly pipeline: PipelineOps;
}

export interface Scenario {
  /** The name `--only` and `--skip` take. */
  readonly name: string;
  run(ctx: BenchContext): Promise<void>;
}

/** The operator's subscription in the latency and subscription scenarios. */
export const SUBSCRIPTION = 'subscription S($e: ID) { commandStatusChanged(endpointId: $e) { id status payload } }';

export interface CpuFigures {
  wallMs: number;
  serverCpuPct: number;
  databaseCpuPct?: number;
  serverCpuUsPerOp: number;
  databaseCpuUsPerOp?: number;
}

/** Measures CPU of the server (or of `pid`) and of the private PostgreSQL from now until `stop`. */
export function meter(ctx: BenchContext, pid?: number): { stop(ops: number): CpuFigures } {
  const serverPid = pid ?? ctx.servers.running?.pid;
  const pg = ctx.servers.pg;
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

/** What `invoker.ts` answers to `closed` and `open`. */
export interface InvokeResult {
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

/** A GraphQL invoker for `endpointIds` on the server at `port`. */
export async function invokerFor(ctx: BenchContext, port: number, endpointIds: string[], commandType: string, maxSockets = 128): Promise<WorkerProcess> {
  const w = await ctx.workers.start('invoker.ts', `invoker-${commandType}`);
  await w.call('init', { host: '127.0.0.1', port, key: ctx.run.adminKey, endpointIds, commandType, pad: ctx.settings.payloadPad, maxSockets });
  return w;
}

export function checkInvoke(name: string, r: InvokeResult): void {
  if (r.errors) log(`${name}: ${r.errors} failed requests, first: ${r.firstError}`);
}

/** A bare aedes (default options, no hooks) in its own process: the MQTT baseline. */
export async function startBareAedes(ctx: BenchContext): Promise<{ worker: WorkerProcess; port: number; pid: number }> {
  // --expose-gc only lets the bench ask for a full GC before reading memory (as for the server).
  const w = await ctx.workers.start('bare-aedes.ts', 'bare-aedes', ['--expose-gc']);
  const { port, pid } = await w.call<{ port: number; pid: number }>('start', { host: '127.0.0.1', port: await freePort() });
  return { worker: w, port, pid };
}

/** The topic bare aedes relays on in place of the service's command push. */
export function relayTopic(ctx: BenchContext, token: string): string {
  return `kp1/${ctx.run.appVersion}/cex/${token}/command/bench/status`;
}
