// Scenario 8, fleet paging: the console's fleet-wide `commands(filter, first, after)` and
// `endpoints` connections over a large history. The commands and endpoints are written with
// set-based SQL (generate_series) straight into the server's PostgreSQL, then pages of 50 are
// timed through the server's GraphQL API over keep-alive HTTP, one request at a time. Each case's
// plan comes from EXPLAIN ANALYZE of the SQL the server's own store code builds for it.
import postgres from 'postgres';
import { drizzle } from 'drizzle-orm/postgres-js';
import { listEndpoints, listFleetCommands, type EndpointQuery, type FleetCommandQuery } from '../../src/storage/fleet-store.ts';
import { now } from '../lib/clock.ts';
import type { BenchContext, Scenario } from '../lib/context.ts';
import { graphql, HttpClient } from '../lib/http-client.ts';
import { log } from '../lib/log.ts';
import { round, summarize, type Summary } from '../lib/stats.ts';

// The console's own queries (console/src/queries.ts).
const COMMANDS = `query FleetCommands($filter: CommandFilter, $first: Int, $after: String) {
  commands(filter: $filter, first: $first, after: $after) {
    edges { node {
      id commandType payload status statusCode reasonPhrase resultPayload createdAt updatedAt expiresAt executedAt
      rerunOf { id } endpoint { id name applicationVersion { name application { name } } }
    } }
    pageInfo { hasNextPage endCursor }
  } }`;
// The same page with nothing resolved but ids: what the API costs without the fields' resolvers.
const IDS_ONLY = 'query($filter: CommandFilter, $first: Int) { commands(filter: $filter, first: $first) { edges { node { id } } } }';
const ENDPOINTS = `query Endpoints($search: String, $first: Int, $after: String) {
  endpoints(search: $search, first: $first, after: $after) {
    edges { cursor node { id name createdAt revokedAt lastSeenAt connected applicationVersion { id name application { id name } } } }
    pageInfo { hasNextPage endCursor }
  } }`;
const PAGE = 50;
const TARGET = '≤ 20';
const SEARCH = 'SITE7';

interface Case {
  label: string;
  /** Whether the target holds for it (false: informational). */
  targeted: boolean;
  /** The page the server returns: its size is checked, so a case measures what it says. */
  expect: number;
  query: string;
  vars(i: number): Record<string, unknown>;
  /** The same page through the store, for EXPLAIN. */
  store: { commands: FleetCommandQuery } | { endpoints: EndpointQuery };
}

