// Commands: the lifecycle's reads and writes. Status changes are single guarded UPDATEs, so
// concurrent processes (sweeper vs. result, two sweepers) settle on exactly one outcome.
import { and, asc, desc, eq, inArray, lt, lte, gt, ne, sql, type SQL } from 'drizzle-orm';
import type { Command, CommandStatus } from '../domain/types.ts';
import type { Db } from './db.ts';
import { commands } from './schema.ts';

export interface NewCommand {
  endpointId: string;
  commandType: string;
  payload: unknown;
  retentionSeconds: number;
  rerunOf: number | null;
  schemaVersion: number | null;
}

export async function insertCommand(db: Db, c: NewCommand): Promise<Command> {
  const [row] = await db
    .insert(commands)
    .values({
      endpointId: c.endpointId,
      commandType: c.commandType,
      payload: c.payload ?? null,
      rerunOf: c.rerunOf,
      schemaVersion: c.schemaVersion,
      expiresAt: sql`now() + make_interval(secs => ${c.retentionSeconds})`,
    })
    .returning();
  return row!;
}

export async function findCommand(db: Db, id: number): Promise<Command | null> {
  const [row] = await db.select().from(commands).where(eq(commands.id, id));
  return row ?? null;
}

export interface HistoryQuery {
  endpointId: string;
  commandTypes?: string[];
  statuses?: CommandStatus[];
  /** Only commands older (smaller id) than this one: the cursor. */
  beforeId?: number;
  limit: number;
}

/** Newest first. Ids grow with creation, so "newest first" is id order and cursors are stable. */
export async function listHistory(db: Db, q: HistoryQuery): Promise<Command[]> {
  const where: SQL[] = [eq(commands.endpointId, q.endpointId)];
  if (q.commandTypes?.length) where.push(inArray(commands.commandType, q.commandTypes));
  if (q.statuses?.length) where.push(inArray(commands.status, q.statuses));
  if (q.beforeId !== undefined) where.push(lt(commands.id, q.beforeId));
  return db
    .select()
    .from(commands)
    .where(and(...where))
    .orderBy(desc(commands.id))
    .limit(q.limit);
}

/** Pending and not yet past retention, oldest first (kp1.md §2, command request). */
export async function listOutstanding(db: Db, endpointId: string, commandType?: string): Promise<Command[]> {
  const where: SQL[] = [eq(commands.endpointId, endpointId), eq(commands.status, 'PENDING'), gt(commands.expiresAt, sql`now()`)];
  if (commandType !== undefined) where.push(eq(commands.commandType, commandType));
  return db.select().from(commands).where(and(...where)).orderBy(asc(commands.id));
}

export interface ResultValues {
  statusCode: number;
  reasonPhrase: string | null;
  resultPayload: unknown;
}

/**
 * EXECUTED, unless it already is: a duplicate result keeps the first, and a result for an
 * EXPIRED command still lands (kp1.md §2, "Result"). Returns null when nothing changed.
 */
export async function recordResult(
  db: Db,
  target: { id: number; endpointId: string; commandType: string },
  result: ResultValues,
): Promise<Command | null> {
  const [row] = await db
    .update(commands)
    .set({
      status: 'EXECUTED',
      statusCode: result.statusCode,
      reasonPhrase: result.reasonPhrase,
      resultPayload: result.resultPayload ?? null,
      executedAt: sql`now()`,
      updatedAt: sql`now()`,
    })
    .where(
      and(
        eq(commands.id, target.id),
        eq(commands.endpointId, target.endpointId),
        eq(commands.commandType, target.commandType),
        ne(commands.status, 'EXECUTED'),
      ),
    )
    .returning();
  return row ?? null;
}

/** Whether the command exists for exactly this endpoint and type (for telling 404 from a duplicate). */
export async function commandBelongsTo(
  db: Db,
  target: { id: number; endpointId: string; commandType: string },
): Promise<boolean> {
  const [row] = await db
    .select({ id: commands.id })
    .from(commands)
    .where(
      and(
        eq(commands.id, target.id),
        eq(commands.endpointId, target.endpointId),
        eq(commands.commandType, target.commandType),
      ),
    );
  return row !== undefined;
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
  return db
    .update(commands)
    .set({ status: 'EXPIRED', updatedAt: sql`now()` })
    .where(and(inArray(commands.id, due), eq(commands.status, 'PENDING')))
    .returning();
}
