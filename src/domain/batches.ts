// Bulk invoke (docs/api.md, "Fleets: bulk invoke"): one command per targeted endpoint that exists
// and is not revoked, the payload composed and validated once per application version, all rows
// written by one transaction with one event for the whole batch. Counts come from the rows.
import type { EventBus } from '../events/bus.ts';
import { coalescedStream } from '../events/progress-stream.ts';
import type { Logger } from '../logger.ts';
import * as store from '../storage/batch-store.ts';
import type { Db } from '../storage/db.ts';
import * as keys from '../storage/idempotency-store.ts';
import { authorize, isUuid } from './auth.ts';
import { normalizeTarget, resolveTarget, type TargetInput } from './batch-targets.ts';
import type { BatchProgress, CommandBatch } from './batch-types.ts';
import type { BatchChange } from './batch-events.ts';
import type { CommandService } from './commands.ts';
import { MAX_PAGE_SIZE, decodeCursor } from './commands.ts';
import { badInput, notFound } from './errors.ts';
import { checkCommandType } from './identifiers.ts';
import { recordAudit } from './audit.ts';
import { claimOf, keyConflict } from './idempotency.ts';
import type { Command, CommandStatus, Door, Principal } from './types.ts';
import { countCanceled, countCreated } from '../metrics/commands.ts';

/** At most this many progress updates per second per subscriber. */
const PROGRESS_INTERVAL_MS = 200;

export interface InvokeManyInput {
  target: TargetInput;
  commandType: string;
  payload?: unknown;
  retentionSeconds?: number | null;
  idempotencyKey?: string | null;
}

export interface BatchPage {
  items: CommandBatch[];
  hasNextPage: boolean;
}

export class BatchService {
  constructor(
    private readonly db: Db,
    private readonly bus: EventBus,
    private readonly commands: CommandService,
    private readonly log: Logger,
  ) {}

  async invoke(actor: Principal | null, input: InvokeManyInput, door: Door = 'GRAPHQL'): Promise<CommandBatch> {
    const by = authorize(actor, 'OPERATOR');
    const retention = input.retentionSeconds ?? undefined;
    const claim = claimOf(by, input.idempotencyKey, 'invokeCommands', {
      target: normalizeTarget(input.target),
      commandType: input.commandType,
      payload: input.payload ?? null,
      retentionSeconds: this.commands.retentionOf(retention),
    });
    const replay = await this.replay(claim);
    if (replay) return replay;
    checkCommandType(input.commandType);
    const retentionSeconds = this.commands.retentionOf(retention);
    const { target, endpoints, skipped } = await resolveTarget(this.db, input.target);
    const versions = [...new Set(endpoints.map((e) => e.applicationVersionId))];
    const payloads = await Promise.all(
      versions.map(async (v) => ({ applicationVersionId: v, ...(await this.commands.composeFor(v, input.commandType, input.payload ?? null)) })),
    );
    const invoker = { door, apiKeyId: by.keyId, name: by.name };
    const outcome = await this.db.transaction(async (tx) => {
      if (claim) {
        const taken = (await keys.claimKeys(tx, [claim])).get(keys.claimId(claim));
        if (taken) return { taken };
      }
      const batch = await store.insertBatch(tx, {
        commandType: input.commandType,
        payload: input.payload ?? null,
        target,
        createdBy: invoker,
        total: endpoints.length,
        skipped,
      });
      await store.insertBatchCommands(tx, batch, endpoints, payloads, retentionSeconds);
      if (claim) await keys.attachBatch(tx, claim, batch.id);
      await recordAudit(tx, [
        {
          actor: invoker,
          action: 'BATCH_INVOKED',
          target: { type: 'BATCH', id: batch.id },
          input: { target, commandType: input.commandType, payload: input.payload ?? null, retentionSeconds, total: batch.total, skipped: skipped.length },
        },
      ]);
      await this.bus.publish(tx, 'commandBatchChanged', { batchId: batch.id, kind: 'created' });
      return { batch };
    });
    const { batch, taken } = outcome as { batch?: CommandBatch; taken?: keys.Taken };
    if (!batch) {
      if (!taken || taken.requestHash !== claim!.requestHash || !taken.batchId) throw keyConflict(claim!.key);
      return (await store.findBatch(this.db, taken.batchId))!;
    }
    countCreated({ commandType: batch.commandType }, batch.total);
    this.log.info({ batchId: batch.id, total: batch.total, skipped: batch.skipped.length, by: by.keyId }, 'command batch invoked');
    return batch;
  }

