// Webhook management (ADMIN, like API keys), the outbox cache's life across processes, pings,
// the deliveries list and redelivery. The outbox (outbox.ts) writes rows; the worker
// (delivery-worker.ts) sends them.
import { recordAudit, withAudit, type AuditEntry } from '../domain/audit.ts';
import { authorize, isUuid } from '../domain/auth.ts';
import { badInput, notFound } from '../domain/errors.ts';
import type { RegistryService } from '../domain/registry.ts';
import type { Principal } from '../domain/types.ts';
import type { Logger } from '../logger.ts';
import type { Database, Db } from '../storage/db.ts';
import * as store from '../storage/webhook-store.ts';
import { webhookAudit, webhookSettings } from './audit-entries.ts';
import { DeliveryWorker, messageId, parseMessageId, type DeliveryOptions } from './delivery-worker.ts';
import { OUTBOX_CHANNEL, PING, WEBHOOKS_CHANNEL, WEBHOOK_EVENT_TYPES, WebhookOutbox, type OutboxEvent, type StatusCodeRange, type WebhookEventType } from './outbox.ts';
import { checkWebhookUrl } from './ssrf.ts';
import { newWebhookSecret } from './signing.ts';

export interface Webhook {
  id: string;
  url: string;
  events: WebhookEventType[];
  applicationVersionId: string | null;
  statusCodes: StatusCodeRange[] | null;
  description: string;
  createdAt: Date;
  updatedAt: Date;
  disabledAt: Date | null;
  disabledReason: string | null;
  failingSince: Date | null;
}

export interface WebhookDelivery extends store.AttemptResult {
  id: number;
  /** The webhook-id header of the event (msg_…), for redeliverWebhookEvent. */
  eventId: string;
  eventType: string;
  attempt: number;
}

export interface WebhookInput {
  url: string;
  events: WebhookEventType[];
  applicationVersion?: string | null;
  statusCodes?: StatusCodeRange[] | null;
  description: string;
}

export type WebhookChanges = Partial<WebhookInput> & { enabled?: boolean | null };

const MAX_PAGE = 100;
const MAX_DESCRIPTION = 500;

export class WebhookService {
  readonly outbox: WebhookOutbox;
  private readonly worker: DeliveryWorker;
  private readonly disabledHandlers = new Set<(tx: Db, webhookIds: string[]) => Promise<void> | void>();
  private unlisten: (() => Promise<void>)[] = [];

  constructor(
    private readonly database: Database,
    private readonly db: Db,
    private readonly registry: RegistryService,
    private readonly options: DeliveryOptions,
    private readonly log: Logger,
  ) {
    this.outbox = new WebhookOutbox(db);
    this.worker = new DeliveryWorker(db, options, log, async (tx, ids) => {
      await store.notify(tx, WEBHOOKS_CHANNEL);
      await recordAudit(tx, ids.map((id) => webhookAudit(null, 'WEBHOOK_DISABLED', id)));
      for (const handler of this.disabledHandlers) await handler(tx, ids);
    });
  }

  async start(): Promise<void> {
    const reload = () => void this.outbox.reload().catch((error: unknown) => this.log.error({ err: error }, 'could not reload the webhooks'));
    this.unlisten.push(
      await this.database.listen(WEBHOOKS_CHANNEL, reload, reload),
      await this.database.listen(OUTBOX_CHANNEL, () => this.worker.wake(), () => this.worker.wake()),
    );
    await this.outbox.reload();
    this.worker.start();
  }

  async stop(): Promise<void> {
    await this.worker.stop();
    await Promise.all(this.unlisten.map((u) => u().catch(() => {})));
    this.unlisten = [];
  }

  /**
   * Enqueues events (e.g. batch.finished) inside the caller's transaction `tx`: they are sent
   * if and only if it commits. Costs nothing when no webhook wants the type.
   */
  enqueue(tx: Db, events: OutboxEvent[]): Promise<number> {
    return this.outbox.enqueue(tx, events);
  }

  /**
   * `handler` runs inside the transaction that disables webhooks because their deliveries failed
   * for 24 h, with their ids (the audit trail writes its entry there).
   */
  onDisabled(handler: (tx: Db, webhookIds: string[]) => Promise<void> | void): () => void {
    this.disabledHandlers.add(handler);
    return () => this.disabledHandlers.delete(handler);
  }

  async list(actor: Principal | null): Promise<Webhook[]> {
    authorize(actor, 'ADMIN');
    return (await store.listWebhooks(this.db)).map(toWebhook);
  }

