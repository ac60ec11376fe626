// Webhooks, their outbox rows and delivery attempts. Claims lease rows with SKIP LOCKED so that
// several processes share the deliveries without sending one row twice, and only the oldest
// pending row of each lane (webhook, endpoint) is ever claimed, which keeps each lane in order.
import { and, desc, eq, inArray, isNull, lt, sql } from 'drizzle-orm';
import type { Db } from './db.ts';
import { webhookAttempts, webhookEvents, webhooks } from './schema.ts';

export type WebhookRow = typeof webhooks.$inferSelect;
export type AttemptRow = typeof webhookAttempts.$inferSelect & { eventType: string };
export type NewWebhook = Pick<WebhookRow, 'url' | 'events' | 'applicationVersionId' | 'statusCodes' | 'description' | 'secret'>;
export type WebhookChanges = Partial<NewWebhook & { disabledAt: Date | null; disabledReason: string | null }>;
export interface NewEvent {
  webhookId: string;
  type: string;
  lane: string;
  body: string;
}
export interface ClaimedEvent {
  id: number;
  webhookId: string;
  type: string;
  lane: string;
  body: string;
  /** Attempts recorded before this one. */
  attempts: number;
  firstAttemptAt: Date | null;
}

export async function insertWebhook(db: Db, v: NewWebhook): Promise<WebhookRow> {
  const [row] = await db.insert(webhooks).values(v).returning();
  return row!;
}

export async function updateWebhook(db: Db, id: string, changes: WebhookChanges): Promise<WebhookRow | null> {
  const [row] = await db
    .update(webhooks)
    .set({ ...changes, updatedAt: sql`now()`, ...(changes.disabledAt === null ? { failingSince: null } : {}) })
    .where(eq(webhooks.id, id))
    .returning();
  return row ?? null;
}

export async function deleteWebhook(db: Db, id: string): Promise<boolean> {
  return (await db.delete(webhooks).where(eq(webhooks.id, id)).returning({ id: webhooks.id })).length > 0;
}

export async function findWebhook(db: Db, id: string): Promise<WebhookRow | null> {
  const [row] = await db.select().from(webhooks).where(eq(webhooks.id, id));
  return row ?? null;
}

/** Newest first; disabled ones included. */
export async function listWebhooks(db: Db): Promise<WebhookRow[]> {
  return db.select().from(webhooks).orderBy(desc(webhooks.createdAt), desc(webhooks.id));
}

export async function insertEvents(db: Db, rows: NewEvent[]): Promise<number[]> {
  const ids: number[] = [];
  // A statement takes at most 65,535 parameters (4 a row); a batch of 10,000 commands for several webhooks needs more.
  for (let i = 0; i < rows.length; i += 5000) {
    const chunk = rows.slice(i, i + 5000);
    ids.push(...(await db.insert(webhookEvents).values(chunk).returning({ id: webhookEvents.id })).map((r) => r.id));
  }
  return ids;
}

/**
 * Leases the due rows of up to `lanes` lanes, at most `perLane` of each, oldest first. A lane is
 * claimable when its oldest PENDING row is due and not leased: a retrying row holds back the ones
 * after it, and a lane being delivered by another process is skipped. Rows of disabled webhooks
 * wait, except pings, which an operator sends to check a webhook before enabling it again.
 */
export async function claimDue(db: Db, lanes: number, perLane: number, leaseMs: number, owner: string): Promise<ClaimedEvent[]> {
  return db.transaction(async (tx) => {
    const heads = await tx
      .select({ id: webhookEvents.id })
      .from(webhookEvents)
      .innerJoin(webhooks, eq(webhooks.id, webhookEvents.webhookId))
      .where(
        and(
          eq(webhookEvents.state, 'PENDING'),
          sql`${webhookEvents.nextAttemptAt} <= now()`,
          sql`(${webhookEvents.leasedUntil} is null or ${webhookEvents.leasedUntil} < now())`,
          sql`(${webhooks.disabledAt} is null or ${webhookEvents.type} = 'webhook.ping')`,
          sql`not exists (select 1 from webhook_events p where p.webhook_id = ${webhookEvents.webhookId}
                and p.lane = ${webhookEvents.lane} and p.state = 'PENDING' and p.id < ${webhookEvents.id})`,
        ),
      )
      .orderBy(webhookEvents.id)
      .limit(lanes)
      .for('update', { of: webhookEvents, skipLocked: true });
    if (heads.length === 0) return [];
    // The rows after each head are this process's too while it leases the head.
    const headIds = sql.join(heads.map((h) => sql`${h.id}`), sql`, `);
    const ids = perLane <= 1 ? heads.map((h) => h.id) : rowsOf<{ id: number | string }>(
      await tx.execute(sql`
        select id from (
          select e.id, row_number() over (partition by e.webhook_id, e.lane order by e.id) as n
          from webhook_events e
          join webhook_events h on h.id in (${headIds}) and e.webhook_id = h.webhook_id and e.lane = h.lane and e.id >= h.id
          where e.state = 'PENDING' and e.next_attempt_at <= now()
        ) x where n <= ${perLane}`),
    ).map((r) => Number(r.id));
    const rows = await tx
      .update(webhookEvents)
      .set({ leasedUntil: sql`now() + make_interval(secs => ${leaseMs / 1000})`, leasedBy: owner })
      .where(inArray(webhookEvents.id, ids))
      .returning({
        id: webhookEvents.id,
        webhookId: webhookEvents.webhookId,
        type: webhookEvents.type,
        lane: webhookEvents.lane,
        body: webhookEvents.body,
        attempts: webhookEvents.attempts,
        firstAttemptAt: webhookEvents.firstAttemptAt,
      });
    return rows.sort((a, b) => a.id - b.id);
  });
}

