// API keys, stored as SHA-256 hashes of their secrets.
import { and, count, desc, eq, isNull, sql } from 'drizzle-orm';
import type { ApiKey, ApiKeyRole } from '../domain/types.ts';
import type { Db } from './db.ts';
import { apiKeys } from './schema.ts';

const columns = {
  id: apiKeys.id,
  name: apiKeys.name,
  role: apiKeys.role,
  createdAt: apiKeys.createdAt,
  revokedAt: apiKeys.revokedAt,
};

export async function insertApiKey(db: Db, v: { name: string; role: ApiKeyRole; secretHash: string }): Promise<ApiKey> {
  const [row] = await db.insert(apiKeys).values(v).returning(columns);
  return row!;
}

export async function findActiveApiKeyByHash(db: Db, secretHash: string): Promise<ApiKey | null> {
  const [row] = await db
    .select(columns)
    .from(apiKeys)
    .where(and(eq(apiKeys.secretHash, secretHash), isNull(apiKeys.revokedAt)));
  return row ?? null;
}

/** Every key, newest first, revoked ones included. */
export async function listApiKeys(db: Db): Promise<ApiKey[]> {
  return db.select(columns).from(apiKeys).orderBy(desc(apiKeys.createdAt), desc(apiKeys.id));
}

export async function revokeApiKey(db: Db, id: string): Promise<boolean> {
  const rows = await db
    .update(apiKeys)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(apiKeys.id, id), isNull(apiKeys.revokedAt)))
    .returning({ id: apiKeys.id });
  return rows.length > 0;
}

export async function countApiKeys(db: Db): Promise<number> {
  const [row] = await db.select({ n: count() }).from(apiKeys);
  return row?.n ?? 0;
}

/** Serialises "create the first key if there is none" across processes, for one transaction. */
export async function lockApiKeyBootstrap(db: Db): Promise<void> {
  await db.execute(sql`select pg_advisory_xact_lock(${0x6b6579})`);
}