  async create(actor: Principal | null, input: WebhookInput): Promise<{ webhook: Webhook; secret: string }> {
    authorize(actor, 'ADMIN');
    const secret = newWebhookSecret();
    const checked = await this.checked(input);
    const row = await this.db.transaction(async (tx) => {
      const w = await store.insertWebhook(tx, { ...checked, secret });
      await store.notify(tx, WEBHOOKS_CHANNEL);
      await recordAudit(tx, [webhookAudit(actor, 'WEBHOOK_CREATED', w.id, webhookSettings(input))]);
      return w;
    });
    await this.outbox.reload();
    this.log.info({ webhookId: row.id, events: row.events, by: actor?.keyId }, 'webhook created');
    return { webhook: toWebhook(row), secret };
  }

  async update(actor: Principal | null, id: string, changes: WebhookChanges): Promise<Webhook> {
    authorize(actor, 'ADMIN');
    const current = await this.find(id);
    const merged = await this.checked({
      url: changes.url ?? current.url,
      events: changes.events ?? (current.events as WebhookEventType[]),
      applicationVersion: changes.applicationVersion,
      statusCodes: changes.statusCodes === undefined ? current.statusCodes : changes.statusCodes,
      description: changes.description ?? current.description,
    });
    const row = await this.write(id, webhookAudit(actor, 'WEBHOOK_UPDATED', id, webhookSettings(changes)), {
      url: merged.url,
      events: merged.events,
      statusCodes: merged.statusCodes,
      description: merged.description,
      ...(changes.applicationVersion === undefined ? {} : { applicationVersionId: merged.applicationVersionId }),
      ...(changes.enabled === true ? { disabledAt: null, disabledReason: null } : {}),
      ...(changes.enabled === false && current.disabledAt === null ? { disabledAt: new Date(), disabledReason: 'Disabled by an operator' } : {}),
    });
    this.log.info({ webhookId: id, by: actor?.keyId }, 'webhook updated');
    // Enabled again: what waited is due.
    if (changes.enabled) this.worker.wake();
    return row;
  }

  async delete(actor: Principal | null, id: string): Promise<boolean> {
    authorize(actor, 'ADMIN');
    const deleted =
      isUuid(id) &&
      (await retryOnDeadlock(() =>
        this.db.transaction(async (tx) => {
          if (!(await store.deleteWebhook(tx, id))) return false;
          await store.notify(tx, WEBHOOKS_CHANNEL);
          await recordAudit(tx, [webhookAudit(actor, 'WEBHOOK_DELETED', id)]);
          return true;
        }),
      ));
    if (!deleted) throw notFound(`No webhook with id "${id}".`);
    await this.outbox.reload();
    this.log.info({ webhookId: id, by: actor?.keyId }, 'webhook deleted');
    return true;
  }

  /** A new signing secret, in effect for the next attempt; the old one stops working at once. */
  async rotateSecret(actor: Principal | null, id: string): Promise<{ webhook: Webhook; secret: string }> {
    authorize(actor, 'ADMIN');
    await this.find(id);
    const secret = newWebhookSecret();
    const webhook = await this.write(id, webhookAudit(actor, 'WEBHOOK_SECRET_ROTATED', id), { secret });
    this.log.info({ webhookId: id, by: actor?.keyId }, 'webhook secret rotated');
    return { webhook, secret };
  }

  /** Sends a webhook.ping through the outbox and waits (up to the timeout) for its first attempt. */
  async test(actor: Principal | null, id: string): Promise<WebhookDelivery> {
    authorize(actor, 'ADMIN');
    const webhook = await this.find(id);
    const body = JSON.stringify({ type: PING, timestamp: new Date().toISOString(), data: { webhookId: webhook.id } });
    const [eventId] = await this.db.transaction(async (tx) => {
      const ids = await store.insertEvents(tx, [{ webhookId: webhook.id, type: PING, lane: `ping:${Date.now()}:${Math.random()}`, body }]);
      await store.notify(tx, OUTBOX_CHANNEL);
      await recordAudit(tx, [webhookAudit(actor, 'WEBHOOK_TESTED', webhook.id, { eventId: messageId(ids[0]!) })]);
      return ids;
    });
    const deadline = Date.now() + this.options.timeoutMs + 5_000;
    for (;;) {
      const attempt = await store.firstAttempt(this.db, eventId!);
      if (attempt) return toDelivery(attempt);
      if (Date.now() > deadline) throw new Error('The ping was not attempted in time; see the webhook deliveries.');
      await new Promise((r) => setTimeout(r, 100));
    }
  }

