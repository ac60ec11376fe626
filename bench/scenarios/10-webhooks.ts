// Scenario 10, webhooks: commands are invoked at 1,000/s (open loop) with a webhook on
// command.created pointing at a fast receiver in this process. Every invoke writes an outbox row
// in its transaction; the server must deliver them as fast as they come (target: ≥ 1,000
// deliveries/s, nothing left behind). Latency: the invoke's scheduled send time → receipt.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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
    ctx.report.row({ scenario: `10 webhooks @${RATE}/s`, metric: 'deliveries per second', value: round(rate, 0), unit: '/s', target: `≥ ${RATE}`, baselineName: 'invokes acknowledged', baseline: round(inv.opsPerSec, 0) });
    ctx.report.row({ scenario: `10 webhooks @${RATE}/s`, metric: 'invoke → webhook received p99', value: lag.p99, unit: 'ms' });
    ctx.report.row({ scenario: `10 webhooks @${RATE}/s`, metric: 'left to deliver after the invokes stopped', value: drainMs, unit: 'ms', target: '≤ 1000' });
    ctx.report.figures['webhooks'] = { rate: RATE, durationMs, invoked: inv.ops, delivered, deliveriesPerSec: round(rate, 1), invokeToReceiptMs: lag, drainMs, cpu };
  } finally {
    await ctx.workers.stop(invoker);
    await gql(ctx, 'mutation($id: ID!) { deleteWebhook(id: $id) }', { id: webhookId }).catch(() => {});
    await new Promise<void>((resolve) => receiver.close(() => resolve()));
    receiver.closeAllConnections();
  }
}

export const webhooks: Scenario = { name: 'webhooks', run };
