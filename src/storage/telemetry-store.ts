// Telemetry samples sent by devices (kp1 DCX).
import { desc, eq, inArray } from 'drizzle-orm';
import type { TelemetrySample } from '../domain/types.ts';
import type { Db } from './db.ts';
import { telemetrySamples } from './schema.ts';

export async function insertSamples(
  db: Db,
  endpointId: string,
  samples: { timestamp: Date; receivedAt: Date; data: unknown }[],
): Promise<TelemetrySample[]> {
  if (samples.length === 0) return [];
  return db
    .insert(telemetrySamples)
    .values(samples.map((s) => ({ endpointId, timestamp: s.timestamp, receivedAt: s.receivedAt, data: s.data })))
    .returning();
}

/** Newest first by the sample's own timestamp. */
export async function listLatestSamples(db: Db, endpointId: string, last: number): Promise<TelemetrySample[]> {
  return db
    .select()
    .from(telemetrySamples)
    .where(eq(telemetrySamples.endpointId, endpointId))
    .orderBy(desc(telemetrySamples.timestamp), desc(telemetrySamples.id))
    .limit(last);
}

export async function findSamples(db: Db, ids: number[]): Promise<TelemetrySample[]> {
  if (ids.length === 0) return [];
  return db.select().from(telemetrySamples).where(inArray(telemetrySamples.id, ids)).orderBy(telemetrySamples.id);
}