/** The rows of db.execute: postgres.js returns them as the result, PGlite in `rows`. */
function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : (result as { rows: T[] }).rows;
}

/** When the next row becomes due (or a lease runs out), for the worker's sleep; null: none pending. */
export async function nextDueAt(db: Db): Promise<Date | null> {
  const [row] = await db
    .select({ at: sql<string | null>`min(greatest(${webhookEvents.nextAttemptAt}, coalesce(${webhookEvents.leasedUntil}, ${webhookEvents.nextAttemptAt})))` })
    .from(webhookEvents)
    .where(eq(webhookEvents.state, 'PENDING'));
  return row?.at ? new Date(row.at) : null;
}

/** What one delivery attempt came to: recorded by the worker, listed by Webhook.deliveries. */
export interface AttemptResult {
  attemptedAt: Date;
  durationMs: number;
  responseStatus: number | null;
  error: string | null;
  outcome: 'SUCCEEDED' | 'RETRYING' | 'FAILED';
  nextAttemptAt: Date | null;
}

export interface Outcome extends AttemptResult {
  event: ClaimedEvent;
}

/**
 * Records the attempts of one round and moves their rows on; only rows this owner still leases
 * change. Returns the webhooks that have now failed for `disableAfterMs` and were disabled.
 */
export async function recordOutcomes(
  db: Db,
  owner: string,
  outcomes: Outcome[],
  unattempted: number[],
  disableAfterMs: number,
  /** Runs in the transaction that disables webhooks, when it does. */
  onDisabled: (tx: Db, webhookIds: string[]) => Promise<void>,
): Promise<string[]> {
  if (outcomes.length === 0 && unattempted.length === 0) return [];
  return db.transaction(async (tx) => {
    const leased = and(eq(webhookEvents.leasedBy, owner), sql`${webhookEvents.leasedUntil} is not null`);
    if (unattempted.length > 0) {
      await tx.update(webhookEvents).set({ leasedUntil: null, leasedBy: null }).where(and(inArray(webhookEvents.id, unattempted), leased));
    }
    if (outcomes.length === 0) return [];
    // A webhook deleted meanwhile took its rows with it.
    const alive = new Set(
      (await tx.select({ id: webhookEvents.id }).from(webhookEvents).where(inArray(webhookEvents.id, outcomes.map((o) => o.event.id))).for('update')).map((r) => r.id),
    );
    outcomes = outcomes.filter((o) => alive.has(o.event.id));
    if (outcomes.length === 0) return [];
    await tx.insert(webhookAttempts).values(
      outcomes.map((o) => ({
        eventId: o.event.id,
        webhookId: o.event.webhookId,
        attempt: o.event.attempts + 1,
        attemptedAt: o.attemptedAt,
        durationMs: o.durationMs,
        responseStatus: o.responseStatus,
        error: o.error,
        outcome: o.outcome,
        nextAttemptAt: o.nextAttemptAt,
      })),
    );
    const attempted = {
      leasedUntil: null,
      leasedBy: null,
      attempts: sql`${webhookEvents.attempts} + 1`,
      firstAttemptAt: sql`coalesce(${webhookEvents.firstAttemptAt}, now())`,
    };
    for (const state of ['SUCCEEDED', 'FAILED'] as const) {
      const ids = outcomes.filter((o) => o.outcome === state).map((o) => o.event.id);
      if (ids.length === 0) continue;
      await tx
        .update(webhookEvents)
        .set({ ...attempted, state: state === 'SUCCEEDED' ? 'DELIVERED' : 'FAILED' })
        .where(and(inArray(webhookEvents.id, ids), leased));
    }
    for (const o of outcomes.filter((x) => x.outcome === 'RETRYING')) {
      await tx
        .update(webhookEvents)
        .set({ ...attempted, nextAttemptAt: o.nextAttemptAt! })
        .where(and(eq(webhookEvents.id, o.event.id), leased));
    }
    const succeeded = [...new Set(outcomes.filter((o) => o.outcome === 'SUCCEEDED').map((o) => o.event.webhookId))];
    const failed = [...new Set(outcomes.filter((o) => o.outcome !== 'SUCCEEDED').map((o) => o.event.webhookId))];
    if (succeeded.length > 0) {
      await tx.update(webhooks).set({ failingSince: null }).where(and(inArray(webhooks.id, succeeded), sql`${webhooks.failingSince} is not null`));
    }
    if (failed.length === 0) return [];
    await tx
      .update(webhooks)
      .set({ failingSince: sql`now()` })
      .where(and(inArray(webhooks.id, failed), isNull(webhooks.failingSince)));
    const disabled = await tx
      .update(webhooks)
      .set({
        disabledAt: sql`now()`,
        disabledReason: `Every delivery failed for ${Math.round(disableAfterMs / 3_600_000)} h`,
        updatedAt: sql`now()`,
      })
      .where(
        and(
          inArray(webhooks.id, failed),
          isNull(webhooks.disabledAt),
          sql`${webhooks.failingSince} <= now() - make_interval(secs => ${disableAfterMs / 1000})`,
        ),
      )
      .returning({ id: webhooks.id });
    const ids = disabled.map((d) => d.id);
    if (ids.length > 0) await onDisabled(tx, ids);
    return ids;
  });
}

