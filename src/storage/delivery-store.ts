// Deliveries: the proven arrivals of commands at devices, for the delivery timeline.
import { asc, eq, sql, type SQL } from 'drizzle-orm';
import type { Db } from './db.ts';
import { commandDeliveries, commands } from './schema.ts';
import { query, replanned } from './raw.ts';

export type DeliveryVia = 'HTTP' | 'MQTT';

/** Rows kept per command; delivery_count goes on counting past them. */
export const MAX_STORED_DELIVERIES = 100;

export interface Delivery {
  commandId: number;
  via: DeliveryVia;
}

export interface StoredDelivery {
  deliveredAt: Date;
  via: DeliveryVia;
}

// Constant text on the driver (raw.ts): every delivery batch sends it.
const RECORD_DELIVERIES = replanned(`
    with v as (select * from json_to_recordset($1::json) as v(id bigint, n int, via text)),
    free as (select c.id from commands c join v on v.id = c.id for no key update of c skip locked),
    u as (
      update commands c
         set delivered_at = coalesce(c.delivered_at, now()),
             delivery_count = c.delivery_count + v.n,
             last_delivered_via = v.via
        from v
       where c.id = v.id and c.id in (select id from free)
   returning c.id, c.delivery_count - v.n as before
    ),
    kept as (
      insert into command_deliveries (command_id, via)
      select d.id, d.via
        from json_to_recordset($2::json) as d(id bigint, via text, seq int)
        join u on u.id = d.id
       where u.before + d.seq <= ${MAX_STORED_DELIVERIES}
       order by d.id, d.seq
    )
    select v.id from v where v.id not in (select id from u)`);

/**
 * Records deliveries in one statement and returns those it could not record yet, to be sent
 * again. The database decides what "first" means across processes: delivered_at is only ever
 * filled by coalesce, so the first committed delivery wins and later ones (in this batch or
 * another process's) leave it; the count adds every one. A row per delivery is kept while the
 * command has at most MAX_STORED_DELIVERIES.
 *
 * Rows another transaction holds (a result being stored, mostly) are skipped rather than
 * waited for: a delivery batch never waits on a row lock, so it can never be one side of a
 * deadlock with the result batches, which lock the same rows in their own order.
 */
export async function recordDeliveries(db: Db, deliveries: Delivery[]): Promise<Delivery[]> {
  if (deliveries.length === 0) return [];
  // UPDATE … FROM applies one source row per target row, so each command is one row here,
  // with its count and the last way it went; `seq` numbers its deliveries in this batch.
  const perCommand = new Map<number, { n: number; via: DeliveryVia }>();
  const each = deliveries.map((d) => {
    const c = perCommand.get(d.commandId) ?? { n: 0, via: d.via };
    c.n++;
    c.via = d.via;
    perCommand.set(d.commandId, c);
    return { id: d.commandId, via: d.via, seq: c.n };
  });
  const counts = JSON.stringify([...perCommand].map(([id, c]) => ({ id, n: c.n, via: c.via })));
  const rows = await query(db, RECORD_DELIVERIES, [counts, JSON.stringify(each)]);
  const skipped = new Set(rows.map((r) => Number(r['id'])));
  return deliveries.filter((d) => skipped.has(d.commandId));
}

/** A command's stored deliveries, oldest first. */
export async function listDeliveries(db: Db, commandId: number): Promise<StoredDelivery[]> {
  const rows = await db
    .select({ deliveredAt: commandDeliveries.deliveredAt, via: commandDeliveries.via })
    .from(commandDeliveries)
    .where(eq(commandDeliveries.commandId, commandId))
    .orderBy(asc(commandDeliveries.id));
  return rows.map((r) => ({ deliveredAt: r.deliveredAt, via: r.via as DeliveryVia }));
}

/**
 * PENDING commands that were (or were not yet) delivered. A literal 'PENDING' (a parameter would
 * not prove the partial indexes commands_[version_]pending_idx in a generic plan).
 */
export function pendingDelivered(delivered: boolean): SQL {
  return sql`${commands.status} = 'PENDING' and ${commands.deliveredAt} ${sql.raw(delivered ? 'is not null' : 'is null')}`;
}
