// Domain events travel through Postgres NOTIFY on one channel, so every server process on the
// database (this one included) sees every change, and only after the transaction that made it
// commits (NOTIFY is transactional). Nothing is emitted in-process directly: one path for all.
//
// A NOTIFY payload is capped at 8000 bytes by Postgres. Events carry a full snapshot when it
// fits and a reference otherwise; references are resolved with one read per process, not one
// per subscriber. Events are handled in arrival order, one at a time, so a slow resolution
// never reorders what subscribers see.
//
// Subscribers that want one endpoint's or one command's events give a route, and an event
// reaches them by a map lookup on its keys (graphql-yoga's pub/sub routes `topic:id` the same
// way): the cost of an event does not grow with the subscribers of other endpoints.
import type { Command, TelemetrySample } from '../domain/types.ts';
import { asCanceled, asCreated, type BatchChange } from '../domain/batch-events.ts';
import type { Database, Db } from '../storage/db.ts';
import { query } from '../storage/raw.ts';
import type { Logger } from '../logger.ts';
import { eventBusReconnected, eventHandled } from '../metrics/database.ts';

const EVENTS_CHANNEL = 'cex_events';
const MAX_NOTIFY_BYTES = 7900;
// Constant texts on the driver (storage/raw.ts): every write that changes a command sends one.
const NOTIFY = `select pg_notify('${EVENTS_CHANNEL}', $1)`;
const NOTIFY_MANY = `select pg_notify('${EVENTS_CHANNEL}', p) from json_array_elements_text($1::json) with ordinality as t(p, n) order by n`;

export interface EventMap {
  /** A command was created (PENDING), executed or expired. */
  commandChanged: Command;
  /** Telemetry samples were stored for one endpoint. */
  telemetryReceived: { endpointId: string; samples: TelemetrySample[] };
  /** An endpoint's token was revoked or its credentials changed: its device sessions must end. */
  endpointAccessChanged: { endpointId: string };
  /** A command schema version was stored (processes precompile it). */
  commandSchemaChanged: { schemaId: number };
  /** An API key was revoked: its open websockets must close. */
  apiKeyRevoked: { keyId: string };
  /** An endpoint's metadata changed (10/EPMP); readers load it again. */
  endpointMetadataChanged: { endpointId: string };
  /**
   * A bulk invoke created its commands, or a batch cancel canceled them: one NOTIFY for the whole
   * batch. Each process reads the commands once and also emits a commandChanged for each.
   */
  commandBatchChanged: BatchChange;
}
export type EventName = keyof EventMap;

/** What a subscriber may ask for instead of every event of a kind. */
export interface RouteMap {
  commandChanged: { endpointId: string } | { commandId: number } | { batchId: string };
  telemetryReceived: { endpointId: string };
  endpointMetadataChanged: { endpointId: string };
}
export type Route<K extends EventName> = K extends keyof RouteMap ? RouteMap[K] : never;

/** The routes each event is delivered on. */
const ROUTES: { [K in keyof RouteMap]: (event: EventMap[K]) => RouteMap[K][] } = {
  commandChanged: (c) =>
    c.batchId ? [{ endpointId: c.endpointId }, { commandId: c.id }, { batchId: c.batchId }] : [{ endpointId: c.endpointId }, { commandId: c.id }],
  telemetryReceived: (t) => [{ endpointId: t.endpointId }],
  endpointMetadataChanged: (m) => [{ endpointId: m.endpointId }],
};

function routeKey(name: EventName, route: RouteMap[keyof RouteMap]): string {
  if ('batchId' in route) return `${name}:batch:${route.batchId}`;
  return 'commandId' in route ? `${name}:command:${route.commandId}` : `${name}:endpoint:${route.endpointId}`;
}

/** `at`: the publisher's Date.now() when it issued the NOTIFY (for the lag metric). */
type Wire = { at?: number } & (
  | { t: 'command'; c: Command }
  | { t: 'command-ref'; c: Command }
  | { t: 'telemetry'; e: string; s: TelemetrySample[] }
  | { t: 'telemetry-ref'; e: string; ids: number[] }
  | { t: 'endpoint-access'; e: string }
  | { t: 'schema'; id: number }
  | { t: 'key-revoked'; id: string }
  | { t: 'metadata'; e: string }
  | { t: 'batch'; b: BatchChange }
);

