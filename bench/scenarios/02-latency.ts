// Scenario 2, latency at a fixed rate: open-loop invokes to the e2e fleet, which answers each
// command; invoke → device receipt and invoke → an operator's subscription shows EXECUTED, at
// each rate of the profile. Baseline: bare aedes relaying at the same rate to as many subscribers.
import { checkInvoke, invokerFor, meter, relayTopic, startBareAedes, SUBSCRIPTION, type BenchContext, type InvokeResult, type Scenario } from '../lib/context.ts';
import { Fleet, shortfall } from '../lib/fleet.ts';
import { log } from '../lib/log.ts';
import { round, summarize, type Summary } from '../lib/stats.ts';

async function run(ctx: BenchContext): Promise<void> {
  const byRate: Record<string, unknown> = {};
  ctx.report.figures['latency'] = byRate;
  for (const rate of ctx.settings.latency.rates) byRate[String(rate)] = await latencyAt(ctx, rate);
}

async function latencyAt(ctx: BenchContext, rate: number): Promise<Record<string, unknown>> {
  const { settings, workers } = ctx;
  const server = ctx.servers.server;
  const { row } = ctx.report;
  const { durationMs } = settings.latency;
  log(`latency: ${rate} commands/s for ${durationMs / 1000} s, ${settings.devices} devices, 1 operator subscription`);
  const fleetIds = ctx.endpoints.slice(0, settings.devices);
  const { fleet } = await Fleet.start(ctx, 'lat', fleetIds.map((e) => e.token), {
    workers: settings.deviceWorkers,
    port: server.mqttPort,
    bind: 'observe',
    commandType: 'bench',
    answer: true,
  });
  const subs = await workers.start('subscriber.ts', 'lat-operator');
  const invoker = await invokerFor(ctx, server.httpPort, fleetIds.map((e) => e.id), 'bench');
  const out: Record<string, unknown> = { rate, durationMs, devices: settings.devices };
  try {
    await subs.call('connect', { url: `ws://127.0.0.1:${server.httpPort}/graphql`, key: ctx.run.adminKey, count: 1, query: SUBSCRIPTION, variables: {}, field: 'commandStatusChanged', concurrency: 1 });
    // Warm-up at the same rate, and proof that the subscription is live.
    const warm = await invoker.call<InvokeResult>('open', { op: 'invoke', rate, durationMs: Math.min(2000, durationMs), batch: 1 });
    await subs.call('waitFor', { status: 'EXECUTED', atLeast: warm.ops, timeoutMs: 60_000 });
    await fleet.waitFor('acked', warm.ops, 60_000);
    await fleet.stats(true);
    await subs.call('stats', { reset: true });
    const m = meter(ctx);
    const inv = await invoker.call<InvokeResult>('open', { op: 'invoke', rate, durationMs, batch: 1 });
    checkInvoke('latency invoke', inv);
    await fleet.waitFor('acked', inv.ops, 120_000);
    await subs.call('waitFor', { status: 'EXECUTED', atLeast: inv.ops, timeoutMs: 60_000 }).catch((e) => shortfall(`latency subscriber: ${e}`));
    const cpu = m.stop(inv.ops);
    const st = await fleet.stats(true);
    const sub = await subs.call<{ latency: Record<string, number[]>; counts: Record<string, number> }>('stats', { reset: true });
    const device = summarize(st.recv);
    const executed = summarize(sub.latency['EXECUTED'] ?? []);
    // Results stored per second over the run: below the offered rate, the server is saturated and the latencies are queueing.
    const executedRate = st.acked / ((st.lastAckAt - inv.startedAt) / 1000);
    const saturated = executedRate < rate * 0.95;
    if (saturated) log(`latency: saturated — ${executedRate.toFixed(0)} commands/s executed of ${rate}/s offered`);
    Object.assign(out, {
      executedRate: round(executedRate, 1),
      saturated,
      commands: inv.ops,
      invokeErrors: inv.errors,
      achievedRate: round(inv.opsPerSec, 1),
      invokeSendLagMs: summarize(inv.lag ?? []),
      mutationRoundTripMs: summarize(inv.latency),
      invokeToDeviceMs: device,
      invokeToOperatorPendingMs: summarize(sub.latency['PENDING'] ?? []),
      invokeToOperatorExecutedMs: executed,
      invokeToResultStoredMs: summarize(st.exec),
      cpu,
    });
    log(`latency: device p50 ${device.p50} p99 ${device.p99} max ${device.max} ms; EXECUTED seen p50 ${executed.p50} p99 ${executed.p99} ms`);
    row({ scenario: `2 latency @${rate}/s`, metric: 'executed rate (saturated when below offered)', value: executedRate, unit: '/s', target: `≥ ${Math.floor(rate * 0.95)}` });
    for (const [name, s, p50, p99] of [
      ['invoke→device receipt', device, '≤ 5', '≤ 25'],
      ['invoke→operator sees EXECUTED', executed, undefined, '≤ 50'],
    ] as const) {
      row({ scenario: `2 latency @${rate}/s`, metric: `${name} p50`, value: s.p50, unit: 'ms', target: p50 });
      row({ scenario: `2 latency @${rate}/s`, metric: `${name} p90`, value: s.p90, unit: 'ms' });
      row({ scenario: `2 latency @${rate}/s`, metric: `${name} p99`, value: s.p99, unit: 'ms', target: p99 });
      row({ scenario: `2 latency @${rate}/s`, metric: `${name} max`, value: s.max, unit: 'ms' });
    }
  } finally {
    await workers.stop(invoker, subs);
    await fleet.stop();
  }
  // Baseline: the bare broker relaying the same messages at the same rate to as many subscribers.
  const broker = await startBareAedes(ctx);
  const tokens = fleetIds.map((e) => e.token);
  const { fleet: subsFleet } = await Fleet.start(ctx, 'lat-relay', tokens, { workers: settings.deviceWorkers, port: broker.port, bind: 'subscribe', commandType: 'bench', answer: false });
  const pub = await workers.start('devices.ts', 'lat-relay-pub');
  try {
    const topics = tokens.map((t) => relayTopic(ctx, t));
    const total = Math.floor((rate * durationMs) / 1000);
    await pub.call('relayPublish', { host: '127.0.0.1', port: broker.port, localAddress: workers.nextAddress(), topics, total, rate, pad: settings.payloadPad });
    await subsFleet.waitFor('received', total, 60_000);
    const st = await subsFleet.stats(true);
    const relay = summarize(st.recv);
    out['aedesRelayAtRateMs'] = relay;
    const device = out['invokeToDeviceMs'] as Summary | undefined;
    if (device) {
      row({ scenario: `2 latency @${rate}/s`, metric: 'invoke→device p50 vs bare relay', value: device.p50, unit: 'ms', baselineName: 'aedes relay', baseline: relay.p50 });
      row({ scenario: `2 latency @${rate}/s`, metric: 'invoke→device p99 vs bare relay', value: device.p99, unit: 'ms', baselineName: 'aedes relay', baseline: relay.p99 });
    }
  } finally {
    await workers.stop(pub);
    await subsFleet.stop();
    await workers.stop(broker.worker);
  }
  return out;
}

export const latency: Scenario = { name: 'latency', run };
