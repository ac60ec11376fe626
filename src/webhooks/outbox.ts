// The webhooks outbox: event rows written in the transaction of the change they report, so an
// event is never sent for a change that did not commit and never lost for one that did. Rows are
// only written for webhooks that want the event; which ones do is kept in memory per process
// (reloaded when any process changes a webhook, through NOTIFY), so a server without webhooks
// pays one map lookup per published event and no SQL.
import { inArray } from 'drizzle-orm';
import type { EventMap, EventName } from '../events/bus.ts';
import type { Command, TelemetrySample } from '../domain/types.ts';
import { asCanceled, asCreated, type BatchChange } from '../domain/batch-events.ts';
import { batchCommands } from '../storage/batch-store.ts';
import type { Db } from '../storage/db.ts';
import { endpoints } from '../storage/schema.ts';
import * as store from '../storage/webhook-store.ts';

export const WEBHOOK_EVENT_TYPES = [
  'command.created',
  'command.executed',
  'command.expired',
  'command.canceled',
  'telemetry.received',
  'batch.finished',
] as const;
export type WebhookEventType = (typeof WEBHOOK_EVENT_TYPES)[number];
/** What testWebhook sends; no webhook subscribes to it. */
export const PING = 'webhook.ping';

/** NOTIFY channels: new outbox rows (workers wake), and webhook changes (caches reload). */
export const OUTBOX_CHANNEL = 'cex_webhook_outbox';
export const WEBHOOKS_CHANNEL = 'cex_webhooks_changed';

export interface StatusCodeRange {
  from: number;
  /** null: no upper bound. */
  to: number | null;
}

interface Subscriber {
  id: string;
  applicationVersionId: string | null;
  statusCodes: StatusCodeRange[] | null;
}

/** One event to enqueue; `lane` orders it (the endpoint id for device events). */
export interface OutboxEvent {
  type: WebhookEventType;
  data: unknown;
  lane?: string;
  /** Events of a version go to webhooks without a version filter or with this one. */
  applicationVersionId?: string | null;
  /** For command.executed: matched against a webhook's statusCodes. */
  statusCode?: number | null;
}

const COMMAND_EVENT: Record<Command['status'], WebhookEventType> = {
  PENDING: 'command.created',
  EXECUTED: 'command.executed',
  EXPIRED: 'command.expired',
  CANCELED: 'command.canceled',
};

export class WebhookOutbox {
  private byType = new Map<string, Subscriber[]>();
  private generation = 0;
  private latest: Promise<void> = Promise.resolve();

  constructor(private readonly db: Db) {}

  /**
   * Reads the enabled webhooks again; a later reload started meanwhile wins, and this one
   * resolves only once the latest has applied. A caller that changed a webhook and then reloads
   * must not go on with the old set: its own change's NOTIFY starts a reload right after its
   * own, which discards its result (an event invoked at once had no outbox row).
   */
  async reload(): Promise<void> {
    let current = this.read(++this.generation);
    this.latest = current;
    await current;
    while (current !== this.latest) {
      current = this.latest;
      await current;
    }
  }

  private async read(generation: number): Promise<void> {
    const rows = (await store.listWebhooks(this.db)).filter((w) => w.disabledAt === null);
    if (generation !== this.generation) return;
    const byType = new Map<string, Subscriber[]>();
    for (const w of rows) {
      const subscriber = { id: w.id, applicationVersionId: w.applicationVersionId, statusCodes: w.statusCodes };
      for (const type of w.events) byType.set(type, [...(byType.get(type) ?? []), subscriber]);
    }
    this.byType = byType;
  }

  /** Whether any enabled webhook wants events of this type (no I/O). */
  wants(type: string): boolean {
    return (this.byType.get(type)?.length ?? 0) > 0;
  }

  /**
   * Writes the rows of `events` for every webhook that wants them, in `tx` (one multi-row
   * INSERT), and wakes the delivery workers when `tx` commits. Other modules call this for
   * their own events (batch.finished). Returns how many rows were written.
   */
  async enqueue(tx: Db, events: OutboxEvent[]): Promise<number> {
    const timestamp = new Date().toISOString();
    const rows: store.NewEvent[] = [];
    for (const event of events) {
      const matching = (this.byType.get(event.type) ?? []).filter((s) => matches(s, event));
      if (matching.length === 0) continue;
      const body = JSON.stringify({ type: event.type, timestamp, data: event.data });
      for (const s of matching) rows.push({ webhookId: s.id, type: event.type, lane: event.lane ?? '', body });
    }
    if (rows.length === 0) return 0;
    await store.insertEvents(tx, rows);
    await store.notify(tx, OUTBOX_CHANNEL);
    return rows.length;
  }