  /** Cancels what is still PENDING of the batch (each like cancelCommand); late results still land. */
  async cancel(actor: Principal | null, id: string, door: Door = 'GRAPHQL'): Promise<CommandBatch> {
    const by = authorize(actor, 'OPERATOR');
    const batch = await this.find(id);
    if (!batch) throw notFound(`No command batch with id "${id}".`);
    const invoker = { door, apiKeyId: by.keyId, name: by.name };
    const canceled = await this.db.transaction(async (tx) => {
      const result = await store.cancelBatchCommands(tx, batch.id, invoker);
      await recordAudit(tx, [{ actor: invoker, action: 'BATCH_CANCELED', target: { type: 'BATCH', id: batch.id }, input: { canceled: result.canceled } }]);
      if (result.canceled > 0) {
        await this.bus.publish(tx, 'commandBatchChanged', { batchId: batch.id, kind: 'canceled', canceledAt: result.at });
      }
      return result.canceled;
    });
    countCanceled(batch, canceled);
    this.log.info({ batchId: batch.id, canceled, by: by.keyId }, 'command batch canceled');
    return canceled > 0 ? ((await this.find(batch.id)) ?? batch) : batch;
  }

  async batch(actor: Principal | null, id: string): Promise<CommandBatch | null> {
    authorize(actor, 'VIEWER');
    return this.find(id);
  }

  /** For resolvers that already checked access (Command.batch). */
  async byId(id: string): Promise<CommandBatch | null> {
    return store.findBatch(this.db, id);
  }

  /** Newest first, keyset-paged. */
  async list(actor: Principal | null, first: number | null | undefined, after: string | null | undefined): Promise<BatchPage> {
    authorize(actor, 'VIEWER');
    const limit = pageSize(first, 20);
    const rows = await store.listBatches(this.db, after ? decodeBatchCursor(after) : undefined, limit + 1);
    return { items: rows.slice(0, limit), hasNextPage: rows.length > limit };
  }

  async commandsOf(
    batch: CommandBatch,
    first: number | null | undefined,
    after: string | null | undefined,
    statuses: CommandStatus[] | null | undefined,
  ): Promise<{ commands: Command[]; hasNextPage: boolean }> {
    const limit = pageSize(first, 20);
    const rows = await store.listBatchCommands(this.db, batch.id, statuses ?? undefined, after ? decodeCursor(after) : undefined, limit + 1);
    return { commands: rows.slice(0, limit), hasNextPage: rows.length > limit };
  }

  async progressOf(batch: CommandBatch): Promise<BatchProgress> {
    return { batch, ...(await store.batchCounts(this.db, batch.id)) };
  }

  /** Counts as they change, at most 5 a second; a final one when nothing is PENDING, then the end. */
  async progress(actor: Principal | null, id: string): Promise<AsyncIterableIterator<BatchProgress>> {
    const viewer = authorize(actor, 'VIEWER');
    const batch = await this.find(id);
    if (!batch) throw notFound(`No command batch with id "${id}".`);
    return coalescedStream(this.bus, {
      watch: (poke) => this.bus.on('commandChanged', poke, { batchId: batch.id }),
      read: () => this.progressOf(batch),
      isFinal: (p) => p.counts.pending === 0,
      signature: (p) => JSON.stringify([p.counts, p.statusCodes]),
      intervalMs: PROGRESS_INTERVAL_MS,
      keyId: viewer.keyId,
    });
  }

  /** The batch a live key already names (same input): a retry writes nothing. */
  private async replay(claim: keys.Claim | undefined): Promise<CommandBatch | null> {
    if (!claim) return null;
    const live = await keys.findLive(this.db, claim.apiKeyId, claim.key);
    if (!live) return null;
    if (live.requestHash !== claim.requestHash) throw keyConflict(claim.key);
    return live.batchId ? store.findBatch(this.db, live.batchId) : null;
  }

  private async find(id: string): Promise<CommandBatch | null> {
    return isUuid(id) ? store.findBatch(this.db, id.toLowerCase()) : null;
  }
}

function pageSize(first: number | null | undefined, fallback: number): number {
  const n = first ?? fallback;
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE_SIZE) throw badInput(`"first" must be from 0 to ${MAX_PAGE_SIZE}.`, { field: 'first' });
  return n;
}

/** The commands an event about a batch names (events/bus.ts resolves it once per process). */
export function batchCommands(db: Db, change: BatchChange): Promise<Command[]> {
  return store.batchCommands(db, change.batchId, change.kind === 'canceled' ? change.canceledAt : undefined);
}

// Batch cursors name the last batch's sort key: its creation time and id.
export function encodeBatchCursor(batch: CommandBatch): string {
  return Buffer.from(JSON.stringify(['batch', batch.createdAt.toISOString(), batch.id])).toString('base64url');
}

function decodeBatchCursor(cursor: string): { createdAt: Date; id: string } {
  try {
    const [tag, at, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown[];
    const createdAt = new Date(String(at));
    if (tag === 'batch' && typeof id === 'string' && isUuid(id) && !Number.isNaN(createdAt.getTime())) return { createdAt, id };
  } catch {
    // falls through to the error below
  }
  throw badInput(`"after" is not a cursor this API gave out: "${cursor}".`, { field: 'after' });
}
