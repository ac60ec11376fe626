// What one event says about a whole batch (events/bus.ts), and each command as it was at that
// change: the stored row may have moved on (executed) by the time a process reads it.
import type { Command } from './types.ts';

export type BatchChange =
  | { batchId: string; kind: 'created' }
  /** `canceledAt`: the stored cancel time as text (full precision), naming that cancel's rows. */
  | { batchId: string; kind: 'canceled'; canceledAt: string };

const unsettled = { statusCode: null, reasonPhrase: null, resultPayload: null, executedAt: null } as const;

export function asCreated(c: Command): Command {
  return {
    ...c,
    ...unsettled,
    status: 'PENDING',
    canceledAt: null,
    canceledBy: null,
    expiredAt: null,
    deliveredAt: null,
    deliveryCount: 0,
    lastDeliveredVia: null,
    updatedAt: c.createdAt,
  };
}

export function asCanceled(c: Command): Command {
  return { ...c, ...unsettled, status: 'CANCELED', updatedAt: c.canceledAt ?? c.updatedAt };
}
