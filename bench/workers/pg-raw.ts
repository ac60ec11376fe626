// Raw database baseline: the rows a command writes in its life (one INSERT when invoked, one
// UPDATE to EXECUTED when its result lands), written with postgres.js (or PGlite with
// --embedded) directly, into a copy of the commands table (LIKE commands INCLUDING ALL, plus
// its foreign key to endpoints), with no GraphQL, no MQTT and no drizzle.
// Variants:
//   single            — autocommit INSERT … RETURNING *, then UPDATE … RETURNING *, each a
//                       prepared statement; `concurrency` lanes (= the server's pool size);
//   single-unprepared — the same as unnamed statements (what drizzle's postgres-js driver sends:
//                       every query is parsed and planned again);
//   single-tx-notify  — what the service does per command: BEGIN; INSERT; pg_notify; COMMIT and
//                       BEGIN; UPDATE; pg_notify; COMMIT (a LISTENer on the channel, like the bus);
//   batched           — `batch` rows per INSERT (unnest) and per UPDATE (= any($1)).
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import postgres from 'postgres';
import { PGlite } from '@electric-sql/pglite';
import { openDatabase } from '../../src/storage/db.ts';
import { createLogger } from '../../src/logger.ts';
import { now } from '../lib/clock.ts';
import { Samples } from '../lib/stats.ts';
import { cpuMs, serveWorker } from '../lib/worker.ts';

type Row = Record<string, unknown>;
interface RawDb {
  query(text: string, params: unknown[], prepare?: boolean): Promise<Row[]>;
  tx<T>(fn: (q: (text: string, params: unknown[]) => Promise<Row[]>) => Promise<T>): Promise<T>;
  listen(channel: string, onPayload: () => void): Promise<void>;
  close(): Promise<void>;
}

let db: RawDb | undefined;
let endpointIds: string[] = [];
let embeddedDir: string | undefined;

const TABLE = 'bench_raw_commands';
const INSERT = `insert into ${TABLE} (endpoint_id, command_type, payload, expires_at)
  values ($1, 'raw', $2::json, now() + make_interval(secs => 3600)) returning *`;
const UPDATE = `update ${TABLE} set status = 'EXECUTED', status_code = 200, reason_phrase = 'OK', result_payload = null,
  executed_at = now(), updated_at = now()
  where id = $1 and endpoint_id = $2 and command_type = 'raw' and status <> 'EXECUTED' returning *`;
const INSERT_MANY = `insert into ${TABLE} (endpoint_id, command_type, payload, expires_at)
  select e, 'raw', p, now() + make_interval(secs => 3600) from unnest($1::uuid[], $2::json[]) as u(e, p) returning id`;
const UPDATE_MANY = `update ${TABLE} set status = 'EXECUTED', status_code = 200, reason_phrase = 'OK', result_payload = null,
  executed_at = now(), updated_at = now() where id = any($1::bigint[]) and status <> 'EXECUTED' returning id`;

async function openPostgres(url: string, pool: number): Promise<RawDb> {
  const sql = postgres(url, { max: pool, onnotice: () => {} });
  const listener = postgres(url, { max: 1, onnotice: () => {} });
  return {
    query: (text, params, prepare = true) => sql.unsafe(text, params as never[], { prepare }) as unknown as Promise<Row[]>,
    tx: (fn) => sql.begin((tx) => fn((text, params) => tx.unsafe(text, params as never[], { prepare: true }) as unknown as Promise<Row[]>)) as never,
    listen: async (channel, onPayload) => {
      await listener.listen(channel, onPayload);
    },
    close: async () => {
      await Promise.all([sql.end({ timeout: 5 }), listener.end({ timeout: 5 })]);
    },
  };
}

async function openEmbedded(): Promise<RawDb> {
  embeddedDir = await mkdtemp(join(tmpdir(), 'cex-bench-raw-'));
  const pg = await PGlite.create(embeddedDir);
  await openDatabase({ kind: 'pglite', dataDir: embeddedDir }, { pglite: pg, log: createLogger('warn') });
  return {
    query: async (text, params) => (await pg.query<Row>(text, params)).rows,
    tx: (fn) => pg.transaction((tx) => fn(async (text, params) => (await tx.query<Row>(text, params)).rows)),
    listen: async (channel, onPayload) => {
      await pg.listen(channel, onPayload);
    },
    close: async () => {
      await pg.close();
    },
  };
}

