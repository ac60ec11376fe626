// Scenario 3, connections: a fresh server; a large fleet connects and observes; server RSS at
// the end of the ramp, settled after an idle period (the figure held against the target) and
// after a forced full GC; then push latency at a low rate spread over the fleet. Baseline: a bare
// aedes holding as many subscribed connections, relaying at the same rate.
import { checkInvoke, invokerFor, meter, relayTopic, startBareAedes, type BenchContext, type InvokeResult, type Scenario } from '../lib/context.ts';
import { now, sleep } from '../lib/clock.ts';
import { Fleet } from '../lib/fleet.ts';
import { log } from '../lib/log.ts';
import type { MemoryFigures } from '../lib/memory.ts';
import { memoryOf } from '../lib/proc.ts';
import { round, summarize, type Summary } from '../lib/stats.ts';

async function holdConnections(
  ctx: BenchContext,
  label: string,
  port: number,
  pid: number,
  bind: 'observe' | 'subscribe',
  memory: (gc: boolean) => Promise<MemoryFigures | undefined>,
): Promise<{ fleet: Fleet; connected: number; failed: number; rampMs: number; memory: Record<string, unknown>; rssMiB: number }> {
  const { count, workers, connectConcurrency, settleMs } = ctx.settings.connections;
  const tokens = ctx.endpoints.slice(0, count).map((e) => e.token);
  const rampRss: [number, number][] = [];
  const started = now();
  const sampler = setInterval(() => {
    try {
      rampRss.push([round((now() - started) / 1000, 1), memoryOf(pid).rssMiB]);
    } catch {
      /* gone */
    }
  }, 1000);
  let fleetStart;
  try {
    fleetStart = await Fleet.start(ctx, label, tokens, { workers, port, bind, commandType: 'bench', answer: true, concurrency: connectConcurrency });
  } finally {
    clearInterval(sampler);
  }
  const atRampEnd = memoryOf(pid);
  // Idle with every connection open: what a fleet of quiet devices costs once the ramp's garbage is collected by V8 on its own.
  await sleep(settleMs);
  const settled = memoryOf(pid);
  const inside = await memory(false);
  const afterGc = await memory(true);
  return {
    fleet: fleetStart.fleet,
    connected: fleetStart.connected,
    failed: fleetStart.failed,
    rampMs: round(fleetStart.connectMs, 0),
    rssMiB: settled.rssMiB,
    memory: { rampEndRssMiB: atRampEnd.rssMiB, settledRssMiB: settled.rssMiB, settledAfterMs: settleMs, settledHeap: inside, afterFullGc: afterGc, rampRss },
  };
}

