// Command schemas: every change is a new, immutable version row; a null schema marks removal.
import { and, desc, eq, sql } from 'drizzle-orm';
import type { Db } from './db.ts';
import { commandSchemas } from './schema.ts';

export interface StoredCommandSchema {
  id: number;
  applicationVersionId: string;
  commandType: string;
  version: number;
  schema: Record<string, unknown> | null;
  createdAt: Date;
}

/** Serialises writers of one (application version, command type) for the rest of the transaction. */
export async function lockSchemaType(tx: Db, applicationVersionId: string, commandType: string): Promise<void> {
  await tx.execute(sql`select pg_advisory_xact_lock(hashtext(${`${applicationVersionId}/${commandType}`}))`);
}

export async function insertSchemaVersion(
  tx: Db,
  v: { applicationVersionId: string; commandType: string; version: number; schema: Record<string, unknown> | null },
): Promise<StoredCommandSchema> {
  const [row] = await tx.insert(commandSchemas).values(v).returning();
  return toStored(row!);
}

/** The newest version for one type (possibly a removal), or null if it never had one. */
export async function findLatestSchema(
  db: Db,
  applicationVersionId: string,
  commandType: string,
): Promise<StoredCommandSchema | null> {
  const [row] = await db
    .select()
    .from(commandSchemas)
    .where(and(eq(commandSchemas.applicationVersionId, applicationVersionId), eq(commandSchemas.commandType, commandType)))
    .orderBy(desc(commandSchemas.version))
    .limit(1);
  return row ? toStored(row) : null;
}

export async function findSchemaById(db: Db, id: number): Promise<StoredCommandSchema | null> {
  const [row] = await db.select().from(commandSchemas).where(eq(commandSchemas.id, id));
  return row ? toStored(row) : null;
}

/** The newest version of every type of an application version (removals included; callers filter). */
export async function listLatestSchemas(db: Db, applicationVersionId?: string): Promise<StoredCommandSchema[]> {
  const rows = await db
    .selectDistinctOn([commandSchemas.applicationVersionId, commandSchemas.commandType])
    .from(commandSchemas)
    .where(applicationVersionId ? eq(commandSchemas.applicationVersionId, applicationVersionId) : undefined)
    .orderBy(commandSchemas.applicationVersionId, commandSchemas.commandType, desc(commandSchemas.version));
  return rows.map(toStored);
}

function toStored(row: typeof commandSchemas.$inferSelect): StoredCommandSchema {
  return {
    id: row.id,
    applicationVersionId: row.applicationVersionId,
    commandType: row.commandType,
    version: row.version,
    // json reads as unknown; only schemas that compiled (JSON objects) or null are ever written.
    schema: row.schema as Record<string, unknown> | null,
    createdAt: row.createdAt,
  };
}

/** Every version of one type's schema, newest first (removals included; callers filter). */
export async function listSchemaVersions(
  db: Db,
  applicationVersionId: string,
  commandType: string,
): Promise<StoredCommandSchema[]> {
  const rows = await db
    .select()
    .from(commandSchemas)
    .where(and(eq(commandSchemas.applicationVersionId, applicationVersionId), eq(commandSchemas.commandType, commandType)))
    .orderBy(desc(commandSchemas.version));
  return rows as StoredCommandSchema[];
}
