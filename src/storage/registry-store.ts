// Applications, application versions and endpoints.
import { and, asc, eq, getTableColumns, inArray, isNull, sql } from 'drizzle-orm';
import type { Application, ApplicationVersion, Endpoint } from '../domain/types.ts';
import type { Db } from './db.ts';
import { applications, applicationVersions, endpoints } from './schema.ts';
import { query, selection } from './raw.ts';

export const endpointColumns = {
  id: endpoints.id,
  applicationVersionId: endpoints.applicationVersionId,
  name: endpoints.name,
  mqttUsername: endpoints.mqttUsername,
  createdAt: endpoints.createdAt,
  revokedAt: endpoints.revokedAt,
};

export async function insertApplication(db: Db, name: string): Promise<Application | null> {
  const [row] = await db.insert(applications).values({ name }).onConflictDoNothing().returning();
  return row ?? null;
}

export async function findApplicationByName(db: Db, name: string): Promise<Application | null> {
  const [row] = await db.select().from(applications).where(eq(applications.name, name));
  return row ?? null;
}

export async function findApplicationsByIds(db: Db, ids: readonly string[]): Promise<Application[]> {
  if (ids.length === 0) return [];
  return db.select().from(applications).where(inArray(applications.id, [...ids]));
}

export async function listApplications(db: Db): Promise<Application[]> {
  return db.select().from(applications).orderBy(asc(applications.name));
}

export async function insertApplicationVersion(
  db: Db,
  applicationId: string,
  name: string,
): Promise<ApplicationVersion | null> {
  const [row] = await db
    .insert(applicationVersions)
    .values({ applicationId, name })
    .onConflictDoNothing()
    .returning();
  return row ?? null;
}

export async function listVersionsOfApplications(db: Db, applicationIds: string[]): Promise<ApplicationVersion[]> {
  if (applicationIds.length === 0) return [];
  return db
    .select()
    .from(applicationVersions)
    .where(inArray(applicationVersions.applicationId, applicationIds))
    .orderBy(asc(applicationVersions.name));
}

export async function findVersionByName(db: Db, name: string): Promise<ApplicationVersion | null> {
  const [row] = await db.select().from(applicationVersions).where(eq(applicationVersions.name, name));
  return row ?? null;
}

export async function findVersionsByIds(db: Db, ids: readonly string[]): Promise<ApplicationVersion[]> {
  if (ids.length === 0) return [];
  return db.select().from(applicationVersions).where(inArray(applicationVersions.id, [...ids]));
}

export async function insertEndpoint(
  db: Db,
  values: { applicationVersionId: string; name: string | null; tokenHash: string },
): Promise<Endpoint | null> {
  const [row] = await db.insert(endpoints).values(values).onConflictDoNothing().returning(endpointColumns);
  return row ?? null;
}

// Every device request and invoke looks its endpoint up (lookup-cache.ts keeps them 2 s): plain
// statements on the driver (raw.ts), without the query builder.
const endpointRow = selection<Endpoint>(endpointColumns, 'e');
const versionRow = selection<ApplicationVersion>(getTableColumns(applicationVersions), 'v', 'v_');
const ENDPOINT_BY_ID = `select ${endpointRow.list} from endpoints e where e.id = $1`;
const ACTIVE_ENDPOINT_BY_TOKEN_HASH = `select ${endpointRow.list}, ${versionRow.list}
  from endpoints e join application_versions v on v.id = e.application_version_id
  where e.token_hash = $1 and e.revoked_at is null`;

export async function findEndpointById(db: Db, id: string): Promise<Endpoint | null> {
  const [row] = await query(db, ENDPOINT_BY_ID, [id]);
  return row ? endpointRow.decode(row) : null;
}

export async function findEndpointsByIds(db: Db, ids: readonly string[]): Promise<Endpoint[]> {
  if (ids.length === 0) return [];
  return db.select(endpointColumns).from(endpoints).where(inArray(endpoints.id, [...ids]));
}

