// Scenario 4, results: devices report results for outstanding commands at a fixed rate over
// MQTT QoS 1; PUBLISH → PUBACK, where the result is stored before the PUBACK. Baseline: the same
// publishes to a bare aedes (a PUBACK without any storage).
import { checkInvoke, invokerFor, meter, startBareAedes, type BenchContext, type InvokeResult, type Scenario } from '../lib/context.ts';
import { now } from '../lib/clock.ts';
import { Fleet, sum } from '../lib/fleet.ts';
import { log } from '../lib/log.ts';
import { merge, round, summarize, type Summary } from '../lib/stats.ts';

async function run(ctx: BenchContext): Promise<void> {
  const { settings, workers } = ctx;
  const server = ctx.servers.server;
  const { rate, durationMs, devices } = settings.results;
  const total = Math.floor((rate * durationMs) / 1000);
  const warm = Math.min(total, rate);
  log(`results: ${total} results at ${rate}/s over MQTT QoS 1 from ${devices} devices`);
  const ids = ctx.endpoints.slice(0, devices);
  const tokens = ids.map((e) => e.token);
  const out: Record<string, unknown> = { rate, durationMs, devices };
  // The commands to report on: invoked beforehand (pipelined), nobody observing them.
  const invoker = await invokerFor(ctx, server.httpPort, ids.map((e) => e.id), 'res');
  const setupStarted = now();
  const inv = await invoker.call<InvokeResult>('closed', { op: ctx.pipeline.invoke, total: total + warm, batch: 20, concurrency: 16, maxMs: settings.results.setupMaxMs });
  checkInvoke('results setup', inv);
  log(`results: ${inv.ops} commands to report on, invoked in ${((now() - setupStarted) / 1000).toFixed(1)} s`);
  await workers.stop(invoker);
  // Bound with {"observe": false}: the reply lists each device's outstanding ids, nothing is pushed.
  const optOut = { workers: settings.deviceWorkers, port: server.mqttPort, bind: 'optout', commandType: 'res', answer: false } as const;
  const { fleet, outstanding } = await Fleet.start(ctx, 'res', tokens, optOut);
  try {
    if (outstanding < total + warm) log(`results: only ${outstanding} outstanding commands (wanted ${total + warm})`);
    type SendResult = { planned: number; sent: number; failed: number; achievedRate: number; lag: number[]; latency: number[] };
    const perWorker = (r: number) => r / fleet.workers.length;
    // Warm-up: the first `warm` results (each device's first ids).
    await Promise.all(fleet.workers.map((w) => w.call<SendResult>('sendResults', { rate: perWorker(rate), durationMs: (Math.min(warm, outstanding / 4) / rate) * 1000, commandType: 'res' })));
    await fleet.stop();
    // The fleet's ids lists restart from the beginning on reconnect; reconnecting re-reads what is still outstanding.
    const again = await Fleet.start(ctx, 'res2', tokens, optOut);
    const m = meter(ctx);
    const results = await Promise.all(again.fleet.workers.map((w) => w.call<SendResult>('sendResults', { rate: perWorker(rate), durationMs, commandType: 'res' })));
    const sent = sum(results, 'sent');
    const cpu = m.stop(sent);
    await again.fleet.stop();
    const ack = summarize(merge(results.map((r) => r.latency)));
    Object.assign(out, {
      results: sent,
      failed: sum(results, 'failed'),
      achievedRate: round(sum(results, 'achievedRate'), 1),
      sendLagMs: summarize(merge(results.map((r) => r.lag))),
      publishToPubackMs: ack,
      cpu,
    });
    log(`results: PUBLISH→PUBACK p50 ${ack.p50} p99 ${ack.p99} max ${ack.max} ms at ${sum(results, 'achievedRate').toFixed(0)}/s`);
  } finally {
    await fleet.stop();
  }
  const broker = await startBareAedes(ctx);
  const { fleet: bare } = await Fleet.start(ctx, 'res-bare', tokens, { workers: settings.deviceWorkers, port: broker.port, bind: 'none', commandType: 'res', answer: false });
  try {
    type SendResult = { latency: number[] };
    const results = await Promise.all(bare.workers.map((w) => w.call<SendResult>('sendResults', { rate: rate / bare.workers.length, durationMs, commandType: 'res', synthetic: true })));
    const base = summarize(merge(results.map((r) => r.latency)));
    out['bareAedesPubackMs'] = base;
    const ack = out['publishToPubackMs'] as Summary | undefined;
    if (ack) {
      ctx.report.row({ scenario: `4 results @${rate}/s`, metric: 'result stored→PUBACK p50', value: ack.p50, unit: 'ms', baselineName: 'bare aedes PUBACK', baseline: base.p50 });
      ctx.report.row({ scenario: `4 results @${rate}/s`, metric: 'result stored→PUBACK p99', value: ack.p99, unit: 'ms', target: '≤ 20', baselineName: 'bare aedes PUBACK', baseline: base.p99 });
    }
  } finally {
    await bare.stop();
    await workers.stop(broker.worker);
  }
  ctx.report.figures['results'] = out;
}

export const results: Scenario = { name: 'results', run };