export interface EventResolvers {
  command(id: number): Promise<Command | null>;
  telemetry(ids: number[]): Promise<TelemetrySample[]>;
  /** The commands a batch change names (all of the batch, or those one cancel wrote). */
  batchCommands(change: BatchChange): Promise<Command[]>;
}

type Handler<K extends EventName> = (event: EventMap[K]) => void;

export class EventBus {
  private readonly handlers: { [K in EventName]: Set<Handler<K>> } = {
    commandChanged: new Set(),
    telemetryReceived: new Set(),
    endpointAccessChanged: new Set(),
    commandSchemaChanged: new Set(),
    apiKeyRevoked: new Set(),
    endpointMetadataChanged: new Set(),
    commandBatchChanged: new Set(),
  };
  /** Routed handlers by routeKey; a key's set is dropped with its last handler. */
  private readonly routed = new Map<string, Set<Handler<EventName>>>();
  /** Local: told when this process may have missed events (its listener reconnected). */
  private readonly missedHandlers = new Set<() => void>();
  private queue: Promise<void> = Promise.resolve();
  private unlisten: (() => Promise<void>) | undefined;
  /** Runs inside every publishing transaction with its events: the webhooks outbox writes its rows there. */
  inTransaction: ((tx: Db, name: EventName, events: readonly unknown[]) => Promise<unknown> | undefined) | undefined;

  constructor(
    private readonly database: Database,
    private readonly resolvers: EventResolvers,
    private readonly log: Logger,
  ) {}

  async start(): Promise<void> {
    this.unlisten = await this.database.listen(
      EVENTS_CHANNEL,
      (payload) => {
        this.queue = this.queue.then(() => this.deliver(payload));
      },
      () => {
        eventBusReconnected();
        // After the events delivered before the gap.
        this.queue = this.queue.then(() => this.callAll(this.missedHandlers, undefined, 'eventsMissed'));
      },
    );
  }

  async stop(): Promise<void> {
    const unlisten = this.unlisten;
    this.unlisten = undefined;
    if (unlisten) await unlisten().catch(() => {});
    await this.queue;
  }

  /** Queues the event on `tx`: it is sent when, and only if, the transaction commits. */
  async publish<K extends EventName>(tx: Db, name: K, event: EventMap[K]): Promise<void> {
    await this.inTransaction?.(tx, name, [event]);
    await query(tx, NOTIFY, [encode(name, event)]);
  }

  /** Like publish, for many events of one kind in one statement (delivered in this order). */
  async publishMany<K extends EventName>(tx: Db, name: K, events: EventMap[K][]): Promise<void> {
    if (events.length === 0) return;
    if (events.length === 1) return this.publish(tx, name, events[0]!);
    await this.inTransaction?.(tx, name, events);
    const payloads = JSON.stringify(events.map((e) => encode(name, e)));
    await query(tx, NOTIFY_MANY, [payloads]);
  }

  /**
   * `handler` runs when events may have been lost (the database connection that listens was
   * cut and is back): whoever keeps state from events re-reads it.
   */
  onMissed(handler: () => void): () => void {
    this.missedHandlers.add(handler);
    return () => this.missedHandlers.delete(handler);
  }

  /** `handler` gets every event of the kind, or with `route` only the events on that route. */
  on<K extends EventName>(name: K, handler: Handler<K>, route?: Route<K>): () => void {
    if (route === undefined) {
      const set = this.handlers[name] as Set<Handler<K>>;
      set.add(handler);
      return () => set.delete(handler);
    }
    const key = routeKey(name, route);
    const set = (this.routed.get(key) ?? new Set()) as Set<Handler<K>>;
    this.routed.set(key, set as Set<Handler<EventName>>);
    set.add(handler);
    return () => {
      set.delete(handler);
      if (set.size === 0 && this.routed.get(key) === set) this.routed.delete(key);
    };
  }

