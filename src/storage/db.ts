// Opens the database the config names, applies the migrations in drizzle/, and exposes one
// drizzle handle for the stores plus a LISTEN primitive for the event transport.
//
// Two drivers, one SQL dialect: PGlite (embedded, no setup, one connection) and postgres.js
// (a real server, a pool). Drizzle alters the postgres.js client it is given, so LISTEN and
// the migration lock each get a client of their own.
import { randomUUID } from 'node:crypto';
import { mkdir, stat } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
// PGlite (a WebAssembly PostgreSQL, ~35 MB once imported) is loaded only when it is used.
import type { PGlite } from '@electric-sql/pglite';
import postgres from 'postgres';
import type { PgDatabase, PgQueryResultHKT } from 'drizzle-orm/pg-core';
import { drizzle as drizzlePostgres } from 'drizzle-orm/postgres-js';
import { migrate as migratePostgres } from 'drizzle-orm/postgres-js/migrator';
import type { DatabaseConfig } from '../config.ts';
import type { Logger } from '../logger.ts';
import { inOperatorRequest } from '../lib/request-context.ts';
import { fromProjectRoot } from '../lib/project-root.ts';
import { StartupError, describeCause } from '../startup-error.ts';
import { lockDataDir, type DataDirLock } from './data-dir-lock.ts';
import { REPLANNED } from './raw.ts';

export type Db = PgDatabase<PgQueryResultHKT>;

export interface Database {
  readonly kind: DatabaseConfig['kind'];
  readonly db: Db;
  /**
   * Calls `onPayload` for every NOTIFY on `channel` until the returned function is called.
   * `onReconnect` runs when the listening connection was lost and is back: notifications sent
   * in between were missed.
   */
  listen(channel: string, onPayload: (payload: string) => void, onReconnect?: () => void): Promise<() => Promise<void>>;
  /** Whether the connection that LISTENs is up and hears notifications (readiness). */
  listenerConnected(): Promise<boolean>;
  close(): Promise<void>;
}

export interface OpenOptions {
  /** Reuse an open PGlite instance (tests share one per worker); it is not closed by close(). */
  pglite?: PGlite;
  log: Logger;
}

export const migrationsFolder = fromProjectRoot('drizzle');
// Any constant works; it only has to be the same in every process that migrates this database.
const MIGRATION_LOCK_KEY = 0x636578; // "cex"

// A PGlite instance shared by several apps in one process is migrated once.
const pgliteMigrations = new WeakMap<PGlite, Promise<void>>();

export async function openDatabase(config: DatabaseConfig, options: OpenOptions): Promise<Database> {
  return config.kind === 'pglite'
    ? openPglite(config.dataDir, options)
    : openPostgres(config.url, config.poolSize, options, config.operatorStatementTimeoutMs);
}

async function openPglite(dataDir: string, { pglite, log }: OpenOptions): Promise<Database> {
  const [{ drizzle: drizzlePglite }, { migrate: migratePglite }] = await Promise.all([
    import('drizzle-orm/pglite'),
    import('drizzle-orm/pglite/migrator'),
  ]);
  let client = pglite;
  let lock: DataDirLock | undefined;
  const started = Date.now();
  if (!client) {
    const persistent = !dataDir.startsWith('memory://');
    if (persistent) {
      await createDirectory(dataDir);
      lock = await lockDataDir(dataDir);
    }
    try {
      const fresh = persistent && !(await stat(`${dataDir}/PG_VERSION`).catch(() => undefined));
      if (fresh) log.info({ dataDir }, 'creating a new database in DATA_DIR (first start: this takes a few seconds)');
      else log.info({ dataDir }, 'opening the database in DATA_DIR');
      const { PGlite } = await import('@electric-sql/pglite');
      client = await PGlite.create(dataDir);
      if (fresh) log.info({ dataDir, ms: Date.now() - started }, 'database created; applying the migrations');
    } catch (error) {
      await lock?.release();
      if (error instanceof StartupError) throw error;
      throw new StartupError(`DATA_DIR ${dataDir} holds no usable database: ${describeCause(error)}`, { cause: error });
    }
  }
  const owned = !pglite;
  const db: Db = drizzlePglite(operatorsTakeTurns(client));
  let migration = pgliteMigrations.get(client);
  if (!migration) {
    migration = migratePglite(drizzlePglite(client), { migrationsFolder });
    pgliteMigrations.set(client, migration);
  }
  try {
    await migration;
  } catch (error) {
    if (owned) await client.close().catch(() => {});
    await lock?.release();
    throw new StartupError(`DATA_DIR ${dataDir}: applying the migrations failed: ${describeCause(error)}`, { cause: error });
  }
  log.info({ database: 'pglite', dataDir: owned ? dataDir : '(shared instance)', ms: Date.now() - started }, 'database ready');
  const pg = client;
  return {
    kind: 'pglite',
    db,
    async listen(channel, onPayload) {
      const unlisten = await pg.listen(channel, onPayload);
      return async () => {
        if (!pg.closed) await unlisten();
      };
    },
    listenerConnected: async () => !pg.closed,
    async close() {
      if (owned && !pg.closed) await pg.close();
      await lock?.release();
    },
  };
}

