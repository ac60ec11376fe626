// Which endpoints are connected over MQTT, in any process, and when each was last seen.
//
// Each process registers itself as a server instance and refreshes its heartbeat; it stores one
// session row per endpoint it holds an MQTT session for. An endpoint is connected while a
// session row of a live instance (fresh heartbeat) exists, so every process agrees, and a
// crashed process's rows stop counting once its heartbeat is stale (and are then removed by
// whichever process notices). Device requests only touch memory: the writes (session rows,
// last_seen_at, throttled per endpoint) are batched by a timer, off the request's path.
import { randomUUID } from 'node:crypto';
import type { Config } from '../config.ts';
import type { Logger } from '../logger.ts';
import type { Db } from '../storage/db.ts';
import * as store from '../storage/presence-store.ts';
import type { EndpointPresence } from '../storage/presence-store.ts';

export type PresenceOptions = Config['presence'];

/** How long stop() waits for the database to take the last presence writes. */
const STOP_TIMEOUT_MS = 2_000;

export class PresenceService {
  readonly instanceId = randomUUID();
  /** Endpoints this process holds at least one MQTT session for. */
  private readonly held = new Set<string>();
  /** Endpoints whose session row must be written (added or removed) at the next flush. */
  private readonly dirty = new Set<string>();
  private readonly seen = new Map<string, Date>();
  /** When this process last queued a last_seen_at write per endpoint (the throttle). */
  private readonly seenQueuedAt = new Map<string, number>();
  private flushTimer: NodeJS.Timeout | undefined;
  private heartbeatTimer: NodeJS.Timeout | undefined;
  private flushing: Promise<void> = Promise.resolve();
  private beating: Promise<void> = Promise.resolve();
  private stopped = false;
  private lookups = new Map<string, ((p: EndpointPresence | undefined) => void)[]>();

  constructor(
    private readonly db: Db,
    private readonly options: PresenceOptions,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    await store.registerInstance(this.db, this.instanceId);
    this.heartbeatTimer = setInterval(() => {
      this.beating = this.beat();
    }, this.options.heartbeatMs);
  }

  /**
   * Writes what is pending and removes this instance and its sessions. Best effort, and bounded:
   * with the database away, the heartbeat going stale ends the sessions all the same.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearInterval(this.heartbeatTimer);
    clearTimeout(this.flushTimer);
    const cleanup = (async () => {
      await this.beating;
      await this.flush();
      await store.removeInstance(this.db, this.instanceId);
    })().catch((error: unknown) =>
      this.log.warn({ err: error }, 'could not remove this server instance; its sessions expire with its heartbeat'),
    );
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([cleanup, new Promise<void>((resolve) => (timer = setTimeout(resolve, STOP_TIMEOUT_MS)))]);
    clearTimeout(timer);
  }

  /** This process now holds an MQTT session for the endpoint (its first binding here). */
  bound(endpointId: string): void {
    this.held.add(endpointId);
    this.dirty.add(endpointId);
    this.seenNow(endpointId);
    this.schedule();
  }

  /** This process's last MQTT session for the endpoint ended. */
  unbound(endpointId: string): void {
    this.held.delete(endpointId);
    this.dirty.add(endpointId);
    this.schedule();
  }

  /** The endpoint made a kp1 request; recorded at most once per throttle period. */
  seenNow(endpointId: string, at = new Date()): void {
    const last = this.seenQueuedAt.get(endpointId);
    if (last !== undefined && at.getTime() - last < this.options.lastSeenThrottleMs) return;
    this.seenQueuedAt.set(endpointId, at.getTime());
    this.seen.set(endpointId, at);
    this.schedule();
  }

  /** Last seen and connected for one endpoint; lookups of the same moment share one query. */
  status(endpointId: string): Promise<EndpointPresence | undefined> {
    return new Promise((resolve) => {
      const waiting = this.lookups.get(endpointId);
      if (waiting) return waiting.push(resolve);
      this.lookups.set(endpointId, [resolve]);
      if (this.lookups.size === 1) setImmediate(() => void this.lookUp());
    });
  }

  private async lookUp(): Promise<void> {
    const batch = this.lookups;
    this.lookups = new Map();
    try {
      const found = await store.findPresence(this.db, [...batch.keys()], this.options.staleAfterMs);
      const byId = new Map(found.map((p) => [p.endpointId, p]));
      for (const [id, waiting] of batch) for (const resolve of waiting) resolve(byId.get(id));
    } catch (error) {
      this.log.warn({ err: error }, 'could not read endpoint presence');
      for (const waiting of batch.values()) for (const resolve of waiting) resolve(undefined);
    }
  }

  private schedule(): void {
    if (this.stopped || this.flushTimer) return;
    this.flushTimer = setTimeout(() => {
      this.flushTimer = undefined;
      void this.flush();
    }, this.options.flushMs);
  }

  /** One flush at a time; a failed one leaves its changes pending for the next. */
  private flush(): Promise<void> {
    this.flushing = this.flushing.then(() => this.write());
    return this.flushing;
  }

  private async write(): Promise<void> {
    const dirty = [...this.dirty];
    const seen = [...this.seen].map(([endpointId, at]) => ({ endpointId, at }));
    this.dirty.clear();
    this.seen.clear();
    if (dirty.length === 0 && seen.length === 0) return;
    try {
      await store.addSessions(this.db, this.instanceId, dirty.filter((id) => this.held.has(id)));
      await store.removeSessions(this.db, this.instanceId, dirty.filter((id) => !this.held.has(id)));
      await store.recordLastSeen(this.db, seen, this.options.lastSeenThrottleMs);
    } catch (error) {
      this.log.warn({ err: error }, 'could not write endpoint presence; retrying');
      for (const id of dirty) this.dirty.add(id);
      for (const s of seen) if (!this.seen.has(s.endpointId)) this.seen.set(s.endpointId, s.at);
      this.schedule();
    }
  }

  private async beat(): Promise<void> {
    try {
      if (!(await store.heartbeat(this.db, this.instanceId)) && !this.stopped) {
        // Another process took this one for dead (the database was out of reach longer than
        // staleAfterMs) and removed its rows: register again with every session held.
        this.log.warn('this server instance was removed as stale; registering its sessions again');
        await store.registerInstance(this.db, this.instanceId);
        for (const id of this.held) this.dirty.add(id);
        await this.flush();
      }
      const removed = await store.removeStaleInstances(this.db, this.options.staleAfterMs);
      if (removed > 0) this.log.info({ instances: removed }, 'removed stale server instances and their sessions');
    } catch (error) {
      this.log.warn({ err: error }, 'presence heartbeat failed');
    }
    const horizon = Date.now() - this.options.lastSeenThrottleMs;
    for (const [id, at] of this.seenQueuedAt) if (at < horizon) this.seenQueuedAt.delete(id);
  }
}
