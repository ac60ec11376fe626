// Idempotency keys: claimed by INSERT … ON CONFLICT in the transaction that writes what the key
// names, so the primary key (not a read before the write) decides between concurrent requests.
import { and, eq, lt, sql } from 'drizzle-orm';
import type { Db } from './db.ts';
import { idempotencyKeys } from './schema.ts';

/** How long a key names its first request; after that it can be used again. */
export const KEY_LIFETIME = sql`interval '24 hours'`;

export interface Claim {
  apiKeyId: string;
  key: string;
  requestHash: string;
}

/** Not claimed now: the live row another request wrote first. */
export interface Taken {
  requestHash: string;
  commandId: number | null;
  batchId?: string | null;
}

const id = (c: Pick<Claim, 'apiKeyId' | 'key'>) => JSON.stringify([c.apiKeyId, c.key]);

/**
 * Claims each key (distinct keys only); a row older than the lifetime is taken over. Returns the
 * keys that were already taken, by `[apiKeyId, key]` JSON. Sorted so two batches lock keys in
 * the same order.
 */
export async function claimKeys(db: Db, claims: Claim[]): Promise<Map<string, Taken>> {
  if (claims.length === 0) return new Map();
  const sorted = [...claims].sort((x, y) => (id(x) < id(y) ? -1 : 1));
  const won = await db
    .insert(idempotencyKeys)
    .values(sorted)
    .onConflictDoUpdate({
      target: [idempotencyKeys.apiKeyId, idempotencyKeys.key],
      set: { requestHash: sql`excluded.request_hash`, createdAt: sql`now()`, commandId: null, batchId: null },
      setWhere: lt(idempotencyKeys.createdAt, sql`now() - ${KEY_LIFETIME}`),
    })
    .returning({ apiKeyId: idempotencyKeys.apiKeyId, key: idempotencyKeys.key });
  const claimed = new Set(won.map(id));
  const lost = sorted.filter((c) => !claimed.has(id(c)));
  if (lost.length === 0) return new Map();
  const rows = await db
    .select()
    .from(idempotencyKeys)
    .where(sql`(${idempotencyKeys.apiKeyId}, ${idempotencyKeys.key}) in (${sql.join(
      lost.map((c) => sql`(${c.apiKeyId}, ${c.key})`),
      sql`, `,
    )})`);
  return new Map(rows.map((r) => [id(r), { requestHash: r.requestHash, commandId: r.commandId, batchId: r.batchId }]));
}

export async function attachCommand(db: Db, claim: Claim, commandId: number): Promise<void> {
  await db
    .update(idempotencyKeys)
    .set({ commandId })
    .where(and(eq(idempotencyKeys.apiKeyId, claim.apiKeyId), eq(idempotencyKeys.key, claim.key)));
}

export async function attachBatch(db: Db, claim: Claim, batchId: string): Promise<void> {
  await db
    .update(idempotencyKeys)
    .set({ batchId })
    .where(and(eq(idempotencyKeys.apiKeyId, claim.apiKeyId), eq(idempotencyKeys.key, claim.key)));
}

/** The live row of a key, if any (a fast path for replays; the claim still decides). */
export async function findLive(db: Db, apiKeyId: string, key: string): Promise<Taken | null> {
  const [row] = await db
    .select({ requestHash: idempotencyKeys.requestHash, commandId: idempotencyKeys.commandId, batchId: idempotencyKeys.batchId })
    .from(idempotencyKeys)
    .where(
      and(
        eq(idempotencyKeys.apiKeyId, apiKeyId),
        eq(idempotencyKeys.key, key),
        sql`${idempotencyKeys.createdAt} >= now() - ${KEY_LIFETIME}`,
      ),
    );
  return row ?? null;
}

/** Deletes up to `limit` keys past their lifetime; returns how many. */
export async function deleteExpired(db: Db, limit: number): Promise<number> {
  const old = db
    .select({ apiKeyId: idempotencyKeys.apiKeyId, key: idempotencyKeys.key })
    .from(idempotencyKeys)
    .where(lt(idempotencyKeys.createdAt, sql`now() - ${KEY_LIFETIME}`))
    .limit(limit)
    .for('update', { skipLocked: true });
  const rows = await db
    .delete(idempotencyKeys)
    .where(sql`(${idempotencyKeys.apiKeyId}, ${idempotencyKeys.key}) in (${old})`)
    .returning({ key: idempotencyKeys.key });
  return rows.length;
}

export { id as claimId };
