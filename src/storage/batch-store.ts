// Command batches (bulk invoke): the batch row, its commands written by one INSERT … SELECT, and
// its counts aggregated from the commands' rows over commands_batch_idx. Counts are never kept
// as counters, so results recorded by any number of processes at once cannot make them drift.
import { and, desc, eq, ilike, inArray, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import type { BatchCounts, BatchTarget, CommandBatch, SkippedEndpoint, StatusCodeCount } from '../domain/batch-types.ts';
import type { Command, CommandStatus, Door, Invoker } from '../domain/types.ts';
import { commandColumns, toCommand } from './command-store.ts';
import type { Db } from './db.ts';
import { escapeLike } from './fleet-store.ts';
import { commandBatches, commands, endpoints } from './schema.ts';

/** An endpoint a batch may address: what decides whether it gets a command. */
export interface TargetEndpoint {
  id: string;
  applicationVersionId: string;
  revoked: boolean;
}

const targetColumns = {
  id: endpoints.id,
  applicationVersionId: endpoints.applicationVersionId,
  revoked: sql<boolean>`${endpoints.revokedAt} is not null`,
};

/** The endpoints among `ids` that exist (revoked ones included). */
export async function findTargetsByIds(db: Db, ids: string[]): Promise<TargetEndpoint[]> {
  if (ids.length === 0) return [];
  const list = JSON.stringify(ids);
  return db
    .select(targetColumns)
    .from(endpoints)
    .where(sql`${endpoints.id} in (select value::uuid from json_array_elements_text(${list}::json))`);
}

/** Up to `limit` endpoints of the versions, optionally with a name containing `search`. */
export async function findTargetsOfVersions(db: Db, versionIds: string[], search: string | undefined, limit: number): Promise<TargetEndpoint[]> {
  if (versionIds.length === 0) return [];
  const where: SQL[] = [inArray(endpoints.applicationVersionId, versionIds)];
  if (search) where.push(ilike(endpoints.name, `%${escapeLike(search)}%`));
  return db.select(targetColumns).from(endpoints).where(and(...where)).orderBy(endpoints.id).limit(limit);
}

export interface NewBatch {
  commandType: string;
  payload: unknown;
  target: BatchTarget;
  createdBy: Invoker;
  total: number;
  skipped: SkippedEndpoint[];
}

export async function insertBatch(db: Db, batch: NewBatch): Promise<CommandBatch> {
  const [row] = await db
    .insert(commandBatches)
    .values({
      commandType: batch.commandType,
      payload: batch.payload ?? null,
      target: batch.target,
      createdByKeyId: batch.createdBy.apiKeyId,
      createdByName: batch.createdBy.name,
      createdVia: batch.createdBy.door,
      total: batch.total,
      skipped: batch.skipped,
      finishedAt: batch.total === 0 ? sql`now()` : null,
    })
    .returning();
  return toBatch(row!);
}

/** The payload composed for one application version, shared by its endpoints' commands. */
export interface VersionPayload {
  applicationVersionId: string;
  payload: unknown;
  schemaVersion: number | null;
}

/**
 * One PENDING command per endpoint, in one statement: the endpoint list and the payloads per
 * version travel as two JSON parameters, so 10,000 rows cost one round trip. Returns how many.
 */
export async function insertBatchCommands(
  db: Db,
  batch: CommandBatch,
  targets: { id: string; applicationVersionId: string }[],
  payloads: VersionPayload[],
  retentionSeconds: number,
): Promise<number> {
  if (targets.length === 0) return 0;
  const list = JSON.stringify(targets.map((t) => ({ e: t.id, v: t.applicationVersionId })));
  const versions = JSON.stringify(
    payloads.map((p) => ({ v: p.applicationVersionId, p: p.payload === undefined || p.payload === null ? null : JSON.stringify(p.payload), s: p.schemaVersion })),
  );
  const by = batch.createdBy;
  const rows = await db.execute<{ n: number }>(sql`
    with inserted as (
      insert into ${commands} (endpoint_id, application_version_id, command_type, payload, schema_version,
        invoked_by_key_id, invoked_by_name, invoked_via, expires_at, batch_id)
      select t.e, t.v, ${batch.commandType}, p.p::json, p.s, ${by.apiKeyId}, ${by.name}, ${by.door},
        now() + make_interval(secs => ${retentionSeconds}), ${batch.id}::uuid
      from json_to_recordset(${list}::json) as t(e uuid, v uuid)
      join json_to_recordset(${versions}::json) as p(v uuid, p text, s int) on p.v = t.v
      returning 1
    )
    select count(*)::int as n from inserted`);
  return Number(rowsOf<{ n: number }>(rows)[0]!.n);
}

/** Counts by status and by status code, from the rows. */
export async function batchCounts(db: Db, batchId: string): Promise<{ counts: BatchCounts; statusCodes: StatusCodeCount[] }> {
  const rows = await db
    .select({ status: commands.status, statusCode: commands.statusCode, n: sql<number>`count(*)::int` })
    .from(commands)
    .where(eq(commands.batchId, batchId))
    .groupBy(commands.status, commands.statusCode);
  const counts: BatchCounts = { pending: 0, executed: 0, expired: 0, canceled: 0 };
  const codes = new Map<number, number>();
  for (const r of rows) {
    counts[r.status.toLowerCase() as keyof BatchCounts] += Number(r.n);
    if (r.statusCode !== null) codes.set(r.statusCode, (codes.get(r.statusCode) ?? 0) + Number(r.n));
  }
  const statusCodes = [...codes].sort(([a], [b]) => a - b).map(([statusCode, count]) => ({ statusCode, count }));
  return { counts, statusCodes };
}

export async function findBatch(db: Db, id: string): Promise<CommandBatch | null> {
  const [row] = await db.select().from(commandBatches).where(eq(commandBatches.id, id));
  return row ? toBatch(row) : null;
}

/** Newest first, after the cursor's (createdAt, id). */
export async function listBatches(db: Db, after: { createdAt: Date; id: string } | undefined, limit: number): Promise<CommandBatch[]> {
  const where = after
    ? or(lt(commandBatches.createdAt, after.createdAt), and(eq(commandBatches.createdAt, after.createdAt), lt(commandBatches.id, after.id)))
    : undefined;
  const rows = await db
    .select()
    .from(commandBatches)
    .where(where)
    .orderBy(desc(commandBatches.createdAt), desc(commandBatches.id))
    .limit(limit);
  return rows.map(toBatch);
}

/** A batch's commands, newest first (by id), optionally by status. */
export async function listBatchCommands(
  db: Db,
  batchId: string,
  statuses: CommandStatus[] | undefined,
  beforeId: number | undefined,
  limit: number,
): Promise<Command[]> {
  const where: SQL[] = [eq(commands.batchId, batchId)];
  if (statuses?.length) where.push(inArray(commands.status, statuses));
  if (beforeId !== undefined) where.push(lt(commands.id, beforeId));
  const rows = await db.select(commandColumns).from(commands).where(and(...where)).orderBy(desc(commands.id)).limit(limit);
  return rows.map(toCommand);
}

/** Every command of the batch, or only those one cancel wrote (`canceledAt` as stored). */
export async function batchCommands(db: Db, batchId: string, canceledAt?: string): Promise<Command[]> {
  const where: SQL[] = [eq(commands.batchId, batchId)];
  if (canceledAt !== undefined) where.push(sql`${commands.canceledAt} = ${canceledAt}::timestamptz`);
  const rows = await db.select(commandColumns).from(commands).where(and(...where)).orderBy(commands.id);
  return rows.map(toCommand);
}

/**
 * Cancels the batch's PENDING, unexpired commands in one guarded UPDATE (the same guard as a
 * single cancel, so a result racing it ends in one outcome per command). Returns how many, and
 * the stored cancel time (full precision) that names this cancel's rows in its event.
 */
export async function cancelBatchCommands(db: Db, batchId: string, by: Invoker): Promise<{ canceled: number; at: string }> {
  const rows = await db.execute<{ n: number; at: string }>(sql`
    with canceled as (
      update ${commands} set status = 'CANCELED', canceled_at = now(), canceled_by_key_id = ${by.apiKeyId},
        canceled_by_name = ${by.name}, canceled_via = ${by.door}, updated_at = now()
      where batch_id = ${batchId}::uuid and status = 'PENDING' and expires_at > now()
      returning 1
    )
    select (select count(*)::int from canceled) as n, now()::text as at`);
  const row = rowsOf<{ n: number; at: string }>(rows)[0]!;
  return { canceled: Number(row.n), at: row.at };
}

/**
 * Marks finished those of `ids` with no PENDING command left, each once. The caller holds the
 * batches' row locks (lockBatches) and calls this in a later statement, so the check sees every
 * command change committed by a transaction that held a lock before it. Returns those it marked.
 */
export async function markFinished(db: Db, ids: string[]): Promise<CommandBatch[]> {
  const rows = await db
    .update(commandBatches)
    .set({ finishedAt: sql`now()` })
    .where(
      and(
        inArray(commandBatches.id, ids),
        isNull(commandBatches.finishedAt),
        sql`not exists (select 1 from ${commands} where ${commands.batchId} = ${commandBatches.id} and ${commands.status} = 'PENDING')`,
      ),
    )
    .returning();
  return rows.map(toBatch);
}

/** Row locks on the batches still unfinished among `ids`, taken in id order (no deadlocks between takers). */
export async function lockBatches(db: Db, ids: string[]): Promise<string[]> {
  const rows = await db
    .select({ id: commandBatches.id })
    .from(commandBatches)
    .where(and(inArray(commandBatches.id, ids), isNull(commandBatches.finishedAt)))
    .orderBy(commandBatches.id)
    .for('update');
  return rows.map((r) => r.id);
}

/** `db.execute` answers an array (postgres.js) or `{ rows }` (PGlite). */
function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : ((result as { rows: T[] }).rows ?? []);
}

function toBatch(row: typeof commandBatches.$inferSelect): CommandBatch {
  return {
    id: row.id,
    commandType: row.commandType,
    payload: row.payload,
    target: row.target as BatchTarget,
    createdBy: { apiKeyId: row.createdByKeyId, name: row.createdByName, door: row.createdVia as Door },
    createdAt: row.createdAt,
    total: row.total,
    skipped: row.skipped as SkippedEndpoint[],
    finishedAt: row.finishedAt,
  };
}