  private async deliver(payload: string): Promise<void> {
    let at: number | undefined;
    try {
      const wire = JSON.parse(payload) as Wire;
      at = wire.at;
      switch (wire.t) {
        case 'command':
          return this.emit('commandChanged', reviveCommand(wire.c));
        case 'command-ref': {
          // The stored row may have moved on since this event (EXECUTED after a PENDING event):
          // take only the payloads from it, which never change once set.
          const stored = await this.resolvers.command(wire.c.id);
          if (!stored) return;
          const event = reviveCommand(wire.c);
          return this.emit('commandChanged', {
            ...event,
            payload: stored.payload,
            resultPayload: event.status === 'EXECUTED' ? stored.resultPayload : null,
          });
        }
        case 'telemetry':
          return this.emit('telemetryReceived', { endpointId: wire.e, samples: wire.s.map(reviveSample) });
        case 'telemetry-ref':
          return this.emit('telemetryReceived', {
            endpointId: wire.e,
            samples: await this.resolvers.telemetry(wire.ids),
          });
        case 'endpoint-access':
          return this.emit('endpointAccessChanged', { endpointId: wire.e });
        case 'schema':
          return this.emit('commandSchemaChanged', { schemaId: wire.id });
        case 'key-revoked':
          return this.emit('apiKeyRevoked', { keyId: wire.id });
        case 'metadata':
          return this.emit('endpointMetadataChanged', { endpointId: wire.e });
        case 'batch': {
          // As each command was when the change happened, like the events one at a time would be.
          const snapshot = wire.b.kind === 'created' ? asCreated : asCanceled;
          for (const c of await this.resolvers.batchCommands(wire.b)) this.emit('commandChanged', snapshot(c));
          return this.emit('commandBatchChanged', wire.b);
        }
      }
    } catch (error) {
      this.log.error({ err: error }, 'could not deliver a database event');
    } finally {
      eventHandled(at);
    }
  }

  private emit<K extends EventName>(name: K, event: EventMap[K]): void {
    this.callAll(this.handlers[name] as Set<Handler<K>>, event, name);
    if (!(name in ROUTES)) return;
    const routesOf = ROUTES[name as keyof RouteMap] as (event: EventMap[K]) => RouteMap[keyof RouteMap][];
    for (const route of routesOf(event)) {
      const set = this.routed.get(routeKey(name, route)) as Set<Handler<K>> | undefined;
      if (set) this.callAll(set, event, name);
    }
  }

  /** Calls every handler; one that throws is logged and does not stop the others. */
  private callAll<E>(handlers: Iterable<(event: E) => void>, event: E, name: string): void {
    for (const handler of handlers) {
      try {
        handler(event);
      } catch (error) {
        this.log.error({ err: error, event: name }, 'event handler failed');
      }
    }
  }
}

function encode<K extends EventName>(name: K, event: EventMap[K]): string {
  let full: Wire;
  let ref: Wire;
  if (name === 'commandChanged') {
    const command = event as Command;
    full = { t: 'command', c: command };
    // Payloads make a command large; the rest is small, and is the state this event is about.
    ref = { t: 'command-ref', c: { ...command, payload: null, resultPayload: null } };
  } else if (name === 'telemetryReceived') {
    const { endpointId, samples } = event as EventMap['telemetryReceived'];
    full = { t: 'telemetry', e: endpointId, s: samples };
    ref = { t: 'telemetry-ref', e: endpointId, ids: samples.map((s) => s.id) };
  } else if (name === 'apiKeyRevoked') {
    full = ref = { t: 'key-revoked', id: (event as EventMap['apiKeyRevoked']).keyId };
  } else if (name === 'endpointMetadataChanged') {
    full = ref = { t: 'metadata', e: (event as EventMap['endpointMetadataChanged']).endpointId };
  } else if (name === 'commandBatchChanged') {
    full = ref = { t: 'batch', b: event as BatchChange };
  } else if (name === 'commandSchemaChanged') {
    full = ref = { t: 'schema', id: (event as EventMap['commandSchemaChanged']).schemaId };
  } else {
    full = ref = { t: 'endpoint-access', e: (event as EventMap['endpointAccessChanged']).endpointId };
  }
  const at = Date.now();
  const text = JSON.stringify({ ...full, at });
  return Buffer.byteLength(text) <= MAX_NOTIFY_BYTES ? text : JSON.stringify({ ...ref, at });
}

/** Dates travel as ISO strings; only our own objects' date fields are revived, never user data. */
function reviveCommand(c: Command): Command {
  return {
    ...c,
    createdAt: new Date(c.createdAt),
    updatedAt: new Date(c.updatedAt),
    expiresAt: new Date(c.expiresAt),
    executedAt: c.executedAt === null ? null : new Date(c.executedAt),
    canceledAt: c.canceledAt == null ? null : new Date(c.canceledAt),
  };
}

function reviveSample(s: TelemetrySample): TelemetrySample {
  return { ...s, timestamp: new Date(s.timestamp), receivedAt: new Date(s.receivedAt) };
}