/**
 * `mkdir -p`, one level at a time: Node's recursive mkdir loops forever on some paths
 * (DATA_DIR=/proc/x), and a failure names the directory and the cause.
 */
async function createDirectory(dir: string): Promise<void> {
  const path = resolve(dir);
  const missing: string[] = [];
  for (let p = path; !(await stat(p).catch(() => undefined)); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  try {
    for (const p of missing) {
      // Another process may create it at the same time.
      await mkdir(p).catch((error: NodeJS.ErrnoException) => {
        if (error.code !== 'EEXIST') throw error;
      });
    }
    if (!(await stat(path)).isDirectory()) throw new Error(`ENOTDIR: not a directory, ${path}`);
  } catch (error) {
    throw new StartupError(`DATA_DIR ${dir} cannot be used as the database directory: ${describeCause(error)}`, { cause: error });
  }
}

async function openPostgres(url: string, poolSize: number, { log }: OpenOptions, operatorStatementTimeoutMs = 10_000): Promise<Database> {
  const quiet = { onnotice: () => {} };
  await migrateWithLock(url);
  // A short connect timeout: while the database is away, requests fail fast with 503 /
  // SERVICE_UNAVAILABLE instead of hanging.
  // fetch_types off: no type lookup round trip on every new connection (we use no custom
  // types). backoff: the listener reconnects within a quarter second once the server is back.
  const options = { ...quiet, fetch_types: false, backoff: (retries: number) => Math.min(0.02 * 2 ** retries, 0.25) };
  const client = postgres(url, { ...options, max: poolSize, connect_timeout: 5, idle_timeout: 60 });
  const listener = postgres(url, { ...options, max: 1, connect_timeout: 10 });
  // GraphQL requests get connections of their own, each statement bounded: an operator's heavy
  // query can neither hold the devices' connections nor run for long (README, "Security").
  const operatorClient = postgres(url, {
    ...options,
    max: Math.max(2, Math.ceil(poolSize / 2)),
    connect_timeout: 5,
    idle_timeout: 60,
    connection: { statement_timeout: operatorStatementTimeoutMs },
  });
  drizzlePostgres(operatorClient); // the same type parsers as the client drizzle runs on
  const db: Db = drizzlePostgres(preparing(client, operatorClient));
  // Readiness sends a NOTIFY through the pool and waits for the listener to hear it.
  const echoes = new Map<string, () => void>();
  await listener.listen(READINESS_CHANNEL, (nonce) => echoes.get(nonce)?.());
  log.info({ database: 'postgres', host: safeHost(url) }, 'database ready');
  return {
    kind: 'postgres',
    db,
    async listen(channel, onPayload, onReconnect) {
      let subscribed = false;
      const { unlisten } = await listener.listen(channel, onPayload, () => {
        if (subscribed) {
          log.warn({ channel }, 'the event listener reconnected; events of the gap were missed');
          onReconnect?.();
        }
        subscribed = true;
      });
      return unlisten;
    },
    async listenerConnected() {
      const nonce = randomUUID();
      let timer: NodeJS.Timeout | undefined;
      const heard = new Promise<boolean>((resolve) => {
        echoes.set(nonce, () => resolve(true));
        timer = setTimeout(() => resolve(false), LISTENER_ECHO_TIMEOUT_MS);
      });
      try {
        await client`select pg_notify(${READINESS_CHANNEL}, ${nonce})`;
        return await heard;
      } catch {
        return false;
      } finally {
        clearTimeout(timer);
        echoes.delete(nonce);
      }
    },
    async close() {
      await Promise.all([client.end({ timeout: 5 }), operatorClient.end({ timeout: 5 }), listener.end({ timeout: 5 })]);
    },
  };
}

/**
 * PGlite has one connection, runs in this thread, and answers without I/O: a GraphQL request
 * resolving hundreds of lists would run hundreds of statements back to back in microtasks, and
 * no device request would even be read meanwhile. GraphQL requests' statements therefore run one
 * at a time, each after a turn of the event loop, so a device's statement waits for at most one
 * of them. (PGlite has no statement timeout: the cost limit bounds them.)
 */
function operatorsTakeTurns(client: PGlite): PGlite {
  let turn: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(run: () => Promise<T>): Promise<T> => {
    const yielded = turn.then(() => new Promise<void>((resolve) => setImmediate(resolve)));
    const result = yielded.then(run);
    turn = result.catch(() => undefined);
    return result;
  };
  return new Proxy(client, {
    get(target, property, receiver) {
      const value = Reflect.get(target, property, receiver) as unknown;
      if ((property !== 'query' && property !== 'transaction') || typeof value !== 'function') return value;
      return (...args: unknown[]) =>
        inOperatorRequest() ? inTurn(() => value.apply(target, args) as Promise<unknown>) : (value.apply(target, args) as unknown);
    },
  });
}

const READINESS_CHANNEL = 'cex_readiness';
const LISTENER_ECHO_TIMEOUT_MS = 2_000;

/** Statements with more parameters than this (multi-row batches) are left unprepared. */
const MAX_PREPARED_PARAMETERS = 32;

/**
 * drizzle runs every statement unprepared (`unsafe(…, { prepare: false })`): postgres.js then
 * sends a Describe and waits for it before each statement with parameters, and PostgreSQL
 * parses and plans it every time. Ours are a small, fixed set, so they are prepared: each
 * connection keeps them by text after the first use, and later uses are one round trip.
 * Multi-row batches, whose text varies with their size, stay unprepared so that the statements
 * a connection keeps stay few, and so do the batch statements raw.ts marks `replanned`.
 * Transactions get a client that prepares too.
 */
function preparing<S extends postgres.Sql | postgres.TransactionSql>(sql: S, operatorSql?: S): S {
  return new Proxy(sql, {
    get(client, property, receiver) {
      const target = operatorSql && inOperatorRequest() ? operatorSql : client;
      if (property === 'unsafe') {
        return (query: string, parameters: postgres.ParameterOrJSON<never>[] = [], options: postgres.UnsafeQueryOptions = {}) =>
          target.unsafe(query, parameters, {
            ...options,
            prepare: parameters.length > 0 && parameters.length <= MAX_PREPARED_PARAMETERS && !REPLANNED.has(query),
          });
      }
      if (property === 'begin' && 'begin' in target) {
        return (...args: unknown[]) => {
          const body = args.pop() as (tx: postgres.TransactionSql) => unknown;
          // begin() is overloaded (with and without options); the callback goes last in both.
          return (target.begin as (...a: unknown[]) => unknown)(...args, (tx: postgres.TransactionSql) => body(preparing(tx)));
        };
      }
      return Reflect.get(client, property, receiver) as unknown;
    },
  });
}

/** Several processes may start at once on one database: one migrates, the others wait. */
async function migrateWithLock(url: string): Promise<void> {
  const sql = postgres(url, { max: 1, onnotice: () => {}, connect_timeout: 10 });
  try {
    await sql`select pg_advisory_lock(${MIGRATION_LOCK_KEY})`;
    try {
      await migratePostgres(drizzlePostgres(sql), { migrationsFolder });
    } finally {
      await sql`select pg_advisory_unlock(${MIGRATION_LOCK_KEY})`;
    }
  } catch (error) {
    throw new StartupError(`cannot use the database at DATABASE_URL (${safeHost(url)}): ${redact(describeCause(error), url)}`, {
      cause: error,
    });
  } finally {
    await sql.end({ timeout: 5 });
  }
}

/** The host and database of a URL, for logs: never the password. */
function safeHost(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}${u.port ? `:${u.port}` : ''}${u.pathname}`;
  } catch {
    return '(unparseable url)';
  }
}

/** A driver message with the URL's password taken out, should it ever contain it. */
function redact(message: string, url: string): string {
  let password = '';
  try {
    password = decodeURIComponent(new URL(url).password);
  } catch {
    // an unparsable URL was refused by the config
  }
  return password ? message.split(password).join('[redacted]') : message;
}
