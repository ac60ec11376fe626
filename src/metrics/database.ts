// Database metrics: the pool (what can be known from outside the drivers), group commits and the
// event bus (NOTIFY → handled lag, listener reconnects).
//
// postgres.js keeps its connection queues private and PGlite its lock, so "in use" and
// "waiting" are counted here from our side: each transaction holds one connection for its whole
// duration, and transactions beyond the pool size (beyond one on PGlite) wait for one.
import { Counter, Gauge, Histogram } from 'prom-client';
import type { DatabaseConfig } from '../config.ts';
import type { Db } from '../storage/db.ts';
import { registry, secondsSince } from './registry.ts';

const poolSize = new Gauge({
  name: 'cex_db_pool_size',
  help: 'Database connections the pool may open (1 for the embedded PGlite).',
  registers: [registry],
});
new Gauge({
  name: 'cex_db_transactions_in_flight',
  help: 'Database transactions begun and not yet ended, each holding or waiting for a connection.',
  registers: [registry],
  collect() {
    this.set(inFlight);
  },
});
new Gauge({
  name: 'cex_db_transactions_waiting',
  help: 'Transactions beyond the pool size: waiting for a connection (an estimate from our side; the drivers do not tell).',
  registers: [registry],
  collect() {
    this.set(Math.max(0, inFlight - size));
  },
});
let inFlight = 0;
let size = 0;

/**
 * `db` with its transactions counted (one app per process; with several, as in tests, the
 * counts are the process's and the pool size is the last app's). Only `transaction` is wrapped (the other members pass
 * through), so statements behave exactly as on `db`.
 */
export function countTransactions(db: Db, config: DatabaseConfig): Db {
  size = config.kind === 'postgres' ? config.poolSize : 1;
  poolSize.set(size);
  const transaction: Db['transaction'] = async (body, options) => {
    inFlight++;
    try {
      return await db.transaction(body, options);
    } finally {
      inFlight--;
    }
  };
  return new Proxy(db, {
    get: (target, property, receiver) => (property === 'transaction' ? transaction : Reflect.get(target, property, receiver)),
  });
}

const batchSize = new Histogram({
  name: 'cex_group_commit_batch_size',
  help: 'Writes committed together in one transaction, by writer (command_insert, command_result, command_delivery).',
  labelNames: ['writer'],
  buckets: [1, 2, 5, 10, 20, 50, 100, 200],
  registers: [registry],
});
const batchSeconds = new Histogram({
  name: 'cex_group_commit_seconds',
  help: 'Duration of one group commit transaction, by writer.',
  labelNames: ['writer'],
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
  registers: [registry],
});
const waiting = new Gauge({
  name: 'cex_group_commit_waiting',
  help: 'Writes queued for the next group commit, by writer.',
  labelNames: ['writer'],
  registers: [registry],
});

/** What a GroupCommit tells (group-commit.ts). */
export interface GroupCommitObserver {
  /** `delta` writes joined (positive) or left (negative) the queue. */
  queued(delta: number): void;
  committed(size: number, startMs: number): void;
}

export function groupCommitMetrics(writer: 'command_insert' | 'command_result' | 'command_delivery'): GroupCommitObserver {
  const size = batchSize.labels(writer);
  const seconds = batchSeconds.labels(writer);
  const queue = waiting.labels(writer);
  queue.set(0);
  return {
    queued: (delta) => queue.inc(delta),
    committed: (n, startMs) => {
      size.observe(n);
      seconds.observe(secondsSince(startMs));
    },
  };
}

const busLag = new Histogram({
  name: 'cex_event_bus_lag_seconds',
  help: "From an event's NOTIFY being issued (inside its transaction, publisher's clock) to this process having handled it.",
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30],
  registers: [registry],
});
const busReconnects = new Counter({
  name: 'cex_event_bus_reconnects_total',
  help: 'Times the LISTEN connection was lost and re-established (events of the gap were missed).',
  registers: [registry],
});

/** `at`: Date.now() of the publisher when it issued the NOTIFY (absent from older processes). */
export function eventHandled(at: number | undefined): void {
  if (at !== undefined) busLag.observe(Math.max(0, Date.now() - at) / 1000);
}

export function eventBusReconnected(): void {
  busReconnects.inc();
}
