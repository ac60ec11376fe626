// What the primary and the workers of a node (WORKERS > 1) say to each other over the cluster's
// IPC channels. Every message carries `cex` (its kind), so others on the channel are ignored.
import type { Registry } from 'prom-client';
import type { ShareDelta } from '../lib/cluster-share.ts';
import type { Readiness } from '../readiness.ts';

export type WorkerMetrics = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** A worker to the primary. */
export type FromWorker =
  /** Both listeners are up: the worker serves. */
  | { cex: 'serving' }
  /** Budgets and counts this worker took, for the other workers. */
  | { cex: 'share'; deltas: ShareDelta[] }
  /** Asks for the node's readiness or metrics (a /readyz or /metrics request landed here). */
  | { cex: 'node-readiness?' | 'node-metrics?'; id: number }
  /** Answers the primary's questions about this worker. */
  | { cex: 'readiness'; id: number; readiness: Readiness }
  | { cex: 'metrics'; id: number; metrics: WorkerMetrics };

/** The primary to a worker. */
export type FromPrimary =
  | { cex: 'share'; deltas: ShareDelta[] }
  | { cex: 'readiness?' | 'metrics?'; id: number }
  | { cex: 'node-readiness'; id: number; readiness: Readiness }
  | { cex: 'node-metrics'; id: number; text: string };

export function isCexMessage<T extends { cex: string }>(message: unknown): message is T {
  return typeof message === 'object' && message !== null && typeof (message as { cex?: unknown }).cex === 'string';
}
