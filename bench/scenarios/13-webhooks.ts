// Scenario 13, webhooks, with one webhook pointing at a fast receiver in this process.
// Delivery capacity (PostgreSQL): a backlog of outbox rows over 100 endpoints' lanes is written
// with SQL and the server wakes by NOTIFY; target ≥ 1,000 deliveries/s. End to end: commands
// are invoked at 1,000/s (open loop), each writing its outbox row in its transaction; the
// deliveries must keep up with the invokes (little left when they stop). Latency: the invoke's
// scheduled send time → receipt, so it includes any queueing of the invokes themselves.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import postgres from 'postgres';
import { now, until } from '../lib/clock.ts';
import { checkInvoke, invokerFor, meter, type BenchContext, type InvokeResult, type Scenario } from '../lib/context.ts';
import { log } from '../lib/log.ts';
import { round, summarize } from '../lib/stats.ts';

const RATE = 1000;

async function gql(ctx: BenchContext, query: string, variables: Record<string, unknown>): Promise<any> {
  const res = await fetch(`${ctx.servers.server.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ctx.run.adminKey}` },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await res.json()) as { data?: any; errors?: unknown[] };
  if (body.errors) throw new Error(`GraphQL errors: ${JSON.stringify(body.errors)}`);
  return body.data;
}

async function run(ctx: BenchContext): Promise<void> {
  const durationMs = ctx.settings.quick ? 3_000 : 15_000;
  const latencies: number[] = [];
  let delivered = 0;
  let firstAt = 0;
  let lastAt = 0;
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const at = now();
      const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { data?: { payload?: { t?: number } } };
      const t = body.data?.payload?.t;
      if (typeof t === 'number') latencies.push(at - t);
      if (delivered++ === 0) firstAt = at;
      lastAt = at;
      res.writeHead(204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hook`;
  const created = await gql(ctx, 'mutation($input: CreateWebhookInput!) { createWebhook(input: $input) { webhook { id } } }', {
    input: { url, events: ['COMMAND_CREATED'], description: 'bench' },
  });
  const webhookId = created.createWebhook.webhook.id as string;
  await backlog(ctx, webhookId, () => delivered);
  delivered = 0;
  firstAt = 0;
  const ids = ctx.endpoints.slice(0, 100).map((e) => e.id);
  const invoker = await invokerFor(ctx, ctx.servers.server.httpPort, ids, 'hook');
  try {
    log(`webhooks: invoking ${RATE}/s for ${durationMs / 1000} s across ${ids.length} endpoints, one webhook on command.created`);
    const m = meter(ctx);
    const started = now();
    const inv = await invoker.call<InvokeResult>('open', { op: 'invoke', rate: RATE, durationMs, batch: 1 });
    checkInvoke('webhooks', inv);
    const invokedAt = now();
    // Keeping up: what was invoked is delivered shortly after the invokes stop.
    await until(() => delivered >= inv.ops, 60_000, `${inv.ops} webhook deliveries`).catch((e: Error) => log(`webhooks: ${e.message}`));
    const drainMs = round(Math.max(0, lastAt - invokedAt), 1);
    const cpu = m.stop(delivered);
    // Deliveries can go no faster than the invokes that cause them: the invoke rate achieved is the baseline.
    const rate = delivered / ((lastAt - Math.max(firstAt, started)) / 1000);
    const lag = summarize(latencies);
    log(`webhooks: ${delivered}/${inv.ops} delivered at ${rate.toFixed(0)}/s (target ≥ ${RATE}; invokes acknowledged at ${inv.opsPerSec.toFixed(0)}/s); invoke→receipt p50 ${lag.p50} p99 ${lag.p99} ms; drained ${drainMs} ms after the last invoke`);
    ctx.report.row({ scenario: `14 webhooks @${RATE}/s`, metric: 'deliveries per second, live', value: round(rate, 0), unit: '/s' });
    ctx.report.row({ scenario: `14 webhooks @${RATE}/s`, metric: 'invoke → webhook received p99', value: lag.p99, unit: 'ms' });
    ctx.report.row({ scenario: `14 webhooks @${RATE}/s`, metric: 'left to deliver after the invokes stopped', value: drainMs, unit: 'ms', target: '≤ 1000' });
    ctx.report.figures['webhooks'] = { rate: RATE, durationMs, invoked: inv.ops, delivered, deliveriesPerSec: round(rate, 1), invokeToReceiptMs: lag, drainMs, cpu };
  } finally {
    await ctx.workers.stop(invoker);
    await gql(ctx, 'mutation($id: ID!) { deleteWebhook(id: $id) }', { id: webhookId }).catch(() => {});
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    receiver.closeAllConnections();
  }
}

/** Delivery capacity: rows written straight into the outbox, delivered as fast as the server can. */
async function backlog(ctx: BenchContext, webhookId: string, delivered: () => number): Promise<void> {
  const url = ctx.servers.databaseUrl;
  if (!url) {
    log('webhooks: backlog skipped (needs PostgreSQL: the bench writes the outbox with SQL)');
    return;
  }
  const rows = ctx.settings.quick ? 5_000 : 20_000;
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    await sql.unsafe(
      `insert into webhook_events (webhook_id, type, lane, body)
       select $1::uuid, 'command.created', 'bench-' || (i % 100), json_build_object('type', 'command.created', 'timestamp', now(), 'data', json_build_object('seq', i))::text
       from generate_series(1, $2::int) as i`,
      [webhookId, rows],
    );
    const before = delivered();
    const started = now();
    await sql.unsafe(`select pg_notify('cex_webhook_outbox', '')`);
    await until(() => delivered() - before >= rows, 120_000, `${rows} backlog deliveries`);
    const rate = rows / ((now() - started) / 1000);
    log(`webhooks: a backlog of ${rows} events over 100 lanes delivered at ${rate.toFixed(0)}/s (target ≥ ${RATE})`);
    ctx.report.row({ scenario: `14 webhooks backlog`, metric: 'deliveries per second', value: round(rate, 0), unit: '/s', target: `≥ ${RATE}` });
    ctx.report.figures['webhooksBacklog'] = { rows, lanes: 100, deliveriesPerSec: round(rate, 1) };
  } finally {
    await sql.end({ timeout: 5 });
  }
}

export const webhooks: Scenario = { name: 'webhooks', run };
