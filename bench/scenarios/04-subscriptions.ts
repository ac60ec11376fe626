// Scenario 6, subscription fan-out: many graphql-ws subscribers on one endpoint's
// commandStatusChanged while commands on it are invoked and answered by a device: invoke →
// PENDING delivered, invoke → EXECUTED delivered, first → last delivery of one event.
// Baseline: the same fan-out from the tiny yoga + graphql-ws server.
import { checkInvoke, invokerFor, meter, SUBSCRIPTION, type BenchContext, type InvokeResult, type Scenario } from '../lib/context.ts';
import { now, sleep } from '../lib/clock.ts';
import { Fleet, shortfall, sum } from '../lib/fleet.ts';
import { log } from '../lib/log.ts';
import { freePort } from '../lib/proc.ts';
import { merge, round, summarize, type Summary } from '../lib/stats.ts';

type SubStats = { counts: Record<string, number>; errors: number; firstError?: string; latency: Record<string, number[]>; spread: [string, [number, number]][]; cpuMs: number };
type FanOut = { pending: Summary; executed?: Summary; spreadMs: Summary; events: number; connectMs: number; errors: number };

async function fanOut(
  ctx: BenchContext,
  label: string,
  httpPort: number,
  endpointId: string,
  op: 'invoke' | 'noop-input',
  device?: { token: string; mqttPort: number },
): Promise<FanOut> {
  const { subscribers, workers, rate, durationMs } = ctx.settings.subscriptions;
  const subs = await Promise.all(Array.from({ length: workers }, (_, i) => ctx.workers.start('subscriber.ts', `${label}-sub-${i}`)));
  const deviceFleet = device
    ? (await Fleet.start(ctx, `${label}-dev`, [device.token], { workers: 1, port: device.mqttPort, bind: 'observe', commandType: 'bench', answer: true })).fleet
    : undefined;
  const invoker = await invokerFor(ctx, httpPort, [endpointId], 'bench');
  try {
    const started = now();
    const per = Math.ceil(subscribers / workers);
    const conn = await Promise.all(
      subs.map((s, i) =>
        s.call<{ connected: number; errors: number; firstError?: string }>('connect', {
          url: `ws://127.0.0.1:${httpPort}/graphql`,
          key: ctx.run.adminKey,
          count: Math.min(per, subscribers - i * per),
          query: SUBSCRIPTION,
          variables: { e: endpointId },
          field: 'commandStatusChanged',
          concurrency: 20,
        }),
      ),
    );
    const connectMs = now() - started;
    const connected = sum(conn, 'connected');
    if (connected < subscribers) log(`${label}: only ${connected} of ${subscribers} subscribers connected: ${conn.find((c) => c.firstError)?.firstError}`);
    // graphql-ws has no "subscribed" acknowledgement: one probe event proves every subscription is live.
    await invoker.call('closed', { op, total: 1, batch: 1, concurrency: 1 });
    await Promise.all(subs.map((s, i) => s.call('waitFor', { status: 'PENDING', atLeast: 1, timeoutMs: 60_000 }).catch((e) => shortfall(`${label} sub ${i}: ${e}`))));
    if (deviceFleet) await deviceFleet.waitFor('acked', 1, 30_000);
    await sleep(200);
    await Promise.all(subs.map((s) => s.call('stats', { reset: true })));
    const inv = await invoker.call<InvokeResult>('open', { op, rate, durationMs, batch: 1 });
    checkInvoke(`${label} invoke`, inv);
    const want = (inv.ops * connected) / workers;
    await Promise.all(subs.map((s) => s.call('waitFor', { status: device ? 'EXECUTED' : 'PENDING', atLeast: Math.floor(want * 0.999), timeoutMs: 60_000 }).catch((e) => shortfall(`${label}: ${e}`))));
    await sleep(300);
    const st = await Promise.all(subs.map((s) => s.call<SubStats>('stats', { reset: true })));
    // Fan-out spread: first to last delivery of each event, across processes.
    const spans = new Map<string, [number, number]>();
    for (const s of st) for (const [k, [a, b]] of s.spread) {
      const x = spans.get(k);
      spans.set(k, x ? [Math.min(x[0], a), Math.max(x[1], b)] : [a, b]);
    }
    const errors = sum(st, 'errors');
    if (errors) log(`${label}: ${errors} subscriber errors: ${st.find((s) => s.firstError)?.firstError}`);
    return {
      pending: summarize(merge(st.map((s) => s.latency['PENDING'] ?? []))),
      executed: device ? summarize(merge(st.map((s) => s.latency['EXECUTED'] ?? []))) : undefined,
      spreadMs: summarize([...spans.values()].map(([a, b]) => b - a)),
      events: st.reduce((n, s) => n + Object.values(s.counts).reduce((a, b) => a + b, 0), 0),
      connectMs: round(connectMs, 0),
      errors,
    };
  } finally {
    await Promise.all(subs.map((s) => s.call('disconnect').catch(() => {})));
    await ctx.workers.stop(invoker, ...subs);
    await deviceFleet?.stop();
  }
}

async function run(ctx: BenchContext): Promise<void> {
  const server = ctx.servers.server;
  const { subscribers, rate, durationMs } = ctx.settings.subscriptions;
  log(`subscriptions: ${subscribers} graphql-ws subscribers on one endpoint, ${rate} commands/s for ${durationMs / 1000} s`);
  const target = ctx.endpoints[0]!;
  const m = meter(ctx);
  const real = await fanOut(ctx, 'subs', server.httpPort, target.id, 'invoke', { token: target.token, mqttPort: server.mqttPort });
  const cpu = m.stop(real.events);
  log(`subscriptions: PENDING p50 ${real.pending.p50} p99 ${real.pending.p99}; EXECUTED p99 ${real.executed?.p99} ms`);
  const srv = await ctx.workers.start('tiny-graphql.ts', 'tiny-graphql-ws');
  let base: FanOut | undefined;
  try {
    const { port } = await srv.call<{ port: number }>('start', { host: '127.0.0.1', port: await freePort(), adminKey: ctx.run.adminKey });
    base = await fanOut(ctx, 'subs-bare', port, target.id, 'noop-input');
  } finally {
    await ctx.workers.stop(srv);
  }
  ctx.report.figures['subscriptions'] = { subscribers, rate, durationMs, service: { ...real, cpu }, tinyServer: base };
  const { row } = ctx.report;
  const sc = `6 subscriptions ×${subscribers}`;
  row({ scenario: sc, metric: 'invoke→PENDING delivered p50', value: real.pending.p50, unit: 'ms', baselineName: 'tiny graphql-ws', baseline: base?.pending.p50 });
  row({ scenario: sc, metric: 'invoke→PENDING delivered p99', value: real.pending.p99, unit: 'ms', target: '≤ 100', baselineName: 'tiny graphql-ws', baseline: base?.pending.p99 });
  if (real.executed) row({ scenario: sc, metric: 'invoke→EXECUTED delivered p99', value: real.executed.p99, unit: 'ms', target: '≤ 100' });
  row({ scenario: sc, metric: 'first→last delivery of one event p99', value: real.spreadMs.p99, unit: 'ms', baselineName: 'tiny graphql-ws', baseline: base?.spreadMs.p99 });
}

export const subscriptions: Scenario = { name: 'subscriptions', run };