/** The active endpoint a device token identifies, with its application version. */
export async function findActiveEndpointByTokenHash(
  db: Db,
  tokenHash: string,
): Promise<{ endpoint: Endpoint; version: ApplicationVersion } | null> {
  const [row] = await query(db, ACTIVE_ENDPOINT_BY_TOKEN_HASH, [tokenHash]);
  return row ? { endpoint: endpointRow.decode(row), version: versionRow.decode(row) } : null;
}

/** Sets or clears (null) an endpoint's device credentials; null when the username is taken. */
export async function updateEndpointCredentials(
  db: Db,
  id: string,
  credentials: { username: string; passwordHash: string } | null,
): Promise<Endpoint | null> {
  const [row] = await db
    .update(endpoints)
    .set({ mqttUsername: credentials?.username ?? null, mqttPasswordHash: credentials?.passwordHash ?? null })
    .where(eq(endpoints.id, id))
    .returning(endpointColumns);
  return row ?? null;
}

export async function findEndpointPasswordHash(db: Db, id: string): Promise<string | null> {
  const [row] = await db.select({ hash: endpoints.mqttPasswordHash }).from(endpoints).where(eq(endpoints.id, id));
  return row?.hash ?? null;
}

export async function findActiveEndpointByUsername(
  db: Db,
  username: string,
): Promise<{ endpoint: Endpoint; passwordHash: string } | null> {
  const [row] = await db
    .select({ endpoint: endpointColumns, passwordHash: endpoints.mqttPasswordHash })
    .from(endpoints)
    .where(and(eq(endpoints.mqttUsername, username), isNull(endpoints.revokedAt)));
  return row?.passwordHash ? { endpoint: row.endpoint, passwordHash: row.passwordHash } : null;
}

export async function revokeEndpoint(db: Db, id: string): Promise<Endpoint | null> {
  const [row] = await db
    .update(endpoints)
    .set({ revokedAt: sql`now()` })
    .where(and(eq(endpoints.id, id), isNull(endpoints.revokedAt)))
    .returning(endpointColumns);
  return row ?? null;
}

/** Sets or clears (null) an endpoint's display name. */
export async function renameEndpoint(db: Db, id: string, name: string | null): Promise<Endpoint | null> {
  const [row] = await db.update(endpoints).set({ name }).where(eq(endpoints.id, id)).returning(endpointColumns);
  return row ?? null;
}

/** Replaces an active endpoint's token hash; throws a unique violation when the token is in use. */
export async function replaceEndpointToken(db: Db, id: string, tokenHash: string): Promise<Endpoint | null> {
  const [row] = await db
    .update(endpoints)
    .set({ tokenHash })
    .where(and(eq(endpoints.id, id), isNull(endpoints.revokedAt)))
    .returning(endpointColumns);
  return row ?? null;
}

/** Endpoint metadata by endpoint id (10/EPMP); ids without an endpoint are absent. */
export async function findMetadata(db: Db, ids: readonly string[]): Promise<Map<string, Record<string, unknown>>> {
  if (ids.length === 0) return new Map();
  const rows = await db
    .select({ id: endpoints.id, metadata: endpoints.metadata })
    .from(endpoints)
    .where(inArray(endpoints.id, [...ids]));
  return new Map(rows.map((row) => [row.id, row.metadata]));
}

/** The metadata, locked until the transaction ends (changes are read-modify-write); null when no endpoint. */
export async function lockMetadata(tx: Db, id: string): Promise<Record<string, unknown> | null> {
  const [row] = await tx.select({ metadata: endpoints.metadata }).from(endpoints).where(eq(endpoints.id, id)).for('update');
  return row?.metadata ?? null;
}

export async function writeMetadata(tx: Db, id: string, metadata: Record<string, unknown>): Promise<void> {
  await tx.update(endpoints).set({ metadata }).where(eq(endpoints.id, id));
}
