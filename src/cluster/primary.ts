// The primary of a node with WORKERS > 1 (node:cluster). It serves nothing itself: it forks the
// workers (each a full server: HTTP, MQTT, pool, event listener, sweeper), which share the HTTP
// and MQTT ports (the primary accepts and hands connections round-robin); passes the budgets
// and counts they share (lib/cluster-share.ts); answers /readyz and /metrics for the whole node
// (a request lands on any one worker, which asks here); restarts a worker that dies, with
// backoff, and gives up (exit 1) when workers keep dying; drains every worker on SIGTERM/SIGINT.
import cluster, { type Worker } from 'node:cluster';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry, Counter, Gauge } from 'prom-client';
import type { Config } from '../config.ts';
import { isCountChannel, type ShareDelta } from '../lib/cluster-share.ts';
import { createLogger } from '../logger.ts';
import { createMetricsHandler, listenForMetrics } from '../metrics/endpoint.ts';
import { registry } from '../metrics/registry.ts';
import type { Readiness } from '../readiness.ts';
import { describeCause } from '../startup-error.ts';
import { isCexMessage, type FromPrimary, type FromWorker, type WorkerMetrics } from './messages.ts';

/** More crashes than this within CRASH_WINDOW_MS, of any one worker, stop the node (exit 1). */
export const MAX_CRASHES = 5;
const CRASH_WINDOW_MS = 60_000;
/** The first restart waits this long, each further one in the window twice as long. */
const FIRST_RESTART_MS = 100;
const MAX_RESTART_MS = 10_000;
/** A worker that does not answer a readiness or metrics question this soon counts as failing. */
const QUESTION_TIMEOUT_MS = 3_500;

interface Slot {
  index: number;
  worker?: Worker;
  serving: boolean;
  /** When this slot's workers died unexpectedly, within CRASH_WINDOW_MS. */
  crashes: number[];
  restart?: NodeJS.Timeout;
  /** Net deltas of counting channels (open connections) its worker reported: undone when it dies. */
  counts: Map<string, ShareDelta>;
}

