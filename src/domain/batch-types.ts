// Command batches (docs/api.md, "Fleets: bulk invoke"): domain objects of one bulk invoke.
import type { Invoker } from './types.ts';

export const BATCH_TARGET_KINDS = ['ENDPOINTS', 'APPLICATION_VERSION', 'APPLICATION'] as const;
export type BatchTargetKind = (typeof BATCH_TARGET_KINDS)[number];

/** What the operator addressed; `requested` is how many endpoints that named. */
export interface BatchTarget {
  kind: BatchTargetKind;
  applicationVersion?: string;
  application?: string;
  search?: string;
  requested: number;
}

export const SKIP_REASONS = ['NOT_FOUND', 'REVOKED'] as const;
export type SkipReason = (typeof SKIP_REASONS)[number];

export interface SkippedEndpoint {
  endpointId: string;
  reason: SkipReason;
}

export interface CommandBatch {
  id: string;
  commandType: string;
  /** As the operator gave it; each command holds it as composed for its application version. */
  payload: unknown;
  target: BatchTarget;
  createdBy: Invoker;
  createdAt: Date;
  /** Commands created: one per endpoint that existed and was not revoked. */
  total: number;
  skipped: SkippedEndpoint[];
  /** When its last PENDING command was settled (executed, expired or canceled); null until then. */
  finishedAt: Date | null;
}

export interface BatchCounts {
  pending: number;
  executed: number;
  expired: number;
  canceled: number;
}

export interface StatusCodeCount {
  statusCode: number;
  count: number;
}

/** A batch with its counts as read at one moment (what progress events carry). */
export interface BatchProgress {
  batch: CommandBatch;
  counts: BatchCounts;
  statusCodes: StatusCodeCount[];
}
