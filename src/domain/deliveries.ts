// The delivery timeline: when a device provably got a command, how often, and over what; and
// the ordered story of a command from its stored columns and its delivery rows.
//
// "Provably" (issue 13): an HTTP poll answer counts once its response is fully written (the
// response's 'finish'), an MQTT packet once the device's PUBACK for it arrives (QoS 1). A reply
// the device never read, or a push it never acknowledged, is not a delivery.
import type { Logger } from '../logger.ts';
import type { Db } from '../storage/db.ts';
import * as store from '../storage/delivery-store.ts';
import { groupCommitMetrics } from '../metrics/database.ts';
import { GroupCommit } from './group-commit.ts';
import type { Command, Invoker } from './types.ts';

export type DeliveryVia = store.DeliveryVia;

const RETRY_MS = 20;
const MAX_ATTEMPTS = 50;

export const COMMAND_EVENT_TYPES = ['CREATED', 'DELIVERED', 'EXECUTED', 'EXPIRED', 'CANCELED', 'LATE_RESULT'] as const;
export type CommandEventType = (typeof COMMAND_EVENT_TYPES)[number];

/** Who or what caused an event. */
export type EventCause =
  | { kind: 'OPERATOR'; invoker: Invoker | null }
  | { kind: 'TRANSPORT'; via: DeliveryVia }
  | { kind: 'DEVICE'; endpointId: string }
  | { kind: 'SERVER' };

export interface CommandEvent {
  type: CommandEventType;
  at: Date;
  cause: EventCause;
}

/**
 * The timeline of a command, oldest first: CREATED, each stored DELIVERED, then how it ended.
 * A result after cancel or expiry is LATE_RESULT, after the CANCELED or EXPIRED it follows.
 */
export function timeline(command: Command, deliveries: store.StoredDelivery[]): CommandEvent[] {
  const events: CommandEvent[] = [
    { type: 'CREATED', at: command.createdAt, cause: { kind: 'OPERATOR', invoker: command.invokedBy } },
    ...deliveries.map((d): CommandEvent => ({ type: 'DELIVERED', at: d.deliveredAt, cause: { kind: 'TRANSPORT', via: d.via } })),
  ];
  if (command.canceledAt) events.push({ type: 'CANCELED', at: command.canceledAt, cause: { kind: 'OPERATOR', invoker: command.canceledBy } });
  if (command.expiredAt) events.push({ type: 'EXPIRED', at: command.expiredAt, cause: { kind: 'SERVER' } });
  if (command.executedAt) {
    const late = command.canceledAt !== null || command.expiredAt !== null;
    events.push({ type: late ? 'LATE_RESULT' : 'EXECUTED', at: command.executedAt, cause: { kind: 'DEVICE', endpointId: command.endpointId } });
  }
  // A stable sort: at one instant (a batch shares its transaction's clock) the events keep the
  // lifecycle order they were listed in, and deliveries their stored order.
  return events.sort((a, b) => a.at.getTime() - b.at.getTime());
}

export class DeliveryService {
  /**
   * Deliveries of many devices share one transaction; off the device's path (nobody waits).
   * Each batch resolves with what it had to skip (rows locked by a result being stored).
   */
  private readonly writes = new GroupCommit<store.Delivery[], store.Delivery[]>(
    async (batches) => {
      const skipped = await store.recordDeliveries(this.db, batches.flat());
      return batches.map((b) => b.filter((d) => skipped.includes(d)));
    },
    { maxBatch: 500, concurrency: 1, observer: groupCommitMetrics('command_delivery') },
  );

  constructor(
    private readonly db: Db,
    private readonly log: Logger,
  ) {}

  /**
   * Records that these commands reached their device. Never throws: a lost write loses a
   * timeline entry, not a command. Resolves once written (tests wait on it).
   */
  async delivered(commandIds: readonly number[], via: DeliveryVia): Promise<void> {
    let pending = commandIds.map((commandId) => ({ commandId, via }));
    try {
      // The lock holder commits within milliseconds; a row still locked after this many tries is left out.
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, RETRY_MS));
        if (attempt === MAX_ATTEMPTS) throw new Error('rows stayed locked');
        pending = await this.writes.run(pending);
      }
    } catch (error) {
      this.log.warn({ err: error, commandIds, via }, 'could not record a delivery');
    }
  }

  async events(command: Command): Promise<CommandEvent[]> {
    return timeline(command, await store.listDeliveries(this.db, command.id));
  }
}
