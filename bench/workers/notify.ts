// NOTIFY fan-out: a process that LISTENs on one channel (as each server process's event bus
// does) and counts what it hears, or one that publishes: transactions of the service's shape
// (BEGIN; SELECT pg_notify(channel, payload) × batch; COMMIT), `concurrency` at a time, over
// postgres.js. Listeners connect as application_name `cex-bench-listener`, so their backends can
// be told apart from the publishers'.
import postgres from 'postgres';
import { now } from '../lib/clock.ts';
import { serveWorker } from '../lib/worker.ts';

let sql: postgres.Sql | undefined;
let heard = 0;
let lastAt = 0;

serveWorker(
  {
    listen: async (args: { url: string; channel: string }) => {
      sql = postgres(args.url, { max: 1, onnotice: () => {}, connection: { application_name: 'cex-bench-listener' } });
      await sql.listen(args.channel, () => {
        heard++;
        lastAt = now();
      });
      return { pid: process.pid };
    },
    /** Events heard since the last call, and when the last one arrived. */
    heard: () => {
      const result = { heard, lastAt };
      heard = 0;
      return result;
    },
    /** The backends of the listening processes. */
    listenerBackends: async (args: { url: string }) => {
      sql ??= postgres(args.url, { max: 8, onnotice: () => {} });
      return (await sql`select pid from pg_stat_activity where application_name = 'cex-bench-listener'`).map((r) => Number(r['pid']));
    },
    publish: async (args: { url: string; channel: string; total: number; batch: number; concurrency: number; payloadBytes: number }) => {
      sql ??= postgres(args.url, { max: args.concurrency, onnotice: () => {} });
      const payload = JSON.stringify({ e: 'command', id: 0, pad: 'x'.repeat(Math.max(0, args.payloadBytes - 30)) });
      let next = 0;
      const startedAt = now();
      const lane = async () => {
        while (next < args.total) {
          const n = Math.min(args.batch, args.total - next);
          next += n;
          // Distinct payloads: PostgreSQL delivers identical ones of one transaction once.
          await sql!.begin((tx) => tx`select pg_notify(${args.channel}, ${payload} || g::text) from generate_series(1, ${n}) g`);
        }
      };
      await Promise.all(Array.from({ length: args.concurrency }, lane));
      return { startedAt, endedAt: now() };
    },
  },
  async () => {
    await sql?.end({ timeout: 2 });
  },
);
