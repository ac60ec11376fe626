// A batch finishes when its last PENDING command is settled (executed, expired or canceled),
// by whichever transaction settles it: through results, the expiry sweeper, cancelCommand or
// cancelCommandBatch, in any process. The event bus calls `onPublish` inside every publishing
// transaction; for one that settled commands of batches it locks those batch rows (in id order),
// then, in a later statement, marks finished the ones with nothing PENDING left and enqueues one
// batch.finished webhook event each. Two transactions settling a batch's last two commands at
// once queue on the lock, and the second one's check sees the first one's commit: one of them,
// never both and never neither, finishes the batch. A late result finds finished_at set.
import type { EventName } from '../events/bus.ts';
import * as store from '../storage/batch-store.ts';
import type { Db } from '../storage/db.ts';
import type { BatchChange } from './batch-events.ts';
import type { CommandBatch } from './batch-types.ts';
import type { Command } from './types.ts';

/** What this module needs of the webhooks outbox. */
export interface FinishedSink {
  wants(type: string): boolean;
  enqueue(tx: Db, events: { type: 'batch.finished'; data: unknown }[]): Promise<number>;
}

export class BatchFinisher {
  constructor(private readonly sink: FinishedSink) {}

  readonly onPublish = (tx: Db, name: EventName, events: readonly unknown[]): Promise<void> | undefined => {
    const ids = settledBatchIds(name, events);
    return ids.length > 0 ? this.finish(tx, ids) : undefined;
  };

  private async finish(tx: Db, ids: string[]): Promise<void> {
    const locked = await store.lockBatches(tx, ids);
    if (locked.length === 0) return;
    const finished = await store.markFinished(tx, locked);
    if (finished.length === 0 || !this.sink.wants('batch.finished')) return;
    const events = [];
    for (const batch of finished) events.push({ type: 'batch.finished' as const, data: await this.finishedData(tx, batch) });
    await this.sink.enqueue(tx, events);
  }

  private async finishedData(tx: Db, batch: CommandBatch): Promise<Record<string, unknown>> {
    const { counts, statusCodes } = await store.batchCounts(tx, batch.id);
    return { id: batch.id, commandType: batch.commandType, total: batch.total, finishedAt: batch.finishedAt, counts, statusCodes };
  }
}

/** The batches, sorted, whose commands these events settled; none for other events. */
function settledBatchIds(name: EventName, events: readonly unknown[]): string[] {
  const ids = new Set<string>();
  if (name === 'commandChanged') {
    for (const c of events as Command[]) if (c.batchId && c.status !== 'PENDING') ids.add(c.batchId);
  } else if (name === 'commandBatchChanged') {
    for (const b of events as BatchChange[]) if (b.kind === 'canceled') ids.add(b.batchId);
  }
  return [...ids].sort();
}
