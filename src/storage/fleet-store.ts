// Fleet-wide reads for the console: the endpoints page and the command history across
// endpoints. Both are keyset-paged on an index, so a page costs the same on page 1 and page 10,000.
import { and, asc, desc, eq, gt, gte, ilike, inArray, isNull, lt, or, sql, type SQL } from 'drizzle-orm';
import type { Command, CommandStatus, Endpoint } from '../domain/types.ts';
import { commandColumns, toCommand } from './command-store.ts';
import type { Db } from './db.ts';
import { endpointColumns } from './registry-store.ts';
import { pendingDelivered } from './delivery-store.ts';
import { commands, endpoints } from './schema.ts';

export interface EndpointQuery {
  /** Only endpoints of these application versions (undefined: any). */
  versionIds?: string[];
  /** Case-insensitive substring of the name. */
  search?: string;
  /** Top-level metadata keys with exactly these JSON values. */
  metadata?: Record<string, unknown>;
  /** Only endpoints after this position in (name nulls last, id) order: the cursor. */
  after?: { name: string | null; id: string };
  limit: number;
}

/** By name (unnamed last), then id. */
export async function listEndpoints(db: Db, q: EndpointQuery): Promise<Endpoint[]> {
  const where: (SQL | undefined)[] = [];
  if (q.versionIds) where.push(inArray(endpoints.applicationVersionId, q.versionIds));
  if (q.search) where.push(ilike(endpoints.name, `%${escapeLike(q.search)}%`));
  if (q.metadata) {
    // Containment finds the candidates through the GIN index; per-key equality then makes an
    // object or array value match exactly, not as a subset.
    where.push(sql`${endpoints.metadata} @> ${JSON.stringify(q.metadata)}::jsonb`);
    for (const [key, value] of Object.entries(q.metadata)) {
      where.push(sql`${endpoints.metadata} -> ${key} = ${JSON.stringify(value)}::jsonb`);
    }
  }
  if (q.after) {
    const { name, id } = q.after;
    where.push(
      name === null
        ? and(isNull(endpoints.name), gt(endpoints.id, id))
        : or(sql`(${endpoints.name}, ${endpoints.id}) > (${name}, ${id})`, isNull(endpoints.name)),
    );
  }
  return db
    .select(endpointColumns)
    .from(endpoints)
    .where(and(...where))
    .orderBy(sql`${endpoints.name} asc nulls last`, asc(endpoints.id))
    .limit(q.limit);
}

/** `%`, `_` and `\` match themselves in a search, not as LIKE wildcards. */
export function escapeLike(text: string): string {
  return text.replace(/[\\%_]/g, (c) => `\\${c}`);
}

export interface FleetCommandQuery {
  /** Only commands of these application versions (undefined: any). */
  versionIds?: string[];
  endpointId?: string;
  commandTypes?: string[];
  statuses?: CommandStatus[];
  createdAfter?: Date;
  createdBefore?: Date;
  /** Only commands older (smaller id) than this one: the cursor. */
  beforeId?: number;
  /** Only PENDING commands that were (true) or were not yet (false) delivered. */
  delivered?: boolean;
  limit: number;
}

/**
 * Newest first. An endpoint filter walks that endpoint's index; a version filter walks
 * (application_version_id, id desc) once per version, each branch stopping after `limit` rows,
 * and the branches are merged by id (so an application with several versions costs a few
 * short index scans, never a sort of its whole history); no filter walks the primary key.
 */
export async function listFleetCommands(db: Db, q: FleetCommandQuery): Promise<Command[]> {
  const where: SQL[] = [];
  if (q.endpointId !== undefined) where.push(eq(commands.endpointId, q.endpointId));
  if (q.commandTypes?.length) where.push(inArray(commands.commandType, q.commandTypes));
  if (q.statuses?.length) where.push(inArray(commands.status, q.statuses));
  if (q.createdAfter) where.push(gte(commands.createdAt, q.createdAfter));
  if (q.createdBefore) where.push(lt(commands.createdAt, q.createdBefore));
  if (q.beforeId !== undefined) where.push(lt(commands.id, q.beforeId));
  if (q.delivered !== undefined) where.push(pendingDelivered(q.delivered));
  const page = async (extra?: SQL) =>
    (
      await db
        .select(commandColumns)
        .from(commands)
        .where(and(...where, extra))
        .orderBy(desc(commands.id))
        .limit(q.limit)
    ).map(toCommand);
  const versions = q.endpointId !== undefined ? undefined : q.versionIds;
  if (versions === undefined) return page();
  if (versions.length === 0) return [];
  if (versions.length === 1) return page(eq(commands.applicationVersionId, versions[0]!));
  const branches = versions.map((v) =>
    db
      .select({ id: commands.id })
      .from(commands)
      .where(and(...where, eq(commands.applicationVersionId, v)))
      .orderBy(desc(commands.id))
      .limit(q.limit),
  );
  // Each branch renders in parentheses of its own.
  const ids = sql`(select id from (${sql.join(branches, sql` union all `)}) as branch order by id desc limit ${q.limit})`;
  return page(inArray(commands.id, ids));
}
