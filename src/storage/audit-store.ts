// The audit trail's rows: appended in the transaction of the action they record, read newest
// first by (at, id). The table refuses UPDATE and DELETE itself (migration "audit-append-only").
import { and, desc, eq, gte, lt, sql, type SQL } from 'drizzle-orm';
import type { Door, Invoker } from '../domain/types.ts';
import type { Db } from './db.ts';
import { auditLog } from './schema.ts';
import { query } from './raw.ts';

export interface AuditRow {
  actor: Invoker | null;
  action: string;
  targetType: string;
  targetId: string;
  input: Record<string, unknown>;
}

export interface StoredAuditRow extends AuditRow {
  id: number;
  at: Date;
}

/**
 * Every row in one INSERT whose text does not depend on how many there are (one JSON
 * parameter), so a group commit of 200 invokes adds one prepared statement, not 200. Sent to the
 * driver as it is (storage/raw.ts): it runs with every group commit.
 */
export async function insertAuditRows(tx: Db, rows: readonly AuditRow[]): Promise<void> {
  if (rows.length === 0) return;
  const values = JSON.stringify(
    rows.map((r) => ({
      k: r.actor?.apiKeyId ?? null,
      n: r.actor?.name ?? null,
      d: r.actor?.door ?? null,
      a: r.action,
      t: r.targetType,
      i: r.targetId,
      p: r.input,
    })),
  );
  await query(tx, INSERT_AUDIT_ROWS, [values]);
}

const INSERT_AUDIT_ROWS = `
  insert into audit_log (actor_key_id, actor_name, actor_door, action, target_type, target_id, input)
  select k, n, d, a, t, i, p from jsonb_to_recordset($1::jsonb) as r(k text, n text, d text, a text, t text, i text, p jsonb)`;

export interface AuditQuery {
  actorKeyId?: string;
  action?: string;
  targetType?: string;
  targetId?: string;
  /** Inclusive. */
  from?: Date;
  /** Exclusive. */
  to?: Date;
  /** Only rows after this position in newest-first order: the cursor. */
  before?: { at: Date; id: number };
  limit: number;
}

/** Newest first: (at, id) descending, walking the index of the filter given (or of `at`). */
export async function listAuditRows(db: Db, q: AuditQuery): Promise<StoredAuditRow[]> {
  const where: SQL[] = [];
  if (q.actorKeyId !== undefined) where.push(eq(auditLog.actorKeyId, q.actorKeyId));
  if (q.action !== undefined) where.push(eq(auditLog.action, q.action));
  if (q.targetType !== undefined) where.push(eq(auditLog.targetType, q.targetType));
  if (q.targetId !== undefined) where.push(eq(auditLog.targetId, q.targetId));
  if (q.from) where.push(gte(auditLog.at, q.from));
  if (q.to) where.push(lt(auditLog.at, q.to));
  if (q.before) where.push(sql`(${auditLog.at}, ${auditLog.id}) < (${q.before.at.toISOString()}::timestamptz, ${q.before.id}::bigint)`);
  const rows = await db
    .select()
    .from(auditLog)
    .where(and(...where))
    .orderBy(desc(auditLog.at), desc(auditLog.id))
    .limit(q.limit);
  return rows.map((r) => ({
    id: r.id,
    at: r.at,
    actor: r.actorKeyId === null ? null : { apiKeyId: r.actorKeyId, name: r.actorName ?? '', door: r.actorDoor as Door },
    action: r.action,
    targetType: r.targetType,
    targetId: r.targetId,
    input: r.input,
  }));
}