async function run(ctx: BenchContext): Promise<void> {
  const { settings, workers } = ctx;
  const { count, probeRate, probeMs } = settings.connections;
  log(`connections: ramping to ${count} observing MQTT devices (${settings.connections.workers} client processes)`);
  // A fresh server, so its RSS is that of the connections, not of earlier scenarios' garbage.
  await ctx.servers.stopServer();
  const srv = await ctx.servers.startServer('connections');
  await sleep(2000);
  const idle = memoryOf(srv.pid);
  const out: Record<string, unknown> = { count, idleRssMiB: idle.rssMiB };
  const held = await holdConnections(ctx, 'conn', srv.mqttPort, srv.pid, 'observe', (gc) => srv.memory(gc));
  try {
    log(`connections: ${held.connected} connected in ${(held.rampMs / 1000).toFixed(1)} s; server RSS ${JSON.stringify(held.memory['settledRssMiB'])} MiB settled, ${(held.memory['afterFullGc'] as MemoryFigures | undefined)?.rssMiB} MiB after a full GC`);
    const ids = ctx.endpoints.slice(0, count).map((e) => e.id);
    // Spread the probe commands over the whole fleet.
    const shuffled = ids.map((id) => [Math.random(), id] as const).sort((a, b) => a[0] - b[0]).map(([, id]) => id);
    const invoker = await invokerFor(ctx, srv.httpPort, shuffled, 'bench');
    try {
      await held.fleet.stats(true);
      const m = meter(ctx);
      const inv = await invoker.call<InvokeResult>('open', { op: 'invoke', rate: probeRate, durationMs: probeMs, batch: 1 });
      checkInvoke('connections probe', inv);
      await held.fleet.waitFor('acked', inv.ops, 60_000);
      const cpu = m.stop(inv.ops);
      const st = await held.fleet.stats(true);
      const push = summarize(st.recv);
      const after = memoryOf(srv.pid);
      Object.assign(out, {
        connected: held.connected,
        failed: held.failed,
        rampMs: held.rampMs,
        connectsPerSec: round(held.connected / (held.rampMs / 1000), 1),
        rssMiB: held.rssMiB,
        memory: held.memory,
        rssAfterPushesMiB: after.rssMiB,
        hwmMiB: after.hwmMiB,
        probe: { rate: probeRate, commands: inv.ops, invokeToDeviceMs: push, invokeToResultStoredMs: summarize(st.exec), mutationRoundTripMs: summarize(inv.latency), cpu },
        closedUnexpectedly: st.closedUnexpectedly,
      });
      log(`connections: push p50 ${push.p50} p99 ${push.p99} ms; RSS after pushes ${after.rssMiB} MiB (peak ${after.hwmMiB})`);
    } finally {
      await workers.stop(invoker);
    }
  } finally {
    await held.fleet.stop();
  }
  const broker = await startBareAedes(ctx);
  await sleep(2000);
  const bareIdle = memoryOf(broker.pid);
  const bare = await holdConnections(ctx, 'conn-bare', broker.port, broker.pid, 'subscribe', (gc) => broker.worker.call<MemoryFigures>('memory', { gc }));
  const pub = await workers.start('devices.ts', 'conn-bare-pub');
  try {
    const topics = ctx.endpoints
      .slice(0, count)
      .map((e) => relayTopic(ctx, e.token))
      .sort(() => Math.random() - 0.5);
    const total = Math.floor((probeRate * probeMs) / 1000);
    await bare.fleet.stats(true);
    await pub.call('relayPublish', { host: '127.0.0.1', port: broker.port, localAddress: workers.nextAddress(), topics, total, rate: probeRate, pad: settings.payloadPad });
    await bare.fleet.waitFor('received', total, 30_000);
    const st = await bare.fleet.stats(true);
    out['bareAedes'] = { idleRssMiB: bareIdle.rssMiB, connected: bare.connected, rampMs: bare.rampMs, rssMiB: bare.rssMiB, memory: bare.memory, hwmMiB: memoryOf(broker.pid).hwmMiB, relayMs: summarize(st.recv) };
  } finally {
    await workers.stop(pub);
    await bare.fleet.stop();
    await workers.stop(broker.worker);
  }
  ctx.report.figures['connections'] = out;
  addRows(ctx, out);
}

function addRows(ctx: BenchContext, out: Record<string, unknown>): void {
  const { row } = ctx.report;
  const { count, probeRate } = ctx.settings.connections;
  type Mem = { afterFullGc?: MemoryFigures };
  const o = out as { connected?: number; rssMiB?: number; memory?: Mem; probe?: { invokeToDeviceMs: Summary }; bareAedes: { rssMiB: number; memory: Mem; relayMs: Summary; connected: number } };
  const sc = `3 connections ×${count}`;
  if (o.connected === undefined) return;
  row({ scenario: sc, metric: 'connected, observing', value: o.connected, unit: '', target: `≥ ${count}`, baselineName: 'bare aedes', baseline: o.bareAedes.connected });
  row({ scenario: sc, metric: 'server RSS, settled', value: o.rssMiB!, unit: 'MiB', target: '≤ 400', baselineName: 'bare aedes', baseline: o.bareAedes.rssMiB });
  const gcd = o.memory?.afterFullGc;
  const bareGcd = o.bareAedes.memory?.afterFullGc;
  if (gcd) row({ scenario: sc, metric: 'server RSS after a full GC', value: gcd.rssMiB, unit: 'MiB', baselineName: 'bare aedes', baseline: bareGcd?.rssMiB });
  if (gcd) row({ scenario: sc, metric: 'server JS heap used after a full GC', value: gcd.heapUsedMiB, unit: 'MiB', baselineName: 'bare aedes', baseline: bareGcd?.heapUsedMiB });
  row({ scenario: sc, metric: `push latency p50 @${probeRate}/s`, value: o.probe!.invokeToDeviceMs.p50, unit: 'ms', baselineName: 'aedes relay', baseline: o.bareAedes.relayMs.p50 });
  row({ scenario: sc, metric: `push latency p99 @${probeRate}/s`, value: o.probe!.invokeToDeviceMs.p99, unit: 'ms', target: '≤ 50', baselineName: 'aedes relay', baseline: o.bareAedes.relayMs.p99 });
}

export const connections: Scenario = { name: 'connections', run };