serveWorker(
  {
    /** Opens the database and creates the scratch table; with `embedded`, a private PGlite with its own endpoints. */
    init: async (args: { url?: string; pool: number; endpointIds?: string[]; endpoints?: number }) => {
      db = args.url ? await openPostgres(args.url, args.pool) : await openEmbedded();
      await db.query(`drop table if exists ${TABLE}`, []);
      await db.query(`create table ${TABLE} (like commands including all)`, []);
      await db.query(`alter table ${TABLE} add foreign key (endpoint_id) references endpoints(id)`, []);
      if (args.endpointIds?.length) {
        endpointIds = args.endpointIds;
      } else {
        const [app] = await db.query(`insert into applications (name) values ('raw-bench') returning id`, []);
        const [version] = await db.query(`insert into application_versions (application_id, name) values ($1, 'raw-bench-v1') returning id`, [app!['id']]);
        const rows = await db.query(
          `insert into endpoints (application_version_id, token_hash) select $1, md5(random()::text || g) from generate_series(1, $2) g returning id`,
          [version!['id'], args.endpoints ?? 100],
        );
        endpointIds = rows.map((r) => String(r['id']));
      }
      // Every endpoint here has the same version; the service writes it into each command row too.
      const [ep] = await db.query('select application_version_id from endpoints where id = $1', [endpointIds[0]]);
      await db.query(`alter table ${TABLE} alter column application_version_id set default '${String(ep!['application_version_id'])}'`, []);
      const [v] = await db.query('select version() as v', []);
      return { serverVersion: String(v!['v']) };
    },
    run: async (args: { variant: 'single' | 'single-unprepared' | 'single-tx-notify' | 'batched'; total: number; concurrency: number; batch: number; pad: string }) => {
      const q = db!;
      const insertLatency = new Samples();
      const updateLatency = new Samples();
      let notified = 0;
      if (args.variant === 'single-tx-notify') await q.listen('bench_raw', () => notified++);
      let next = 0;
      let done = 0;
      const payload = (i: number) => JSON.stringify({ t: now(), i, pad: args.pad });
      const cpuStart = process.cpuUsage();
      const startedAt = now();
      const lane = async () => {
        for (;;) {
          if (args.variant === 'batched') {
            const n = Math.min(args.batch, args.total - next);
            if (n <= 0) return;
            next += n;
            const eps: string[] = [];
            const pays: string[] = [];
            for (let i = 0; i < n; i++) {
              eps.push(endpointIds[(next + i) % endpointIds.length]!);
              pays.push(payload(next + i));
            }
            let t = now();
            const ids = (await q.query(INSERT_MANY, [eps, pays])).map((r) => r['id']);
            insertLatency.add(now() - t);
            t = now();
            await q.query(UPDATE_MANY, [ids]);
            updateLatency.add(now() - t);
            done += n;
            continue;
          }
          const i = next++;
          if (i >= args.total) return;
          const endpointId = endpointIds[i % endpointIds.length]!;
          let t = now();
          if (args.variant === 'single-tx-notify') {
            const row = await q.tx(async (tx) => {
              const [r] = await tx(INSERT, [endpointId, payload(i)]);
              await tx(`select pg_notify('bench_raw', $1)`, [JSON.stringify(r)]);
              return r!;
            });
            insertLatency.add(now() - t);
            t = now();
            await q.tx(async (tx) => {
              const [r] = await tx(UPDATE, [row['id'], endpointId]);
              await tx(`select pg_notify('bench_raw', $1)`, [JSON.stringify(r)]);
            });
            updateLatency.add(now() - t);
          } else {
            const prepare = args.variant === 'single';
            const [row] = await q.query(INSERT, [endpointId, payload(i)], prepare);
            insertLatency.add(now() - t);
            t = now();
            await q.query(UPDATE, [row!['id'], endpointId], prepare);
            updateLatency.add(now() - t);
          }
          done++;
        }
      };
      await Promise.all(Array.from({ length: args.concurrency }, lane));
      const endedAt = now();
      return {
        rows: done,
        rowsPerSec: done / ((endedAt - startedAt) / 1000),
        insertLatency: insertLatency.take(),
        updateLatency: updateLatency.take(),
        notified,
        cpuMs: cpuMs(cpuStart),
      };
    },
    cleanup: async () => {
      await db?.query(`drop table if exists ${TABLE}`, []);
    },
  },
  async () => {
    await db?.close().catch(() => {});
    if (embeddedDir) await rm(embeddedDir, { recursive: true, force: true });
  },
);