  /** The event bus calls this inside every publishing transaction (see EventBus.inTransaction). */
  readonly onPublish = (tx: Db, name: EventName, events: readonly unknown[]): Promise<unknown> | undefined => {
    if (name === 'commandChanged') {
      const commands = (events as Command[]).filter((c) => this.wants(COMMAND_EVENT[c.status]));
      return commands.length > 0 ? this.enqueueCommands(tx, commands) : undefined;
    }
    if (name === 'commandBatchChanged') {
      const changes = (events as BatchChange[]).filter((b) => this.wants(b.kind === 'created' ? 'command.created' : 'command.canceled'));
      return changes.length > 0 ? this.enqueueBatchCommands(tx, changes) : undefined;
    }
    if (name === 'telemetryReceived' && this.wants('telemetry.received')) {
      return this.enqueueTelemetry(tx, events as EventMap['telemetryReceived'][]);
    }
    return undefined;
  };

  /**
   * The command.* events of these commands (by each one's status), for writers that announce
   * commands other than through commandChanged (a bulk invoke's one batch event).
   */
  async enqueueCommands(tx: Db, all: Command[]): Promise<void> {
    const commands = all.filter((c) => this.wants(COMMAND_EVENT[c.status]));
    if (commands.length === 0) return;
    const versions = await this.versionsOf(tx, commands.map((c) => c.endpointId), commands.map((c) => COMMAND_EVENT[c.status]));
    await this.enqueue(
      tx,
      commands.map((c) => ({
        type: COMMAND_EVENT[c.status],
        data: commandData(c),
        lane: c.endpointId,
        applicationVersionId: versions.get(c.endpointId) ?? null,
        statusCode: c.statusCode,
      })),
    );
  }

  /** A bulk invoke's or batch cancel's commands, read in `tx` (one query per batch), as their own events. */
  private async enqueueBatchCommands(tx: Db, changes: BatchChange[]): Promise<void> {
    const commands: Command[] = [];
    for (const b of changes) {
      const rows = await batchCommands(tx, b.batchId, b.kind === 'canceled' ? b.canceledAt : undefined);
      commands.push(...rows.map(b.kind === 'canceled' ? asCanceled : asCreated));
    }
    await this.enqueueCommands(tx, commands);
  }

  private async enqueueTelemetry(tx: Db, events: EventMap['telemetryReceived'][]): Promise<void> {
    const versions = await this.versionsOf(tx, events.map((e) => e.endpointId), ['telemetry.received']);
    await this.enqueue(
      tx,
      events.map((e) => ({
        type: 'telemetry.received' as const,
        data: { endpointId: e.endpointId, samples: e.samples.map(sampleData) },
        lane: e.endpointId,
        applicationVersionId: versions.get(e.endpointId) ?? null,
      })),
    );
  }

  /** Endpoint → application version, read only when a webhook filters by version. */
  private async versionsOf(tx: Db, endpointIds: string[], types: string[]): Promise<Map<string, string>> {
    const filtered = types.some((t) => this.byType.get(t)?.some((s) => s.applicationVersionId !== null));
    if (!filtered) return new Map();
    const rows = await tx
      .select({ id: endpoints.id, versionId: endpoints.applicationVersionId })
      .from(endpoints)
      .where(inArray(endpoints.id, [...new Set(endpointIds)]));
    return new Map(rows.map((r) => [r.id, r.versionId]));
  }
}

function matches(s: Subscriber, event: OutboxEvent): boolean {
  if (s.applicationVersionId !== null && s.applicationVersionId !== event.applicationVersionId) return false;
  if (event.type !== 'command.executed' || s.statusCodes === null || s.statusCodes.length === 0) return true;
  const code = event.statusCode ?? NaN;
  return s.statusCodes.some((r) => code >= r.from && (r.to === null || code <= r.to));
}

/** A command as webhook receivers get it: the GraphQL field names, ids as strings. */
export function commandData(c: Command): Record<string, unknown> {
  return {
    id: String(c.id),
    endpointId: c.endpointId,
    commandType: c.commandType,
    status: c.status,
    payload: c.payload ?? null,
    statusCode: c.statusCode,
    reasonPhrase: c.reasonPhrase,
    resultPayload: c.resultPayload ?? null,
    createdAt: c.createdAt,
    expiresAt: c.expiresAt,
    executedAt: c.executedAt,
    canceledAt: c.canceledAt,
    rerunOf: c.rerunOf === null ? null : String(c.rerunOf),
    invokedBy: c.invokedBy,
  };
}

function sampleData(s: TelemetrySample): Record<string, unknown> {
  return { id: String(s.id), timestamp: s.timestamp, receivedAt: s.receivedAt, data: s.data };
}
