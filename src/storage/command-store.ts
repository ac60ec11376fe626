// Commands: the lifecycle's reads and writes. Status changes are single guarded UPDATEs, so
// concurrent processes (sweeper vs. result, two sweepers) settle on exactly one outcome.
import { and, desc, eq, getTableColumns, inArray, lt, gt, sql, type SQL } from 'drizzle-orm';
import type { Command, CommandStatus, Door, Invoker } from '../domain/types.ts';
import type { Db } from './db.ts';
import { commands } from './schema.ts';
import { pendingDelivered } from './delivery-store.ts';
import { query, replanned, selection, type DriverRow } from './raw.ts';

const { applicationVersionId: _versionCopy, ...columns } = getTableColumns(commands);
/** Every column but the copy of the endpoint's application version, which only indexes need. */
export const commandColumns = columns;

type CommandRow = { [K in keyof typeof columns]: (typeof commands.$inferSelect)[K] };

function invoker(keyId: string | null, name: string | null, via: string | null): Invoker | null {
  return keyId === null ? null : { apiKeyId: keyId, name: name ?? '', door: via as Door };
}

/** The domain object of a row: who invoked and canceled it become Invokers. */
export function toCommand(row: CommandRow): Command {
  const { invokedByKeyId, invokedByName, invokedVia, canceledByKeyId, canceledByName, canceledVia, ...rest } = row;
  return {
    ...rest,
    invokedBy: invoker(invokedByKeyId, invokedByName, invokedVia),
    canceledBy: invoker(canceledByKeyId, canceledByName, canceledVia),
  };
}

const toCommands = (rows: CommandRow[]) => rows.map(toCommand);

export interface NewCommand {
  endpointId: string;
  /** The endpoint's application version (copied for the fleet history's index). */
  applicationVersionId: string;
  commandType: string;
  payload: unknown;
  retentionSeconds: number;
  rerunOf: number | null;
  schemaVersion: number | null;
  invokedBy: Invoker;
}

const returned = selection<CommandRow>(commandColumns, 'c');
const fromRows = (rows: DriverRow[]) => rows.map((r) => toCommand(returned.decode(r)));
const byId = (a: Command, b: Command) => a.id - b.id;

// Every row in one JSON parameter: the text is the same for 1 command or 200.
const INSERT_COMMANDS = `
  insert into commands as c (endpoint_id, application_version_id, command_type, payload, rerun_of, schema_version,
    invoked_by_key_id, invoked_by_name, invoked_via, expires_at)
  select v.e, v.a, v.t, v.p::json, v.r, v.s, v.k, v.n, v.d, now() + make_interval(secs => v.x)
  from json_to_recordset($1::json) as v(e uuid, a uuid, t text, p text, r bigint, s int, k text, n text, d text, x float8)
  returning ${returned.list}`;

/** Several commands in one INSERT; rows come back in the order given. */
export async function insertCommands(db: Db, list: NewCommand[]): Promise<Command[]> {
  if (list.length === 0) return [];
  const values = JSON.stringify(
    list.map((c) => ({
      e: c.endpointId,
      a: c.applicationVersionId,
      t: c.commandType,
      // The payload's own text (json keeps it as composed, key order included).
      p: c.payload === undefined || c.payload === null ? null : JSON.stringify(c.payload),
      r: c.rerunOf,
      s: c.schemaVersion,
      k: c.invokedBy.apiKeyId,
      n: c.invokedBy.name,
      d: c.invokedBy.door,
      x: c.retentionSeconds,
    })),
  );
  // Identity values are assigned in the recordset's order; sort to be independent of RETURNING order.
  return fromRows(await query(db, INSERT_COMMANDS, [values])).sort(byId);
}

const FIND_COMMAND = `select ${returned.list} from commands c where c.id = $1`;

export async function findCommand(db: Db, id: number): Promise<Command | null> {
  const [row] = await query(db, FIND_COMMAND, [id]);
  return row ? toCommand(returned.decode(row)) : null;
}

export interface HistoryQuery {
  endpointId: string;
  commandTypes?: string[];
  statuses?: CommandStatus[];
  /** Only commands older (smaller id) than this one: the cursor. */
  beforeId?: number;
  /** Only PENDING commands that were (true) or were not yet (false) delivered. */
  delivered?: boolean;
  limit: number;
}

/** Newest first. Ids grow with creation, so "newest first" is id order and cursors are stable. */
export async function listHistory(db: Db, q: HistoryQuery): Promise<Command[]> {
  const where: SQL[] = [eq(commands.endpointId, q.endpointId)];
  if (q.commandTypes?.length) where.push(inArray(commands.commandType, q.commandTypes));
  if (q.statuses?.length) where.push(inArray(commands.status, q.statuses));
  if (q.beforeId !== undefined) where.push(lt(commands.id, q.beforeId));
  if (q.delivered !== undefined) where.push(pendingDelivered(q.delivered));
  return toCommands(
    await db.select(commandColumns).from(commands).where(and(...where)).orderBy(desc(commands.id)).limit(q.limit),
  );
}

