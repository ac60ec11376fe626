// Commands: the lifecycle's reads and writes. Status changes are single guarded UPDATEs, so
// concurrent processes (sweeper vs. result, two sweepers) settle on exactly one outcome.
import { and, asc, desc, eq, getTableColumns, inArray, lt, lte, gt, ne, sql, type SQL } from 'drizzle-orm';
import type { Command, CommandStatus, Door, Invoker } from '../domain/types.ts';
import type { Db } from './db.ts';
import { commands } from './schema.ts';
import { pendingDelivered } from './delivery-store.ts';

const { applicationVersionId: _versionCopy, ...columns } = getTableColumns(commands);
/** Every column but the copy of the endpoint's application version, which only indexes need. */
export const commandColumns = columns;

type CommandRow = { [K in keyof typeof columns]: (typeof commands.$inferSelect)[K] };

function invoker(keyId: string | null, name: string | null, via: string | null): Invoker | null {
  return keyId === null ? null : { apiKeyId: keyId, name: name ?? '', door: via as Door };
}

/** The domain object of a row: who invoked and canceled it become Invokers. */
export function toCommand(row: CommandRow): Command {
  const { invokedByKeyId, invokedByName, invokedVia, canceledByKeyId, canceledByName, canceledVia, ...rest } = row;
  return {
    ...rest,
    invokedBy: invoker(invokedByKeyId, invokedByName, invokedVia),
    canceledBy: invoker(canceledByKeyId, canceledByName, canceledVia),
  };
}

const toCommands = (rows: CommandRow[]) => rows.map(toCommand);

export interface NewCommand {
  endpointId: string;
  /** The endpoint's application version (copied for the fleet history's index). */
  applicationVersionId: string;
  commandType: string;
  payload: unknown;
  retentionSeconds: number;
  rerunOf: number | null;
  schemaVersion: number | null;
  invokedBy: Invoker;
}

/** Several commands in one INSERT; rows come back in the order given. */
export async function insertCommands(db: Db, list: NewCommand[]): Promise<Command[]> {
  if (list.length === 0) return [];
  const rows = await db
    .insert(commands)
    .values(
      list.map((c) => ({
        endpointId: c.endpointId,
        applicationVersionId: c.applicationVersionId,
        commandType: c.commandType,
        payload: c.payload ?? null,
        rerunOf: c.rerunOf,
        schemaVersion: c.schemaVersion,
        invokedByKeyId: c.invokedBy.apiKeyId,
        invokedByName: c.invokedBy.name,
        invokedVia: c.invokedBy.door,
        expiresAt: sql`now() + make_interval(secs => ${c.retentionSeconds})`,
      })),
    )
    .returning(commandColumns);
  // Identity values are assigned in VALUES order; sort to be independent of RETURNING order.
  return toCommands(rows.sort((a, b) => a.id - b.id));
}

export async function findCommand(db: Db, id: number): Promise<Command | null> {
  const [row] = await db.select(commandColumns).from(commands).where(eq(commands.id, id));
  return row ? toCommand(row) : null;
}

export interface HistoryQuery {
  endpointId: string;
  commandTypes?: string[];
  statuses?: CommandStatus[];
  /** Only commands older (smaller id) than this one: the cursor. */
  beforeId?: number;
  /** Only PENDING commands that were (true) or were not yet (false) delivered. */
  delivered?: boolean;
  limit: number;
}

/** Newest first. Ids grow with creation, so "newest first" is id order and cursors are stable. */
export async function listHistory(db: Db, q: HistoryQuery): Promise<Command[]> {
  const where: SQL[] = [eq(commands.endpointId, q.endpointId)];
  if (q.commandTypes?.length) where.push(inArray(commands.commandType, q.commandTypes));
  if (q.statuses?.length) where.push(inArray(commands.status, q.statuses));
  if (q.beforeId !== undefined) where.push(lt(commands.id, q.beforeId));
  if (q.delivered !== undefined) where.push(pendingDelivered(q.delivered));
  return toCommands(
    await db.select(commandColumns).from(commands).where(and(...where)).orderBy(desc(commands.id)).limit(q.limit),
  );
}