export function runPrimary(config: Config, entry: string): void {
  const log = createLogger(config.logLevel).child({ worker: 'primary' });
  cluster.setupPrimary({ exec: entry });
  const slots: Slot[] = Array.from({ length: config.workers }, (_, index) => ({ index, serving: false, crashes: [], counts: new Map() }));
  let everServing = false;
  let stopping: { exitCode: number } | undefined;
  let metricsServer: Server | undefined;
  /** Workers that did not exit 0 when told to stop. */
  let failedStops = 0;
  const questions = new Map<number, (answer: FromWorker) => void>();
  let nextQuestion = 0;

  new Gauge({
    name: 'cex_workers_serving',
    help: 'Worker processes of this node serving (WORKERS)',
    registers: [registry],
    collect() {
      this.set(slots.filter((s) => s.serving).length);
    },
  });
  const restarts = new Counter({ name: 'cex_worker_restarts_total', help: 'Workers restarted after they died', registers: [registry] });

  const live = () => slots.filter((s): s is Slot & { worker: Worker } => s.worker !== undefined && s.worker.isConnected());
  const send = (worker: Worker, message: FromPrimary) => {
    if (worker.isConnected()) worker.send(message);
  };

  function fork(slot: Slot): void {
    slot.restart = undefined;
    const worker = cluster.fork({ CEX_WORKER: String(slot.index) });
    slot.worker = worker;
    slot.serving = false;
    // What the other workers hold now, so the new one counts them from its first connection.
    const counts = slots.flatMap((s) => (s === slot ? [] : [...s.counts.values()]));
    if (counts.length > 0) send(worker, { cex: 'share', deltas: counts });
    worker.on('message', (message: unknown) => {
      if (isCexMessage<FromWorker>(message)) onMessage(slot, worker, message);
    });
    worker.on('exit', (code, signal) => onExit(slot, worker, code, signal));
  }

  function onMessage(slot: Slot, worker: Worker, message: FromWorker): void {
    switch (message.cex) {
      case 'serving':
        slot.serving = true;
        // The first worker starts alone (migrations, the bootstrap key, and a start-up error
        // printed once rather than by every worker); the others follow once it serves.
        if (!everServing && slot.index === 0) for (const other of slots) if (other.worker === undefined && !stopping) fork(other);
        if (!everServing && slots.every((s) => s.serving)) {
          everServing = true;
          log.info({ workers: slots.length }, 'all workers serving');
        } else if (everServing) log.info({ slot: slot.index, pid: worker.process.pid }, 'worker serving again');
        return;
      case 'share':
        for (const delta of message.deltas) {
          if (!isCountChannel(delta[0])) continue;
          const id = `${delta[0]}\n${delta[1]}`;
          const net = (slot.counts.get(id)?.[2] ?? 0) + delta[2];
          if (net === 0) slot.counts.delete(id);
          else slot.counts.set(id, [delta[0], delta[1], net]);
        }
        for (const other of live()) if (other !== slot) send(other.worker, message);
        return;
      case 'node-readiness?':
        void nodeReadiness().then((readiness) => send(worker, { cex: 'node-readiness', id: message.id, readiness }));
        return;
      case 'node-metrics?':
        void nodeMetrics().then(
          (text) => send(worker, { cex: 'node-metrics', id: message.id, text }),
          () => send(worker, { cex: 'node-metrics', id: message.id, text: '' }),
        );
        return;
      case 'readiness':
      case 'metrics':
        questions.get(message.id)?.(message);
        questions.delete(message.id);
        return;
    }
  }

  function ask(worker: Worker, cex: 'readiness?' | 'metrics?'): Promise<FromWorker | undefined> {
    const id = nextQuestion++;
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        questions.delete(id);
        resolve(undefined);
      }, QUESTION_TIMEOUT_MS);
      questions.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      send(worker, { cex, id });
    });
  }

  /** Every worker's readiness: ready when all of them are, each failed check naming its worker. */
  async function nodeReadiness(): Promise<Readiness> {
    const answers = await Promise.all(
      slots.map(async (slot) => {
        if (!slot.worker || !slot.serving) return { slot, readiness: undefined, why: stopping ? 'stopped' : 'not serving (starting or restarting)' };
        const answer = await ask(slot.worker, 'readiness?');
        return { slot, readiness: answer?.cex === 'readiness' ? answer.readiness : undefined, why: 'no answer' };
      }),
    );
    const checks: Record<string, string> = {};
    const failed = (name: string, text: string) => (checks[name] = checks[name] === undefined || checks[name] === 'ok' ? text : `${checks[name]}; ${text}`);
    let serving = 0;
    for (const { slot, readiness, why } of answers) {
      if (!readiness) {
        failed('workers', `worker ${slot.index}: ${why}`);
        continue;
      }
      serving++;
      for (const [name, value] of Object.entries(readiness.checks)) {
        if (value === 'ok') checks[name] ??= 'ok';
        else failed(name, `worker ${slot.index}: ${value}`);
      }
    }
    checks['workers'] ??= 'ok';
    if (checks['workers'] !== 'ok') checks['workers'] = `${serving} of ${slots.length} ready: ${checks['workers']}`;
    return { ready: Object.values(checks).every((c) => c === 'ok'), checks: checks as Readiness['checks'] };
  }

  /** Every worker's metrics, each series labelled with its worker (`primary` for this process). */
  async function nodeMetrics(): Promise<string> {
    const labelled = (metrics: WorkerMetrics, worker: string): WorkerMetrics =>
      metrics.map((metric) => ({
        ...metric,
        // Series differ by their worker label, so "sum" keeps every one as it is.
        aggregator: 'sum',
        values: metric.values.map((value) => ({ ...value, labels: { ...value.labels, worker } })),
      }));
    const answers = await Promise.all(live().map(async (slot) => ({ slot, answer: await ask(slot.worker, 'metrics?') })));
    const all = [labelled(await registry.getMetricsAsJSON(), 'primary')];
    for (const { slot, answer } of answers) if (answer?.cex === 'metrics') all.push(labelled(answer.metrics, String(slot.index)));
    return AggregatorRegistry.aggregate(all).metrics();
  }

  function onExit(slot: Slot, worker: Worker, code: number | null, signal: string | null): void {
    if (slot.worker !== worker) return;
    const wasServing = slot.serving;
    slot.worker = undefined;
    slot.serving = false;
    // Its connections died with it: the others stop counting them.
    const undo = [...slot.counts.values()].map(([channel, key, net]): ShareDelta => [channel, key, -net]);
    slot.counts.clear();
    if (undo.length > 0) for (const other of live()) send(other.worker, { cex: 'share', deltas: undo });

    if (stopping) {
      if (code !== 0) failedStops++;
      return finishIfStopped();
    }
    if (!everServing && !wasServing) {
      // The start failed (the worker printed why, in one line): as a single process would, exit.
      return stop(code || 1);
    }
    const now = Date.now();
    slot.crashes = [...slot.crashes.filter((t) => now - t < CRASH_WINDOW_MS), now];
    restarts.inc();
    if (slot.crashes.length > MAX_CRASHES) {
      log.fatal({ slot: slot.index, pid: worker.process.pid, code, signal, crashes: slot.crashes.length, withinMs: CRASH_WINDOW_MS }, 'a worker keeps dying; stopping the node');
      return stop(1);
    }
    const restartInMs = Math.min(FIRST_RESTART_MS * 2 ** (slot.crashes.length - 1), MAX_RESTART_MS);
    log.error({ slot: slot.index, pid: worker.process.pid, code, signal, restartInMs }, 'worker died; restarting it');
    slot.restart = setTimeout(() => fork(slot), restartInMs);
  }

  function stop(exitCode: number): void {
    if (stopping) return;
    stopping = { exitCode };
    for (const slot of slots) {
      clearTimeout(slot.restart);
      slot.worker?.process.kill('SIGTERM');
    }
    const force = setTimeout(() => {
      log.error({ exitAfterMs: config.shutdown.exitAfterMs }, 'workers took too long to stop; killing them');
      for (const slot of slots) slot.worker?.process.kill('SIGKILL');
      process.exit(1);
    }, config.shutdown.exitAfterMs + 1_000);
    force.unref();
    finishIfStopped();
  }

  function finishIfStopped(): void {
    if (!stopping || slots.some((s) => s.worker)) return;
    const code = stopping.exitCode || (failedStops > 0 ? 1 : 0);
    metricsServer?.close();
    log.info({ code }, 'stopped');
    process.exit(code);
  }

  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (stopping) return;
      log.info({ signal }, 'shutting down');
      stop(0);
    });
  }

  const metricsPort = config.metrics.port;
  const start = async () => {
    if (metricsPort !== undefined) {
      // The primary's own listener: a scrape sees every worker, whichever would have taken it.
      metricsServer = await listenForMetrics(createMetricsHandler({ token: config.metrics.token, collect: nodeMetrics }), metricsPort, config.host);
      log.info({ port: (metricsServer.address() as AddressInfo).port }, 'metrics listening');
    }
    log.info({ workers: slots.length }, 'starting workers');
    fork(slots[0]!);
  };
  start().catch((error: unknown) => {
    process.stderr.write(`cex could not start: metrics port ${metricsPort} on ${config.host}: ${describeCause(error)}; set METRICS_PORT to another port\n`);
    process.exit(1);
  });
}
