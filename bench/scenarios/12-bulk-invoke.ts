// Scenario 10, bulk invoke: `invokeCommands` to every endpoint of an application version, and to
// a list of endpoint ids, timed over HTTP against the 2 s target for 10,000 endpoints. The version
// has a command schema (with a default filled in), so composition and validation are part of it.
// The endpoints are written with SQL straight into the server's PostgreSQL; each batch's stored
// commands are counted afterwards, so a fast but short batch cannot pass.
import postgres from 'postgres';
import { now } from '../lib/clock.ts';
import type { BenchContext, Scenario } from '../lib/context.ts';
import { graphql } from '../lib/http-client.ts';
import { log } from '../lib/log.ts';
import { round, summarize } from '../lib/stats.ts';

const TARGET_MS = 2000;
const INVOKE = `mutation($input: InvokeCommandsInput!) { invokeCommands(input: $input) { id total skipped { endpointId } } }`;
const SCHEMA = { type: 'object', properties: { level: { type: 'integer' }, unit: { type: 'string', default: 'pct' } }, required: ['level'] };

async function run(ctx: BenchContext): Promise<void> {
  const url = ctx.servers.databaseUrl;
  if (!url) {
    log('bulk-invoke: skipped (needs PostgreSQL: the bench writes the endpoints with SQL)');
    return;
  }
  const { endpoints: n, runs } = ctx.settings.bulk;
  const api = `${ctx.servers.server.url}/graphql`;
  const key = ctx.run.adminKey;
  const app = `bulk-${ctx.run.id}`;
  const version = `${app}-v1`;
  await graphql(api, key, 'mutation($n: String!) { createApplication(name: $n) { id } }', { n: app });
  const { createApplicationVersion: v } = await graphql(api, key, 'mutation($a: String!, $n: String!) { createApplicationVersion(applicationName: $a, name: $n) { id } }', { a: app, n: version });
  await graphql(api, key, 'mutation($v: String!, $s: JSON!) { setCommandSchema(applicationVersion: $v, commandType: "dim", schema: $s) { version } }', { v: version, s: SCHEMA });
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const rows = await sql.unsafe<{ id: string }[]>(
      `insert into endpoints (application_version_id, name, token_hash)
       select $1::uuid, 'lamp-' || g, encode(sha256(convert_to($2::text || g, 'UTF8')), 'hex') from generate_series(1, $3::int) g
       returning id`,
      [v.id, `bulk-${ctx.run.id}-`, n],
    );
    const ids = rows.map((r) => r.id);
    const cases: { label: string; target: Record<string, unknown> }[] = [
      { label: 'by application version', target: { applicationVersion: version } },
      { label: 'by endpoint ids', target: { endpointIds: ids } },
    ];
    const sc = `13 bulk invoke ${n.toLocaleString('en-US')}`;
    const figures: Record<string, unknown> = {};
    for (const c of cases) {
      const ms: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t = now();
        const { invokeCommands: batch } = await graphql<{ invokeCommands: { id: string; total: number } }>(api, key, INVOKE, {
          input: { target: c.target, commandType: 'dim', payload: { level: i }, retentionSeconds: 600 },
        });
        ms.push(now() - t);
        const [stored] = await sql<{ n: number }[]>`select count(*)::int as n from commands where batch_id = ${batch.id}`;
        if (batch.total !== n || stored!.n !== n) throw new Error(`bulk-invoke: ${c.label} created ${batch.total} (stored ${stored!.n}) of ${n}`);
      }
      const s = summarize(ms);
      log(`bulk-invoke: ${c.label}: ${n} endpoints in p50 ${round(s.p50)} ms, max ${round(s.max)} ms (target ≤ ${TARGET_MS} ms)`);
      ctx.report.row({ scenario: sc, metric: `${c.label}: max of ${runs} (p50 ${round(s.p50)} ms)`, value: round(s.max), unit: 'ms', target: `≤ ${TARGET_MS}` });
      figures[c.label] = s;
    }
    // Leave nothing PENDING for the later scenarios' sweeps and pushes.
    await sql`update commands set status = 'EXPIRED' where application_version_id = ${v.id} and status = 'PENDING'`;
    ctx.report.figures['bulkInvoke'] = { endpoints: n, runs, cases: figures };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export const bulkInvoke: Scenario = { name: 'bulk-invoke', run };
