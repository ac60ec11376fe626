// Presence: server instances with heartbeats, the endpoints each holds MQTT sessions for, and
// when each endpoint was last seen.
import { and, eq, inArray, lt, sql } from 'drizzle-orm';
import type { Db } from './db.ts';
import { endpointSessions, endpoints, serverInstances } from './schema.ts';

export async function registerInstance(db: Db, id: string): Promise<void> {
  await db
    .insert(serverInstances)
    .values({ id })
    .onConflictDoUpdate({ target: serverInstances.id, set: { heartbeatAt: sql`now()` } });
}

/** False when the instance is gone (another process found it stale and removed it). */
export async function heartbeat(db: Db, id: string): Promise<boolean> {
  const rows = await db
    .update(serverInstances)
    .set({ heartbeatAt: sql`now()` })
    .where(eq(serverInstances.id, id))
    .returning({ id: serverInstances.id });
  return rows.length > 0;
}

/** Removes instances whose heartbeat is older than `staleMs`, with their sessions (cascade). */
export async function removeStaleInstances(db: Db, staleMs: number): Promise<number> {
  const rows = await db
    .delete(serverInstances)
    .where(lt(serverInstances.heartbeatAt, sql`now() - make_interval(secs => ${staleMs / 1000})`))
    .returning({ id: serverInstances.id });
  return rows.length;
}

export async function removeInstance(db: Db, id: string): Promise<void> {
  await db.delete(serverInstances).where(eq(serverInstances.id, id));
}

export async function addSessions(db: Db, instanceId: string, endpointIds: string[]): Promise<void> {
  if (endpointIds.length === 0) return;
  await db
    .insert(endpointSessions)
    .values(endpointIds.map((endpointId) => ({ instanceId, endpointId })))
    .onConflictDoNothing();
}

export async function removeSessions(db: Db, instanceId: string, endpointIds: string[]): Promise<void> {
  if (endpointIds.length === 0) return;
  await db
    .delete(endpointSessions)
    .where(and(eq(endpointSessions.instanceId, instanceId), inArray(endpointSessions.endpointId, endpointIds)));
}

/**
 * Moves last_seen_at forward for each endpoint, unless it was written less than `throttleMs`
 * before the new time (by any process): such rows are not written at all.
 */
export async function recordLastSeen(db: Db, seen: { endpointId: string; at: Date }[], throttleMs: number): Promise<void> {
  if (seen.length === 0) return;
  const values = JSON.stringify(seen.map((s) => ({ e: s.endpointId, t: s.at.toISOString() })));
  await db
    .update(endpoints)
    .set({ lastSeenAt: sql`v.t` })
    .from(sql`json_to_recordset(${values}::json) as v(e uuid, t timestamptz)`)
    .where(
      and(
        sql`${endpoints.id} = v.e`,
        sql`(${endpoints.lastSeenAt} is null or ${endpoints.lastSeenAt} <= v.t - make_interval(secs => ${throttleMs / 1000}))`,
      ),
    );
}

export interface EndpointPresence {
  endpointId: string;
  lastSeenAt: Date | null;
  connected: boolean;
}

/** Last seen, and whether a live instance (heartbeat within `staleMs`) holds a session. */
export async function findPresence(db: Db, endpointIds: string[], staleMs: number): Promise<EndpointPresence[]> {
  if (endpointIds.length === 0) return [];
  return db
    .select({
      endpointId: endpoints.id,
      lastSeenAt: endpoints.lastSeenAt,
      // Qualified by hand: drizzle leaves columns of the selected table unqualified in fields.
      connected: sql<boolean>`exists (
        select 1 from ${endpointSessions} s join ${serverInstances} i on i.id = s.instance_id
        where s.endpoint_id = ${endpoints}.${sql.identifier(endpoints.id.name)} and i.heartbeat_at > now() - make_interval(secs => ${staleMs / 1000}))`,
    })
    .from(endpoints)
    .where(inArray(endpoints.id, endpointIds));
}
