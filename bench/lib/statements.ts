// What a measured run cost PostgreSQL, statement by statement (pg_stat_statements, loaded in the
// private PostgreSQL only): statements and transactions per command, and where the time went.
// Execution time only: parse, plan and the wait for the client are not in it.
import postgres from 'postgres';
import type { BenchContext } from './context.ts';
import { round } from './stats.ts';

export interface StatementFigures {
  /** Statements the run executed per operation (BEGIN and COMMIT included). */
  statementsPerOp: number;
  /** Transactions committed per operation (pg_stat_database): each a WAL flush. */
  commitsPerOp: number;
  /** Row updates of the commands table per operation, and the share that were HOT (no index entries written). */
  commandUpdatesPerOp: number;
  hotUpdateShare: number;
  /** Execution time per operation, all statements, in µs. */
  execUsPerOp: number;
  top: { query: string; callsPerOp: number; meanMs: number; execUsPerOp: number; rowsPerCall: number }[];
}

/** Resets the statistics now; `read(ops)` reports what ran since. Undefined without the private PostgreSQL. */
export async function statementMeter(ctx: BenchContext): Promise<{ read(ops: number): Promise<StatementFigures> } | undefined> {
  const pg = ctx.servers.pg;
  if (!pg) return undefined;
  const sql = postgres(pg.url, { max: 1, onnotice: () => {} });
  const counters = async () => {
    const [c] = await sql<{ commits: string; upd: string; hot: string }[]>`
      select (select xact_commit from pg_stat_database where datname = current_database()) as commits,
             coalesce(sum(n_tup_upd), 0) as upd, coalesce(sum(n_tup_hot_upd), 0) as hot
        from pg_stat_user_tables where relname = 'commands'`;
    return { commits: Number(c!.commits), upd: Number(c!.upd), hot: Number(c!.hot) };
  };
  let before: Awaited<ReturnType<typeof counters>>;
  try {
    await sql`select pg_stat_statements_reset()`;
    before = await counters();
  } catch {
    await sql.end();
    return undefined;
  }
  return {
    async read(ops) {
      try {
        const rows = await sql<{ query: string; calls: string; total: number; rows: string }[]>`
          select query, calls, total_exec_time as total, rows from pg_stat_statements
           where dbid = (select oid from pg_database where datname = current_database())
             and query not like '%pg_stat_statements%'
           order by total_exec_time desc`;
        // Cumulative statistics reach the shared counters within a second of a transaction's end.
        await new Promise((resolve) => setTimeout(resolve, 1500));
        const after = await counters();
        const per = (x: number) => (ops ? x / ops : NaN);
        const calls = rows.reduce((n, r) => n + Number(r.calls), 0);
        const total = rows.reduce((n, r) => n + r.total, 0);
        return {
          statementsPerOp: round(per(calls), 2),
          commitsPerOp: round(per(after.commits - before.commits), 2),
          commandUpdatesPerOp: round(per(after.upd - before.upd), 2),
          hotUpdateShare: round((after.hot - before.hot) / Math.max(1, after.upd - before.upd), 2),
          execUsPerOp: round(per(total * 1000), 1),
          top: rows.slice(0, 12).map((r) => ({
            query: r.query.replace(/\s+/g, ' ').slice(0, 160),
            callsPerOp: round(per(Number(r.calls)), 3),
            meanMs: round(r.total / Number(r.calls), 3),
            execUsPerOp: round(per(r.total * 1000), 1),
            rowsPerCall: round(Number(r.rows) / Number(r.calls), 1),
          })),
        };
      } finally {
        await sql.end();
      }
    },
  };
}
