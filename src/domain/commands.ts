// The command lifecycle: PENDING on invoke; EXECUTED when the device reports a result;
// EXPIRED when its retention for delivery passes first; CANCELED when an operator withdraws it
// first. A result after expiry or cancel still lands (kp1.md §2), a duplicate result keeps the
// first. One service for every door: GraphQL and REST invokes, devices (HTTP and MQTT) poll and
// report through the same functions.
import type { Config } from '../config.ts';
import type { EventBus } from '../events/bus.ts';
import { jsonByteLength } from '../lib/json.ts';
import type { Logger } from '../logger.ts';
import type { Db } from '../storage/db.ts';
import * as store from '../storage/command-store.ts';
import * as keys from '../storage/idempotency-store.ts';
import { authorize } from './auth.ts';
import { DomainError, badInput, conflict, notFound } from './errors.ts';
import type { RegistryService } from './registry.ts';
import type { Command, CommandStatus, Door, Endpoint, Invoker, Principal } from './types.ts';
import { GroupCommit } from './group-commit.ts';
import { firstReportWins } from './first-report-wins.ts';
import { checkCommandType } from './identifiers.ts';
import { countCanceled, countCreated, countExecuted, countExpired } from '../metrics/commands.ts';
import { groupCommitMetrics } from '../metrics/database.ts';
import { claimOf, keyConflict } from './idempotency.ts';
import { insertWithClaims, type Inserted, type NewCommand } from './command-inserts.ts';
import { recordAudit } from './audit.ts';
import { commandCanceledAudit } from './audit-entries.ts';
import { DeliveryService } from './deliveries.ts';

export const MAX_PAGE_SIZE = 100;

/** Fills in and checks a payload against the command schema of its type, if there is one. */
export interface PayloadComposer {
  compose(
    applicationVersionId: string,
    commandType: string,
    payload: unknown,
  ): Promise<{ payload: unknown; schemaVersion: number | null }>;
}

/** Any JSON goes when a type has no schema, as in Kaa. */
const acceptAnyPayload: PayloadComposer = {
  compose: async (_versionId, _type, payload) => ({ payload, schemaVersion: null }),
};

export interface InvokeInput {
  endpointId: string;
  commandType: string;
  payload?: unknown;
  retentionSeconds?: number | null;
  /** The same key and input within 24 h returns the first command instead of a new one. */
  idempotencyKey?: string | null;
}

export interface RerunOptions {
  retentionSeconds?: number | null;
  idempotencyKey?: string | null;
  door?: Door;
}

export interface HistoryInput {
  endpointId: string;
  commandTypes?: string[] | null;
  statuses?: CommandStatus[] | null;
  /** Only PENDING commands that were (true) or were not yet (false) delivered. */
  delivered?: boolean | null;
  first?: number | null;
  after?: string | null;
}

export interface HistoryPage {
  commands: Command[];
  hasNextPage: boolean;
}

export interface DeviceResult {
  id: number;
  statusCode: number;
  reasonPhrase?: string | null;
  payload?: unknown;
}

export class CommandService {
  /** New commands of concurrent invokes share one transaction (see group-commit.ts). */
  private readonly inserts = new GroupCommit<NewCommand, Inserted>(
    async (list) => {
      const created: Command[] = [];
      const results = await this.db.transaction((tx) => insertWithClaims(tx, this.bus, list, created));
      for (const command of created) countCreated(command);
      return results;
    },
    { maxBatch: 200, concurrency: 2, observer: groupCommitMetrics('command_insert') },
  );

  constructor(
    private readonly db: Db,
    private readonly bus: EventBus,
    private readonly registry: RegistryService,
    private readonly config: Pick<Config, 'maxRetentionSeconds' | 'defaultRetentionSeconds' | 'maxCommandPayloadBytes'>,
    private readonly log: Logger,
    private readonly composer: PayloadComposer = acceptAnyPayload,
  ) {
    this.deliveries = new DeliveryService(db, log);
  }

  /** The delivery timeline: what the doors report as delivered (deliveries.ts). */
  readonly deliveries: DeliveryService;