/** Attempts of one webhook, newest first, before attempt `beforeId`. */
export async function listAttempts(db: Db, webhookId: string, beforeId: number | undefined, limit: number): Promise<AttemptRow[]> {
  return db
    .select({ ...attemptColumns, eventType: webhookEvents.type })
    .from(webhookAttempts)
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookAttempts.eventId))
    .where(and(eq(webhookAttempts.webhookId, webhookId), beforeId === undefined ? undefined : lt(webhookAttempts.id, beforeId)))
    .orderBy(desc(webhookAttempts.id))
    .limit(limit);
}

const attemptColumns = {
  id: webhookAttempts.id,
  eventId: webhookAttempts.eventId,
  webhookId: webhookAttempts.webhookId,
  attempt: webhookAttempts.attempt,
  attemptedAt: webhookAttempts.attemptedAt,
  durationMs: webhookAttempts.durationMs,
  responseStatus: webhookAttempts.responseStatus,
  error: webhookAttempts.error,
  outcome: webhookAttempts.outcome,
  nextAttemptAt: webhookAttempts.nextAttemptAt,
};

/** The first attempt of an event, once there is one (testWebhook waits for it). */
export async function firstAttempt(db: Db, eventId: number): Promise<AttemptRow | null> {
  const [row] = await db
    .select({ ...attemptColumns, eventType: webhookEvents.type })
    .from(webhookAttempts)
    .innerJoin(webhookEvents, eq(webhookEvents.id, webhookAttempts.eventId))
    .where(eq(webhookAttempts.eventId, eventId))
    .orderBy(webhookAttempts.id)
    .limit(1);
  return row ?? null;
}

/** Sends an event of the webhook again: PENDING, due now, with a fresh 24 h of retries. */
export async function redeliver(db: Db, webhookId: string, eventId: number): Promise<boolean> {
  const rows = await db
    .update(webhookEvents)
    .set({ state: 'PENDING', nextAttemptAt: sql`now()`, firstAttemptAt: null })
    .where(and(eq(webhookEvents.id, eventId), eq(webhookEvents.webhookId, webhookId)))
    .returning({ id: webhookEvents.id });
  return rows.length > 0;
}

export async function notify(db: Db, channel: string): Promise<void> {
  await db.execute(sql`select pg_notify(${channel}, '')`);
}

/** URL and secret of each webhook, for a round of deliveries. */
export async function targetsOf(db: Db, ids: string[]): Promise<Map<string, { url: string; secret: string }>> {
  if (ids.length === 0) return new Map();
  const rows = await db.select({ id: webhooks.id, url: webhooks.url, secret: webhooks.secret }).from(webhooks).where(inArray(webhooks.id, ids));
  return new Map(rows.map((r) => [r.id, r]));
}