/** Pending and not yet past retention, oldest first (kp1.md §2, command request). */
export async function listOutstanding(db: Db, endpointId: string, commandType?: string): Promise<Command[]> {
  const where: SQL[] = [eq(commands.endpointId, endpointId), eq(commands.status, 'PENDING'), gt(commands.expiresAt, sql`now()`)];
  if (commandType !== undefined) where.push(eq(commands.commandType, commandType));
  return toCommands(await db.select(commandColumns).from(commands).where(and(...where)).orderBy(asc(commands.id)));
}

export interface ResultValues {
  statusCode: number;
  reasonPhrase: string | null;
  resultPayload: unknown;
}

/** Endpoint and type of each existing command among `ids`. */
export async function commandOwners(db: Db, ids: number[]): Promise<Map<number, { endpointId: string; commandType: string }>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({ id: commands.id, endpointId: commands.endpointId, commandType: commands.commandType })
    .from(commands)
    .where(inArray(commands.id, ids));
  return new Map(rows.map((r) => [r.id, { endpointId: r.endpointId, commandType: r.commandType }]));
}

export interface ResultItem extends ResultValues {
  id: number;
  endpointId: string;
  commandType: string;
}

/**
 * Marks each command EXECUTED with its result, unless it already is: a duplicate result keeps
 * the first, and a result for an EXPIRED or CANCELED command still lands (kp1.md §2, "Result";
 * canceled_at stays, so both facts show). One UPDATE
 * for all items; an item whose id, endpoint and type do not match a row changes nothing.
 * Returns the commands that changed.
 */
export async function recordResults(db: Db, items: ResultItem[]): Promise<Command[]> {
  if (items.length === 0) return [];
  const values = JSON.stringify(
    items.map((i) => ({
      id: i.id,
      e: i.endpointId,
      t: i.commandType,
      s: i.statusCode,
      r: i.reasonPhrase,
      p: i.resultPayload === undefined || i.resultPayload === null ? null : JSON.stringify(i.resultPayload),
    })),
  );
  const rows = await db
    .update(commands)
    .set({
      status: 'EXECUTED',
      statusCode: sql`v.s`,
      reasonPhrase: sql`v.r`,
      resultPayload: sql`v.p::json`,
      executedAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .from(sql`json_to_recordset(${values}::json) as v(id bigint, e uuid, t text, s int, r text, p text)`)
    .where(
      and(
        sql`${commands.id} = v.id`,
        sql`${commands.endpointId} = v.e`,
        sql`${commands.commandType} = v.t`,
        ne(commands.status, 'EXECUTED'),
      ),
    )
    .returning(commandColumns);
  return toCommands(rows);
}

/**
 * Expires up to `limit` due commands. SKIP LOCKED lets several processes sweep at once without
 * waiting on each other or on a result being written; the status guard in the UPDATE makes the
 * result-vs-expiry race end in exactly one outcome.
 */
export async function expireDue(db: Db, limit: number): Promise<Command[]> {
  const due = db
    .select({ id: commands.id })
    .from(commands)
    .where(and(eq(commands.status, 'PENDING'), lte(commands.expiresAt, sql`now()`)))
    .orderBy(asc(commands.id))
    .limit(limit)
    .for('update', { skipLocked: true });
  return toCommands(
    await db
      .update(commands)
      .set({ status: 'EXPIRED', expiredAt: sql`now()`, updatedAt: sql`now()` })
      .where(and(inArray(commands.id, due), eq(commands.status, 'PENDING')))
      .returning(commandColumns),
  );
}

/**
 * PENDING and not yet due → CANCELED, in one guarded UPDATE: against a result or the sweeper
 * writing at the same moment exactly one of them changes the row. Null when it was not PENDING.
 */
export async function cancelCommand(db: Db, id: number, by: Invoker): Promise<Command | null> {
  const [row] = await db
    .update(commands)
    .set({
      status: 'CANCELED',
      canceledAt: sql`now()`,
      canceledByKeyId: by.apiKeyId,
      canceledByName: by.name,
      canceledVia: by.door,
      updatedAt: sql`now()`,
    })
    .where(and(eq(commands.id, id), eq(commands.status, 'PENDING'), gt(commands.expiresAt, sql`now()`)))
    .returning(commandColumns);
  return row ? toCommand(row) : null;
}