async function run(ctx: BenchContext): Promise<void> {
  const url = ctx.servers.databaseUrl;
  if (!url) {
    log('fleet-paging: skipped (needs PostgreSQL: the bench writes the history with SQL)');
    return;
  }
  const { commands: n, endpoints: e, pages, slowPages } = ctx.settings.fleetPaging;
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const fleet = await fill(ctx, sql, n, e);
    const cases = casesFor(fleet);
    const http = new HttpClient('127.0.0.1', ctx.servers.server.httpPort, 1, { authorization: `Bearer ${ctx.run.adminKey}` });
    const timed: { c: Case; ms: Summary }[] = [];
    try {
      for (const c of cases) timed.push({ c, ms: await time(http, c, c.targeted ? pages : slowPages) });
    } finally {
      http.close();
    }
    const sc = `8 fleet paging ${n.toLocaleString('en-US')}`;
    for (const { c, ms } of timed) {
      log(`fleet-paging: ${c.label}: p50 ${ms.p50} p99 ${ms.p99} max ${ms.max} ms`);
      const metric = `${c.label}${c.targeted ? '' : ' (informational)'}: p99 (p50 ${ms.p50.toFixed(1)} ms)`;
      ctx.report.row({ scenario: sc, metric, value: ms.p99, unit: 'ms', target: c.targeted ? TARGET : undefined });
    }
    const plans: Record<string, string> = {};
    for (const { c } of timed) plans[c.label] = await explain(sql, c);
    // The slowest case with a target, and the slowest informational one.
    const slowest = (targeted: boolean) => timed.filter((t) => t.c.targeted === targeted).sort((a, b) => b.ms.p99 - a.ms.p99)[0]!.c.label;
    for (const label of [slowest(true), slowest(false)]) log(`fleet-paging: plan of the slowest, "${label}": ${plans[label]}`);
    ctx.report.figures['fleetPaging'] = { commands: n, endpoints: e, pageSize: PAGE, fill: fleet.fill, cases: Object.fromEntries(timed.map((t) => [t.c.label, t.ms])), plans };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

interface Fleet {
  bigApp: string;
  bigVersionIds: string[];
  smallApp: string;
  smallVersionId: string;
  endpointIds: string[];
  minId: number;
  maxId: number;
  fill: Record<string, number>;
}

/**
 * Applications through the API; `e` endpoints and `n` commands with SQL. Big application A has
 * versions a1 and a2, B has b1: their endpoints take turns, 10 % unnamed; the small application
 * has two endpoints and one command in every n/100, so its ~100 commands span the whole history.
 * Statuses: ~5 % PENDING (expiring in 30 days, so the sweeper leaves them), ~15 % EXPIRED, the rest EXECUTED.
 */
async function fill(ctx: BenchContext, sql: postgres.Sql, n: number, e: number): Promise<Fleet> {
  const { run } = ctx;
  const api = `${ctx.servers.server.url}/graphql`;
  const names = { a: `fleet-${run.id}-a`, b: `fleet-${run.id}-b`, s: `fleet-${run.id}-small` };
  const versions: Record<string, string> = { a1: names.a, a2: names.a, b1: names.b, s1: names.s };
  for (const app of Object.values(names)) await graphql(api, run.adminKey, 'mutation($n: String!) { createApplication(name: $n) { id } }', { n: app });
  const ids: Record<string, string> = {};
  for (const [v, app] of Object.entries(versions)) {
    const q = 'mutation($a: String!, $n: String!) { createApplicationVersion(applicationName: $a, name: $n) { id } }';
    ids[v] = (await graphql<{ createApplicationVersion: { id: string } }>(api, run.adminKey, q, { a: app, n: `${app}-${v}` })).createApplicationVersion.id;
  }
  const big = [ids['a1']!, ids['a2']!, ids['b1']!];
  const small = ids['s1']!;
  const step = Math.floor(n / 100);
  const t0 = now();
  await sql.unsafe(
    `insert into endpoints (application_version_id, name, token_hash)
     select ($1::uuid[])[1 + g % 3],
       case when g % 10 <> 0 then (array['pump','meter','valve','gate'])[1 + g % 4] || '-' || lpad(g::text, 6, '0') || ' site' || (g % 16) end,
       encode(sha256(convert_to($2::text || g, 'UTF8')), 'hex')
     from generate_series(1, $3::int) g
     union all
     select $4::uuid, 'lab-' || g, encode(sha256(convert_to($2::text || 'lab' || g, 'UTF8')), 'hex') from generate_series(1, 2) g`,
    [`{${big.join(',')}}`, `fleet-${run.id}-`, e, small],
  );
  const t1 = now();
  // Every step-th command is the small application's (its endpoints are numbered last); the rest go round the others.
  await sql.unsafe(
    `with ep as (
       select row_number() over (order by application_version_id = $2::uuid, id) - 1 as i, id, application_version_id
       from endpoints where application_version_id = any($1::uuid[]) or application_version_id = $2::uuid)
     insert into commands (endpoint_id, application_version_id, command_type, payload, status, status_code, reason_phrase,
       result_payload, created_at, updated_at, expires_at, executed_at)
     select ep.id, ep.application_version_id, (array['reboot','zero','configure','blink'])[1 + g % 4], json_build_object('level', g % 100),
       s.status::command_status, case when s.status = 'EXECUTED' then 200 end, case when s.status = 'EXECUTED' then 'OK' end,
       case when s.status = 'EXECUTED' then '{"ok":true}'::json end, s.t, s.t + interval '1 second',
       case when s.status = 'PENDING' then now() + interval '30 days' else s.t + interval '1 hour' end,
       case when s.status = 'EXECUTED' then s.t + interval '1 second' end
     from generate_series(1, $3::int) g
     cross join lateral (select now() - ($3::int - g) * interval '1 second' as t,
       case abs(hashint4(g) % 20) when 0 then 'PENDING' when 1 then 'EXPIRED' when 2 then 'EXPIRED' when 3 then 'EXPIRED' else 'EXECUTED' end as status) s
     join ep on ep.i = case when g % $4::int = 0 then $5::int + (g / $4::int) % 2 else (g + g / $5::int) % $5::int end
     order by g`,
    [`{${big.join(',')}}`, small, n, step, e],
  );
  const t2 = now();
  // VACUUM too: autovacuum would otherwise start on the new rows in the middle of the timings.
  await sql.unsafe('vacuum (analyze) commands, endpoints');
  const t3 = now();
  const [range] = await sql.unsafe<{ min: string; max: string }[]>('select min(id)::text as min, max(id)::text as max from commands');
  const endpointRows = await sql.unsafe<{ id: string }[]>('select id from endpoints where application_version_id = any($1::uuid[]) limit 20', [`{${big.join(',')}}`]);
  const fillMs = { endpointsMs: round(t1 - t0, 0), commandsMs: round(t2 - t1, 0), vacuumAnalyzeMs: round(t3 - t2, 0) };
  log(`fleet-paging: ${e + 2} endpoints in ${fillMs.endpointsMs} ms, ${n} commands in ${fillMs.commandsMs} ms, VACUUM ANALYZE in ${fillMs.vacuumAnalyzeMs} ms`);
  return {
    bigApp: names.a,
    bigVersionIds: [ids['a1']!, ids['a2']!],
    smallApp: names.s,
    smallVersionId: small,
    endpointIds: endpointRows.map((r) => r.id),
    minId: Number(range!.min),
    maxId: Number(range!.max),
    fill: fillMs,
  };
}

function casesFor(f: Fleet): Case[] {
  const limit = PAGE + 1;
  // Deep pages start at ids spread over the middle 80 % of the history.
  const deepId = (i: number) => Math.round(f.minId + (f.maxId - f.minId) * (0.1 + ((i * 0.37) % 0.8)));
  // A cursor names the last command of the previous page (src/domain/commands.ts encodeCursor).
  const cursor = (id: number) => Buffer.from(`command:${id}`).toString('base64url');
  const longAgo = new Date(Date.now() - 365 * 24 * 3600 * 1000);
  const commands = (label: string, filter: (i: number) => Record<string, unknown>, store: Omit<FleetCommandQuery, 'limit'>, extra: Partial<Case> = {}): Case => ({
    label,
    targeted: true,
    expect: PAGE,
    query: COMMANDS,
    vars: (i) => ({ first: PAGE, filter: filter(i) }),
    store: { commands: { ...store, limit } },
    ...extra,
  });
  const endpoints = (label: string, args: { search?: string }): Case => ({
    label,
    targeted: true,
    expect: PAGE,
    query: ENDPOINTS,
    vars: () => ({ first: PAGE, ...args }),
    store: { endpoints: { ...args, limit } },
  });
  const endpointIds = f.endpointIds;
  return [
    commands('commands, no filter, first page', () => ({}), {}),
    commands('commands, no filter, deep page (after)', () => ({}), { beforeId: deepId(0) }, { vars: (i) => ({ first: PAGE, after: cursor(deepId(i)) }) }),
    commands('commands of one endpoint', (i) => ({ endpointId: endpointIds[i % endpointIds.length] }), { endpointId: endpointIds[0]! }),
    commands('commands of an application (2 versions)', () => ({ application: f.bigApp }), { versionIds: f.bigVersionIds }),
    commands('commands of the small application (~100)', () => ({ application: f.smallApp }), { versionIds: [f.smallVersionId] }),
    commands('commands with status PENDING (~5 %)', () => ({ statuses: ['PENDING'] }), { statuses: ['PENDING'] }),
    commands('commands, no filter, first page, ids only', () => ({}), {}, { targeted: false, query: IDS_ONLY }),
    endpoints('endpoints, first page', {}),
    endpoints(`endpoints, search "${SEARCH}"`, { search: SEARCH }),
    commands('commands, createdBefore a year ago (0 rows, no index)', () => ({ createdBefore: longAgo.toISOString() }), { createdBefore: longAgo }, { targeted: false, expect: 0 }),
  ];
}

/** Times `count` pages (after 5 unmeasured), one request at a time; checks each page's size. */
async function time(http: HttpClient, c: Case, count: number): Promise<Summary> {
  const samples: number[] = [];
  for (let i = 0; i < count + 5; i++) {
    const t = now();
    const res = await http.post('/graphql', JSON.stringify({ query: c.query, variables: c.vars(i) }));
    const ms = now() - t;
    const body = JSON.parse(res.body) as { data?: Record<string, { edges: unknown[] }>; errors?: unknown };
    const edges = body.data && Object.values(body.data)[0]?.edges.length;
    if (res.status !== 200 || body.errors || edges !== c.expect) {
      throw new Error(`${c.label}: HTTP ${res.status}, ${edges} edges (expected ${c.expect}): ${res.body.slice(0, 300)}`);
    }
    if (i >= 5) samples.push(ms);
  }
  return summarize(samples);
}

/** EXPLAIN ANALYZE of the statement the store builds for the case: its plan's nodes and time. */
async function explain(sql: postgres.Sql, c: Case): Promise<string> {
  let statement: { query: string; params: unknown[] } | undefined;
  const db = drizzle(sql, { logger: { logQuery: (query, params) => (statement = { query, params }) } });
  if ('commands' in c.store) await listFleetCommands(db, c.store.commands);
  else await listEndpoints(db, c.store.endpoints);
  if (!statement) return 'no statement';
  const [row] = await sql.unsafe<{ 'QUERY PLAN': unknown }[]>(`explain (analyze, format json) ${statement.query}`, statement.params as never[]);
  const raw = row!['QUERY PLAN'];
  const [top] = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { Plan: PlanNode; 'Execution Time': number }[];
  // Outermost first; several children in brackets.
  const show = (p: PlanNode): string => {
    const on = p['Index Name'] ?? p['Relation Name'];
    const node = `${p['Node Type']}${p['Scan Direction'] === 'Backward' ? ' Backward' : ''}${on ? ` on ${on}` : ''} (${p['Actual Rows']} rows)`;
    const children = (p.Plans ?? []).map(show);
    return children.length === 0 ? node : children.length === 1 ? `${node} > ${children[0]}` : `${node} > [${children.join('; ')}]`;
  };
  return `${show(top!.Plan)}; ${round(top!['Execution Time'], 2)} ms`;
}

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Relation Name'?: string;
  'Scan Direction'?: string;
  'Actual Rows': number;
  Plans?: PlanNode[];
}

export const fleetPaging: Scenario = { name: 'fleet-paging', run };
