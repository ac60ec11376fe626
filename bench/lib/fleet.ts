// A fleet of kp1 devices spread over `devices.ts` workers, each on its own source address:
// connect, read and reset their figures, wait for a count, disconnect.
import { now, sleep } from './clock.ts';
import type { RunInfo } from './config.ts';
import { log } from './log.ts';
import { merge } from './stats.ts';
import type { WorkerPool } from './worker-pool.ts';
import type { WorkerProcess } from './worker.ts';

export interface DeviceStats {
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

type Counts = { received: number; acked: number; lastAckAt: number; lastReceivedAt: number; closedUnexpectedly: number };

export interface FleetOptions {
  workers: number;
  port: number;
  bind: 'observe' | 'optout' | 'subscribe' | 'none';
  commandType: string;
  answer: boolean;
  concurrency?: number;
}

export class Fleet {
  private constructor(
    private readonly pool: WorkerPool,
    readonly workers: WorkerProcess[],
    readonly addresses: string[],
  ) {}

  static async start(
    ctx: { workers: WorkerPool; run: RunInfo },
    name: string,
    tokens: string[],
    options: FleetOptions,
  ): Promise<{ fleet: Fleet; connectMs: number; connected: number; failed: number; outstanding: number }> {
    const n = Math.max(1, Math.min(options.workers, tokens.length));
    const workers = await Promise.all(Array.from({ length: n }, (_, i) => ctx.workers.start('devices.ts', `${name}-${i}`)));
    const addresses = workers.map(() => ctx.workers.nextAddress());
    const fleet = new Fleet(ctx.workers, workers, addresses);
    const started = now();
    const results = await Promise.all(
      workers.map((w, i) =>
        w.call<{ connected: number; failed: number; firstError?: string; outstanding: number }>('connect', {
          host: '127.0.0.1',
          port: options.port,
          appVersion: ctx.run.appVersion,
          tokens: tokens.filter((_, j) => j % n === i),
          clientPrefix: `${name}-${ctx.run.id}-${i}`,
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

  async counts(): Promise<Counts> {
    const all = await Promise.all(this.workers.map((w) => w.call<Counts>('counts')));
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
        shortfall(`${field} stopped at ${c[field]} of ${target}`);
        return c[field];
      }
      await sleep(20);
    }
  }

  async stop(): Promise<void> {
    await Promise.all(this.workers.map((w) => w.call('disconnect').catch(() => {})));
    await this.pool.stop(...this.workers);
  }
}

/** Every wait that ended short of its target, in this run (bench/run.ts fails --quick on any). */
export const shortfalls: string[] = [];

/** Logs a delivery that ended short of what was sent, and keeps it for the end of the run. */
export function shortfall(what: string): void {
  log(`warning: ${what}`);
  shortfalls.push(what);
}

/** The sum of one numeric field over a list of worker figures. */
export function sum<T>(list: T[], key: keyof T): number {
  return list.reduce((s, x) => s + (Number(x[key]) || 0), 0);
}