  async invoke(actor: Principal | null, input: InvokeInput, door: Door = 'GRAPHQL'): Promise<Command> {
    const invoker = invokerOf(authorize(actor, 'OPERATOR'), door);
    const retention = input.retentionSeconds ?? this.config.defaultRetentionSeconds;
    const claim = claimOf(actor!, input.idempotencyKey, 'invokeCommand', {
      endpointId: input.endpointId.toLowerCase(),
      commandType: input.commandType,
      payload: input.payload ?? null,
      retentionSeconds: retention,
    });
    const replay = await this.replay(claim);
    if (replay) return replay;
    const endpoint = await this.activeEndpoint(input.endpointId);
    checkCommandType(input.commandType);
    const retentionSeconds = this.checkRetention(retention);
    const command = await this.create(endpoint, input.commandType, input.payload ?? null, retentionSeconds, null, invoker, claim);
    this.log.info(
      { commandId: command.id, endpointId: endpoint.id, commandType: command.commandType, by: actor?.keyId },
      'command invoked',
    );
    return command;
  }

  /** A new command with the same endpoint, type and payload, linked to the original by rerunOf. */
  async rerun(actor: Principal | null, id: string, options: RerunOptions = {}): Promise<Command> {
    const invoker = invokerOf(authorize(actor, 'OPERATOR'), options.door ?? 'GRAPHQL');
    const { retentionSeconds } = options;
    const claim = claimOf(actor!, options.idempotencyKey, 'rerunCommand', { id, retentionSeconds: retentionSeconds ?? null });
    const replay = await this.replay(claim);
    if (replay) return replay;
    const original = await this.find(id);
    if (!original) throw notFound(`No command with id "${id}".`);
    const endpoint = await this.activeEndpoint(original.endpointId);
    // Without an explicit retention the re-run gets the original's.
    const originalRetention = Math.round((original.expiresAt.getTime() - original.createdAt.getTime()) / 1000);
    const retention = this.checkRetention(
      retentionSeconds ?? Math.min(Math.max(originalRetention, 1), this.config.maxRetentionSeconds),
    );
    const command = await this.create(endpoint, original.commandType, original.payload, retention, original.id, invoker, claim);
    this.log.info({ commandId: command.id, rerunOf: original.id, by: actor?.keyId }, 'command re-run');
    return command;
  }

  /**
   * PENDING → CANCELED: never polled or pushed again. Anything else is a CONFLICT naming its
   * status; a PENDING command past its expiresAt counts as expired (polls already hide it).
   */
  async cancel(actor: Principal | null, id: string, door: Door = 'GRAPHQL'): Promise<Command> {
    const invoker = invokerOf(authorize(actor, 'OPERATOR'), door);
    const n = parseCommandId(id);
    const canceled =
      n === null
        ? null
        : await this.db.transaction(async (tx) => {
            const c = await store.cancelCommand(tx, n, invoker);
            if (c) await recordAudit(tx, [commandCanceledAudit(invoker, c)]);
            if (c) await this.bus.publish(tx, 'commandChanged', c);
            return c;
          });
    if (canceled) {
      countCanceled(canceled);
      this.log.info({ commandId: canceled.id, by: invoker.apiKeyId }, 'command canceled');
      return canceled;
    }
    const current = await this.find(id);
    if (!current) throw notFound(`No command with id "${id}".`);
    const status = current.status === 'PENDING' ? 'EXPIRED' : current.status;
    throw conflict(`Command ${current.id} is ${status}; only a PENDING command can be canceled.`);
  }

  async command(actor: Principal | null, id: string): Promise<Command | null> {
    authorize(actor, 'VIEWER');
    return this.find(id);
  }

