// Delivers the outbox. Every process runs one worker; they share rows through leases taken with
// SKIP LOCKED (webhook-store.ts), so a row is sent by one process at a time and, if that process
// dies mid-delivery, again by another once its lease runs out (at least once). A worker sleeps
// until the next row is due and is woken by NOTIFY when rows are written: no fast polling.
import { randomUUID } from 'node:crypto';
import type { Logger } from '../logger.ts';
import type { Db } from '../storage/db.ts';
import * as store from '../storage/webhook-store.ts';
import { sendWebhook } from './sender.ts';

export interface DeliveryOptions {
  /** Per request (the spec's 10 s by default). */
  timeoutMs: number;
  allowPrivateTargets: boolean;
  /** The first retry's delay; each retry doubles it, up to retryMaxDelayMs, with jitter. */
  retryBaseMs: number;
  retryMaxDelayMs: number;
  /** How long an event is retried, and a webhook that only fails stays enabled (24 h). */
  retryForMs: number;
}

/** Lanes leased per round, and rows per lane: lanes go out concurrently, each lane's rows in order. */
const LANES = 100;
const PER_LANE = 20;
/** Longest sleep without a NOTIFY: a safety net, not the way work is found. */
const MAX_SLEEP_MS = 60_000;
const ERROR_PAUSE_MS = 1_000;

export class DeliveryWorker {
  private readonly owner = randomUUID();
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private again = false;
  private stopped = true;
  private failing = false;
  /** Aborted by stop(): requests in flight end at once; their rows are retried (here or elsewhere). */
  private shutdown = new AbortController();

  constructor(
    private readonly db: Db,
    private readonly options: DeliveryOptions,
    private readonly log: Logger,
    /** Runs in the transaction that disables webhooks after their 24 h of failures. */
    private readonly onDisabled: (tx: Db, webhookIds: string[]) => Promise<void>,
  ) {}

  start(): void {
    this.stopped = false;
    this.shutdown = new AbortController();
    this.wake();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.shutdown.abort();
    clearTimeout(this.timer);
    await this.running;
  }

  /** Looks for due rows now (new rows were written, or a lease may have run out). */
  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.again = true;
      return;
    }
    clearTimeout(this.timer);
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  private async loop(): Promise<void> {
    let sleepMs: number;
    try {
      do {
        this.again = false;
        while (!this.stopped && (await this.round()) > 0);
      } while (this.again && !this.stopped);
      const next = await store.nextDueAt(this.db);
      sleepMs = next ? Math.max(0, next.getTime() - Date.now()) + 5 : MAX_SLEEP_MS;
      if (this.failing) this.log.info('webhook deliveries recovered');
      this.failing = false;
    } catch (error) {
      if (!this.failing) this.log.error({ err: error }, 'webhook delivery round failed; retrying');
      this.failing = true;
      sleepMs = ERROR_PAUSE_MS;
    }
    if (this.stopped) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.wake(), Math.min(sleepMs, MAX_SLEEP_MS));
    this.timer.unref();
  }

  /** Leases one round of rows, sends them, records the attempts. Returns how many it sent. */
  private async round(): Promise<number> {
    // A lane starts no request after 2 timeouts, so the lease outlives every request of the
    // round and no other process takes a row still in flight.
    const budgetMs = 2 * this.options.timeoutMs;
    const leaseMs = budgetMs + this.options.timeoutMs + 5_000;
    const started = performance.now();
    const claimed = await store.claimDue(this.db, LANES, PER_LANE, leaseMs, this.owner);
    if (claimed.length === 0) return 0;
    const targets = await store.targetsOf(this.db, [...new Set(claimed.map((c) => c.webhookId))]);
    const lanes = new Map<string, store.ClaimedEvent[]>();
    for (const event of claimed) {
      const key = `${event.webhookId} ${event.lane}`;
      lanes.set(key, [...(lanes.get(key) ?? []), event]);
    }
    const outcomes: store.Outcome[] = [];
    const unattempted: number[] = [];
    await Promise.all(
      [...lanes.values()].map(async (events) => {
        for (const [i, event] of events.entries()) {
          const target = targets.get(event.webhookId);
          if (!target) return;
          if (this.stopped || performance.now() - started > budgetMs) {
            unattempted.push(...events.slice(i).map((e) => e.id));
            return;
          }
          const outcome = await this.deliver(event, target);
          outcomes.push(outcome);
          // In order: the rest of the lane waits for this row's retry.
          if (outcome.outcome === 'RETRYING') {
            unattempted.push(...events.slice(i + 1).map((e) => e.id));
            return;
          }
        }
      }),
    );
    const disabled = await store.recordOutcomes(this.db, this.owner, outcomes, unattempted, this.options.retryForMs, this.onDisabled);
    if (disabled.length > 0) this.log.warn({ webhookIds: disabled }, 'webhooks disabled: their deliveries failed for too long');
    return outcomes.length;
  }

  private async deliver(event: store.ClaimedEvent, target: { url: string; secret: string }): Promise<store.Outcome> {
    const attemptedAt = new Date();
    const result = await sendWebhook(target, { id: messageId(event.id), body: event.body }, {
      timeoutMs: this.options.timeoutMs,
      allowPrivate: this.options.allowPrivateTargets,
      signal: this.shutdown.signal,
    });
    const base = { event, attemptedAt, durationMs: result.durationMs, responseStatus: result.status, error: result.error };
    if (result.error === null) return { ...base, outcome: 'SUCCEEDED', nextAttemptAt: null };
    const expired = event.firstAttemptAt !== null && Date.now() - event.firstAttemptAt.getTime() >= this.options.retryForMs;
    if (!result.retry || expired) {
      const error = result.retry ? `${result.error}; retried for ${Math.round(this.options.retryForMs / 60_000)} min, giving up` : result.error;
      return { ...base, error, outcome: 'FAILED', nextAttemptAt: null };
    }
    return { ...base, outcome: 'RETRYING', nextAttemptAt: new Date(Date.now() + this.backoff(event.attempts + 1)) };
  }

  /** Exponential, capped, with jitter (half fixed, half random) so failed receivers are not hit in step. */
  private backoff(attempt: number): number {
    const delay = Math.min(this.options.retryMaxDelayMs, this.options.retryBaseMs * 2 ** Math.min(attempt - 1, 30));
    return delay / 2 + Math.random() * (delay / 2);
  }
}

/** The webhook-id header: stable across the retries and redeliveries of one row. */
export function messageId(rowId: number): string {
  return `msg_${rowId}`;
}

export function parseMessageId(id: string): number | null {
  const match = /^msg_([1-9][0-9]{0,15})$/.exec(id);
  return match ? Number(match[1]) : null;
}