  async deliveries(actor: Principal | null, webhookId: string, first: number, after: string | null | undefined): Promise<{ items: WebhookDelivery[]; hasNextPage: boolean }> {
    authorize(actor, 'ADMIN');
    if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE) throw badInput(`"first" must be from 0 to ${MAX_PAGE}.`, { field: 'first' });
    const rows = await store.listAttempts(this.db, webhookId, after ? decodeDeliveryCursor(after) : undefined, first + 1);
    return { items: rows.slice(0, first).map(toDelivery), hasNextPage: rows.length > first };
  }

  async redeliver(actor: Principal | null, webhookId: string, eventId: string): Promise<boolean> {
    authorize(actor, 'ADMIN');
    const row = parseMessageId(eventId);
    const entry = webhookAudit(actor, 'WEBHOOK_EVENT_REDELIVERED', webhookId, { eventId });
    const done = isUuid(webhookId) && row !== null && (await withAudit(this.db, (tx) => store.redeliver(tx, webhookId, row), (ok) => (ok ? entry : null)));
    if (!done) throw notFound(`No event "${eventId}" for webhook "${webhookId}".`);
    this.log.info({ webhookId, eventId, by: actor?.keyId }, 'webhook event redelivered');
    this.worker.wake();
    return true;
  }

  private async find(id: string): Promise<store.WebhookRow> {
    const row = isUuid(id) ? await store.findWebhook(this.db, id) : null;
    if (!row) throw notFound(`No webhook with id "${id}".`);
    return row;
  }

  /** Changes the webhook and records `entry` in one transaction; neither when it is gone. */
  private async write(id: string, entry: AuditEntry, changes: store.WebhookChanges): Promise<Webhook> {
    const row = await this.db.transaction(async (tx) => {
      const w = await store.updateWebhook(tx, id, changes);
      if (w) {
        await store.notify(tx, WEBHOOKS_CHANNEL);
        await recordAudit(tx, [entry]);
      }
      return w;
    });
    if (!row) throw notFound(`No webhook with id "${id}".`);
    await this.outbox.reload();
    return toWebhook(row);
  }

  private async checked(input: WebhookInput): Promise<Omit<store.NewWebhook, 'secret'>> {
    const url = await checkWebhookUrl(input.url, this.options.allowPrivateTargets);
    const events = [...new Set(input.events)];
    if (events.length === 0) throw badInput('Choose at least one event.', { field: 'events' });
    for (const e of events) if (!WEBHOOK_EVENT_TYPES.includes(e)) throw badInput(`Unknown event "${e}".`, { field: 'events' });
    const description = input.description.trim();
    if (description.length > MAX_DESCRIPTION) throw badInput(`A description must be at most ${MAX_DESCRIPTION} characters.`, { field: 'description' });
    const statusCodes = input.statusCodes?.length ? input.statusCodes.map(checkRange) : null;
    if (statusCodes && !events.includes('command.executed')) {
      throw badInput('statusCodes filters command.executed events; subscribe to them too.', { field: 'statusCodes' });
    }
    let applicationVersionId: string | null = null;
    if (input.applicationVersion) {
      const version = await this.registry.versionByNameUnchecked(input.applicationVersion);
      if (!version) throw notFound(`No application version named "${input.applicationVersion}".`);
      applicationVersionId = version.id;
    }
    return { url, events, statusCodes, description, applicationVersionId };
  }
}

function checkRange(r: StatusCodeRange): StatusCodeRange {
  const to = r.to ?? null;
  const int32 = (n: number) => Number.isInteger(n) && n >= -(2 ** 31) && n < 2 ** 31;
  if (!int32(r.from) || (to !== null && (!int32(to) || to < r.from))) {
    throw badInput(`A status code range needs integers with from ≤ to, got ${r.from}..${to ?? ''}.`, { field: 'statusCodes' });
  }
  return { from: r.from, to };
}

function toWebhook(row: store.WebhookRow): Webhook {
  const { secret: _secret, ...rest } = row;
  return { ...rest, events: rest.events as WebhookEventType[] };
}

function toDelivery(row: store.AttemptRow): WebhookDelivery {
  return {
    id: row.id,
    eventId: messageId(row.eventId),
    eventType: row.eventType,
    attempt: row.attempt,
    attemptedAt: row.attemptedAt,
    durationMs: row.durationMs,
    responseStatus: row.responseStatus,
    error: row.error,
    outcome: row.outcome as WebhookDelivery['outcome'],
    nextAttemptAt: row.nextAttemptAt,
  };
}

export function encodeDeliveryCursor(d: WebhookDelivery): string {
  return Buffer.from(`attempt:${d.id}`).toString('base64url');
}

function decodeDeliveryCursor(cursor: string): number {
  const match = /^attempt:([1-9][0-9]{0,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw badInput(`"after" is not a cursor this API gave out: "${cursor}".`, { field: 'after' });
  return Number(match[1]);
}

/**
 * The delete cascades to the webhook's outbox rows while a delivery worker may be recording an
 * attempt on them (it locks an event row, then the webhook row through the attempt's foreign key;
 * the delete takes them the other way round), so PostgreSQL can pick the delete as a deadlock
 * victim. Its transaction rolled back whole (audit entry included): run it again.
 */
async function retryOnDeadlock<T>(run: () => Promise<T>, attempts = 5): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await run();
    } catch (error) {
      const code = (error as { code?: string; cause?: { code?: string } }).cause?.code ?? (error as { code?: string }).code;
      if (code !== '40P01' || attempt >= attempts) throw error;
    }
  }
}