  async history(actor: Principal | null, input: HistoryInput): Promise<HistoryPage> {
    authorize(actor, 'VIEWER');
    const first = input.first ?? 20;
    if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
      throw badInput(`"first" must be from 0 to ${MAX_PAGE_SIZE}.`, { field: 'first' });
    }
    const endpoint = await this.registry.endpointById(input.endpointId);
    if (!endpoint) throw notFound(`No endpoint with id "${input.endpointId}".`);
    for (const type of input.commandTypes ?? []) checkCommandType(type);
    const rows = await store.listHistory(this.db, {
      endpointId: endpoint.id,
      commandTypes: input.commandTypes ?? undefined,
      statuses: input.statuses ?? undefined,
      beforeId: input.after ? decodeCursor(input.after) : undefined,
      delivered: input.delivered ?? undefined,
      limit: first + 1,
    });
    return { commands: rows.slice(0, first), hasNextPage: rows.length > first };
  }

  /** A command by id, for resolvers that already checked access (e.g. Command.rerunOf). */
  async byId(id: number): Promise<Command | null> {
    return store.findCommand(this.db, id);
  }

  // ---- what devices do (kp1 CEX) -------------------------------------------------------------

  /** Pending, unexpired commands of a type (or of every type) for an endpoint, oldest first. */
  async outstanding(endpointId: string, commandType?: string): Promise<Command[]> {
    return store.listOutstanding(this.db, endpointId, commandType);
  }

  /**
   * Records a batch of results atomically: either every item is acceptable and the whole batch
   * is stored, or nothing changes (an unknown id, or one of another endpoint or type, is a 404
   * for the whole request: kp1.md §2). Returns the commands that changed.
   */
  async recordResults(endpointId: string, commandType: string, results: DeviceResult[]): Promise<Command[]> {
    if (results.length === 0) return [];
    const outcome = await this.resultWrites.run({ endpointId, commandType, results });
    if (!outcome.ok) throw notFound(outcome.message);
    for (const c of outcome.changed) {
      countExecuted(c);
      this.log.info({ commandId: c.id, endpointId, statusCode: c.statusCode }, 'command executed');
    }
    return outcome.changed;
  }

  /**
   * Result requests of many devices share one transaction: every request is checked first
   * (an unknown id, or one of another endpoint or type, fails that request alone, with nothing
   * of it stored), then the items of the accepted ones are written by one UPDATE.
   */
  private readonly resultWrites = new GroupCommit<
    { endpointId: string; commandType: string; results: DeviceResult[] },
    { ok: true; changed: Command[] } | { ok: false; message: string }
  >(
    (requests) =>
      this.db.transaction(async (tx) => {
        const owners = await store.commandOwners(tx, [...new Set(requests.flatMap((r) => r.results.map((x) => x.id)))]);
        const outcomes = requests.map((r) => {
          const bad = r.results.find((x) => {
            const o = owners.get(x.id);
            return !o || o.endpointId !== r.endpointId || o.commandType !== r.commandType;
          });
          return bad
            ? { ok: false as const, message: `No command ${bad.id} of type "${r.commandType}" for this endpoint.` }
            : { ok: true as const, changed: [] as Command[] };
        });
        const winners = firstReportWins(
          requests.flatMap((r, i) => {
            const outcome = outcomes[i]!;
            if (!outcome.ok) return [];
            return r.results.map((x) => ({
              id: x.id,
              outcome,
              item: {
                id: x.id,
                endpointId: r.endpointId,
                commandType: r.commandType,
                statusCode: x.statusCode,
                reasonPhrase: x.reasonPhrase ?? null,
                resultPayload: x.payload,
              },
            }));
          }),
        );
        const changed = (await store.recordResults(tx, winners.map((w) => w.item))).sort((a, b) => a.id - b.id);
        await this.bus.publishMany(tx, 'commandChanged', changed);
        // The command a report changes is the winning request's.
        const reporter = new Map(winners.map((w) => [w.id, w.outcome]));
        for (const c of changed) reporter.get(c.id)!.changed.push(c);
        return outcomes;
      }),
    { maxBatch: 200, concurrency: 2, observer: groupCommitMetrics('command_result') },
  );

  /** Deletes idempotency keys past their 24 h; run by the sweeper. Returns how many. */
  async forgetOldIdempotencyKeys(batchSize = 500): Promise<number> {
    return keys.deleteExpired(this.db, batchSize);
  }

  /** Expires due commands in batches; returns how many. Run by the sweeper in every process. */
  async expireDue(batchSize = 500): Promise<number> {
    let total = 0;
    for (;;) {
      const expired = await this.db.transaction(async (tx) => {
        const rows = await store.expireDue(tx, batchSize);
        await this.bus.publishMany(tx, 'commandChanged', rows);
        return rows;
      });
      countExpired(expired);
      total += expired.length;
      if (expired.length < batchSize) return total;
    }
  }

  /** A payload composed and checked for one application version (a bulk invoke asks once per version). */
  async composeFor(applicationVersionId: string, commandType: string, payload: unknown) {
    const composed = await this.composer.compose(applicationVersionId, commandType, payload);
    this.checkPayloadSize(composed.payload);
    return composed;
  }

  /** `retentionSeconds` checked, or the default when omitted. */
  retentionOf(seconds: number | null | undefined): number {
    return this.checkRetention(seconds ?? this.config.defaultRetentionSeconds);
  }

  // ---- internals -----------------------------------------------------------------------------

  private async create(
    endpoint: Endpoint,
    commandType: string,
    rawPayload: unknown,
    retentionSeconds: number,
    rerunOf: number | null,
    invokedBy: Invoker,
    claim: keys.Claim | undefined,
  ): Promise<Command> {
    const { payload, schemaVersion } = await this.composer.compose(
      endpoint.applicationVersionId,
      commandType,
      rawPayload,
    );
    this.checkPayloadSize(payload);
    const created = await this.inserts.run({
      endpointId: endpoint.id,
      applicationVersionId: endpoint.applicationVersionId,
      commandType,
      payload,
      retentionSeconds,
      rerunOf,
      schemaVersion,
      invokedBy,
      claim,
    });
    if ('conflictKey' in created) throw keyConflict(created.conflictKey);
    return created;
  }

  /**
   * The command a live key already names (same input), before any checks: a retry gets its
   * command even if the endpoint was revoked since. Only a shortcut: the claim decides races.
   */
  private async replay(claim: keys.Claim | undefined): Promise<Command | null> {
    if (!claim) return null;
    const live = await keys.findLive(this.db, claim.apiKeyId, claim.key);
    if (!live || live.commandId === null) return null;
    if (live.requestHash !== claim.requestHash) throw keyConflict(claim.key);
    return store.findCommand(this.db, live.commandId);
  }

  private async find(id: string): Promise<Command | null> {
    const n = parseCommandId(id);
    return n === null ? null : store.findCommand(this.db, n);
  }

  private async activeEndpoint(id: string): Promise<Endpoint> {
    const endpoint = await this.registry.endpointById(id);
    if (!endpoint) throw notFound(`No endpoint with id "${id}".`);
    if (endpoint.revokedAt) throw badInput(`Endpoint "${id}" is revoked; it cannot receive commands.`);
    return endpoint;
  }

  private checkRetention(seconds: number): number {
    const max = this.config.maxRetentionSeconds;
    if (!Number.isInteger(seconds) || seconds < 1 || seconds > max) {
      throw badInput(`retentionSeconds must be an integer from 1 to ${max}, got ${seconds}.`, {
        field: 'retentionSeconds',
      });
    }
    return seconds;
  }

  private checkPayloadSize(payload: unknown): void {
    const bytes = payload === undefined || payload === null ? 0 : jsonByteLength(payload);
    if (bytes > this.config.maxCommandPayloadBytes) {
      throw new DomainError(
        'BAD_USER_INPUT',
        `The payload is ${bytes} bytes of JSON; the limit is ${this.config.maxCommandPayloadBytes}.`,
        { field: 'payload' },
      );
    }
  }
}

function invokerOf(actor: Principal, door: Door): Invoker {
  return { door, apiKeyId: actor.keyId, name: actor.name };
}

/** GraphQL shows command ids as strings of the integer devices see ("42"). */
export function parseCommandId(id: string): number | null {
  if (!/^[1-9][0-9]{0,15}$/.test(id)) return null;
  const n = Number(id);
  return Number.isSafeInteger(n) ? n : null;
}

// Cursors are opaque to clients; inside they name the last command of the page.
export function encodeCursor(command: Command): string {
  return Buffer.from(`command:${command.id}`).toString('base64url');
}

export function decodeCursor(cursor: string): number {
  const match = /^command:([1-9][0-9]{0,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) throw badInput(`"after" is not a cursor this API gave out: "${cursor}".`, { field: 'after' });
  return Number(match[1]);
}