const OUTSTANDING = `select ${returned.list} from commands c
  where c.endpoint_id = $1 and c.status = 'PENDING' and c.expires_at > now() order by c.id`;
const OUTSTANDING_OF_TYPE = `select ${returned.list} from commands c
  where c.endpoint_id = $1 and c.command_type = $2 and c.status = 'PENDING' and c.expires_at > now() order by c.id`;

/** Pending and not yet past retention, oldest first (kp1.md §2, command request). */
export async function listOutstanding(db: Db, endpointId: string, commandType?: string): Promise<Command[]> {
  const rows =
    commandType === undefined
      ? await query(db, OUTSTANDING, [endpointId])
      : await query(db, OUTSTANDING_OF_TYPE, [endpointId, commandType]);
  return fromRows(rows);
}

export interface ResultValues {
  statusCode: number;
  reasonPhrase: string | null;
  resultPayload: unknown;
}

const OWNERS = replanned('select c.id, c.endpoint_id, c.command_type from commands c where c.id = any($1::text::bigint[])');

/** Endpoint and type of each existing command among `ids`. */
export async function commandOwners(db: Db, ids: number[]): Promise<Map<number, { endpointId: string; commandType: string }>> {
  if (ids.length === 0) return new Map();
  // The ids as one array literal: their kp1 validation made them safe integers.
  const rows = await query(db, OWNERS, [`{${ids.join(',')}}`]);
  return new Map(rows.map((r) => [Number(r['id']), { endpointId: r['endpoint_id'] as string, commandType: r['command_type'] as string }]));
}

export interface ResultItem extends ResultValues {
  id: number;
  endpointId: string;
  commandType: string;
}

const RECORD_RESULTS = replanned(`
  update commands c set status = 'EXECUTED', status_code = v.s, reason_phrase = v.r, result_payload = v.p::json,
    executed_at = now(), updated_at = now()
  from json_to_recordset($1::json) as v(id bigint, e uuid, t text, s int, r text, p text)
  where c.id = v.id and c.endpoint_id = v.e and c.command_type = v.t and c.status <> 'EXECUTED'
  returning ${returned.list}`);

/**
 * Marks each command EXECUTED with its result, unless it already is: a duplicate result keeps
 * the first, and a result for an EXPIRED or CANCELED command still lands (kp1.md §2, "Result";
 * canceled_at stays, so both facts show). One UPDATE
 * for all items; an item whose id, endpoint and type do not match a row changes nothing.
 * Returns the commands that changed.
 */
export async function recordResults(db: Db, items: ResultItem[]): Promise<Command[]> {
  if (items.length === 0) return [];
  const values = JSON.stringify(
    items.map((i) => ({
      id: i.id,
      e: i.endpointId,
      t: i.commandType,
      s: i.statusCode,
      r: i.reasonPhrase,
      p: i.resultPayload === undefined || i.resultPayload === null ? null : JSON.stringify(i.resultPayload),
    })),
  );
  return fromRows(await query(db, RECORD_RESULTS, [values]));
}

// The batch is a CTE: as `id in (select … limit n for update)`, PGlite's plan expired every due
// command at once whatever the limit.
const EXPIRE_DUE = replanned(`
  with due as (
    select id from commands where status = 'PENDING' and expires_at <= now() order by id limit $1 for update skip locked
  )
  update commands c set status = 'EXPIRED', expired_at = now(), updated_at = now()
  from due where c.id = due.id and c.status = 'PENDING'
  returning ${returned.list}`);

/**
 * Expires up to `limit` due commands. SKIP LOCKED lets several processes sweep at once without
 * waiting on each other or on a result being written; the status guard in the UPDATE makes the
 * result-vs-expiry race end in exactly one outcome.
 */
export async function expireDue(db: Db, limit: number): Promise<Command[]> {
  return fromRows(await query(db, EXPIRE_DUE, [limit])).sort(byId);
}

/**
 * PENDING and not yet due → CANCELED, in one guarded UPDATE: against a result or the sweeper
 * writing at the same moment exactly one of them changes the row. Null when it was not PENDING.
 */
export async function cancelCommand(db: Db, id: number, by: Invoker): Promise<Command | null> {
  const [row] = await db
    .update(commands)
    .set({
      status: 'CANCELED',
      canceledAt: sql`now()`,
      canceledByKeyId: by.apiKeyId,
      canceledByName: by.name,
      canceledVia: by.door,
      updatedAt: sql`now()`,
    })
    .where(and(eq(commands.id, id), eq(commands.status, 'PENDING'), gt(commands.expiresAt, sql`now()`)))
    .returning(commandColumns);
  return row ? toCommand(row) : null;
}
