// The hot statements run without the query builder: a constant SQL text with parameters goes
// straight to the driver under the drizzle handle or transaction it is given. The text never
// varies with the batch size (batches travel as one JSON parameter), so postgres.js prepares
// it once per connection and PostgreSQL parses and plans it once (except the batch statements
// marked `replanned` below). Building a query with drizzle costs more CPU than PostgreSQL spends
// running these.
//
// The driver is the drizzle session's `client` (drizzle-orm postgres-js/session.js and
// pglite/session.js): the pool (through db.ts's `preparing` proxy, which sends operator requests
// to the operator client), a postgres.js transaction, the PGlite instance (through
// `operatorsTakeTurns`) or a PGlite transaction. Rows come back as each driver parses them, so
// they are decoded by the drizzle columns they belong to, exactly as drizzle's selects are.
import type { Column } from 'drizzle-orm';
import type { Db } from './db.ts';

export type DriverRow = Record<string, unknown>;

interface PostgresJsClient {
  unsafe(text: string, params: unknown[], options: { prepare: boolean }): PromiseLike<DriverRow[]>;
}
interface PgliteClient {
  query(text: string, params: unknown[]): Promise<{ rows: DriverRow[] }>;
}
type Driver = PostgresJsClient | PgliteClient;

function driverOf(db: Db): Driver {
  return (db as unknown as { session: { client: Driver } }).session.client;
}

/**
 * Texts planned again on every execution (see `replanned`); db.ts sends them unprepared.
 */
export const REPLANNED = new Set<string>();

/**
 * Marks a batch statement to be planned with its parameters on every execution. A prepared
 * statement's generic plan is made once, from the statistics of that moment: made while a
 * table was nearly empty (a new database), it scans the whole table for every batch until
 * autovacuum next analyzes it (a sequential scan of 100,000 commands per owner lookup, 24 ms,
 * seen in the bench). Planning a batch statement costs far less than that risk.
 */
export function replanned(text: string): string {
  REPLANNED.add(text);
  return text;
}

/** Runs one statement; `text` must be a constant (one prepared statement per text). */
export async function query(db: Db, text: string, params: unknown[]): Promise<DriverRow[]> {
  const client = driverOf(db);
  if ('unsafe' in client) return client.unsafe(text, params, { prepare: true });
  return (await client.query(text, params)).rows;
}

/**
 * The column list of `columns` for a select or RETURNING (qualified by `alias`, and named
 * `prefix` + column name when given: a join's tables share column names), and the decoder of a
 * driver row into drizzle's row: the column's own mapFromDriverValue (bigint as number,
 * timestamps as Date, json parsed) and null for null, as drizzle's mapResultRow does.
 */
export function selection<R>(columns: Record<string, Column>, alias: string, prefix = ''): { list: string; decode: (row: DriverRow) => R } {
  const fields = Object.entries(columns).map(([key, column]) => ({ key, name: prefix + column.name, column }));
  const list = Object.values(columns)
    .map((c) => (prefix ? `${alias}.${c.name} as ${prefix}${c.name}` : `${alias}.${c.name}`))
    .join(', ');
  const decode = (row: DriverRow): R => {
    const out: Record<string, unknown> = {};
    for (const { key, name, column } of fields) {
      const value = row[name];
      out[key] = value === null ? null : column.mapFromDriverValue(value);
    }
    return out as R;
  };
  return { list, decode };
}
