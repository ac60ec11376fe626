// Scenario 1, end-to-end rate: devices over MQTT answer every `bench` command at once while
// operators invoke with single requests, then pipelined ones; commands/s from the first invoke to
// the last result stored. Baselines in the same run: the no-op mutation on the same server, the
// tiny yoga server's noop(input), raw postgres.js, bare aedes relaying as many messages.
import { checkInvoke, invokerFor, meter, relayTopic, startBareAedes, type BenchContext, type InvokeResult, type Scenario } from '../lib/context.ts';
import { Fleet } from '../lib/fleet.ts';
import { log } from '../lib/log.ts';
import { freePort } from '../lib/proc.ts';
import { round, summarize } from '../lib/stats.ts';
import { statementMeter, type StatementFigures } from '../lib/statements.ts';

async function run(ctx: BenchContext): Promise<void> {
  const { settings, report } = ctx;
  const server = ctx.servers.server;
  log(`e2e: ${settings.devices} devices over MQTT`);
  const fleetIds = ctx.endpoints.slice(0, settings.devices);
  const { fleet, connectMs, connected } = await Fleet.start(ctx, 'e2e', fleetIds.map((e) => e.token), {
    workers: settings.deviceWorkers,
    port: server.mqttPort,
    bind: 'observe',
    commandType: 'bench',
    answer: true,
  });
  log(`e2e: ${connected} devices observing in ${(connectMs / 1000).toFixed(1)} s`);
  const invoker = await invokerFor(ctx, server.httpPort, fleetIds.map((e) => e.id), 'bench');
  const out: Record<string, unknown> = { devices: connected, connectMs: round(connectMs, 0) };
  try {
    // Warm-up (JIT, pools, caches): not measured.
    await invoker.call('closed', { op: 'invoke', total: settings.e2e.warmup, batch: 1, concurrency: 16 });
    await invoker.call('closed', { op: 'noop', total: settings.e2e.warmup, batch: 1, concurrency: 16 });
    await fleet.waitFor('acked', settings.e2e.warmup, 60_000);

    const pipe = ctx.pipeline;
    out['pipelineMode'] = pipe.label;
    for (const mode of ['single', 'pipelined'] as const) {
      const p = settings.e2e[mode];
      const batch = mode === 'single' ? 1 : settings.e2e.pipelined.batch;
      const ops = mode === 'single' ? { invoke: 'invoke', noop: 'noop' } : pipe;
      // The no-op mutation on the same server, same concurrency and batching.
      let m = meter(ctx);
      const noop = await invoker.call<InvokeResult>('closed', { op: ops.noop, total: p.total, batch, concurrency: p.concurrency, maxMs: settings.e2e.maxMs });
      const noopCpu = m.stop(noop.ops);
      checkInvoke(`noop ${mode}`, noop);

      await fleet.stats(true);
      const statements = await statementMeter(ctx);
      m = meter(ctx);
      const inv = await invoker.call<InvokeResult>('closed', { op: ops.invoke, total: p.total, batch, concurrency: p.concurrency, maxMs: settings.e2e.maxMs });
      checkInvoke(`invoke ${mode}`, inv);
      const acked = await fleet.waitFor('acked', inv.ops, 300_000);
      const cpu = m.stop(inv.ops);
      const perStatement = await statements?.read(inv.ops);
      if (perStatement) logStatements(`e2e ${mode}`, perStatement);
      const st = await fleet.stats(true);
      const e2eSeconds = (st.lastAckAt - inv.startedAt) / 1000;
      const rate = acked / e2eSeconds;
      out[mode] = {
        concurrency: p.concurrency,
        batch,
        commands: inv.ops,
        executed: acked,
        invokeErrors: inv.errors,
        commandsPerSec: round(rate, 1),
        invokesPerSec: round(inv.opsPerSec, 1),
        requestLatencyMs: summarize(inv.latency),
        invokeToExecutedMs: summarize(st.exec),
        invokeToDeviceMs: summarize(st.recv),
        cpu,
        statements: perStatement,
        invokerCpuMs: round(inv.cpuMs, 0),
        devicesCpuMs: round(st.cpuMs, 0),
        noop: { opsPerSec: round(noop.opsPerSec, 1), requestLatencyMs: summarize(noop.latency), errors: noop.errors, cpu: noopCpu },
      };
      log(
        `e2e ${mode}: ${rate.toFixed(0)} commands/s invoke→EXECUTED (invokes ${inv.opsPerSec.toFixed(0)}/s), no-op ${noop.opsPerSec.toFixed(0)}/s; server CPU ${cpu.serverCpuPct}%, db ${cpu.databaseCpuPct ?? '-'}%`,
      );
      report.row({
        scenario: '1 e2e',
        metric: mode === 'single' ? 'single invokes: cmd/s invoke→EXECUTED' : `pipelined (${batch}/request, ${pipe.label}): cmd/s`,
        value: rate,
        unit: '/s',
        target: mode === 'single' ? undefined : '≥ 5000',
        baselineName: `no-op mutation${batch > 1 ? ` ×${batch}` : ''}`,
        baseline: noop.opsPerSec,
      });
      if (mode === 'single') {
        const ratio = rate / noop.opsPerSec;
        report.rows.push({
          scenario: '1 e2e',
          metric: 'single invokes vs no-op mutation',
          value: ratio,
          unit: '%',
          target: '≥ 0.6',
          pass: ratio >= 0.6,
        });
      }
    }
  } finally {
    await ctx.workers.stop(invoker);
  }

  // Baselines on the same machine, same run: the tiny yoga server's no-op, raw postgres.js, bare aedes relay.
  report.figures['e2e'] = out;
  await fleet.stop();
  await baselineTinyGraphQL(ctx, out);
  await baselineRawPostgres(ctx, out);
  await baselineAedesRelay(ctx, out);
}

async function baselineTinyGraphQL(ctx: BenchContext, out: Record<string, unknown>): Promise<void> {
  const { settings } = ctx;
  const srv = await ctx.workers.start('tiny-graphql.ts', 'tiny-graphql');
  try {
    const { port, pid } = await srv.call<{ port: number; pid: number }>('start', { host: '127.0.0.1', port: await freePort(), adminKey: ctx.run.adminKey });
    const invoker = await invokerFor(ctx, port, ctx.endpoints.slice(0, settings.devices).map((e) => e.id), 'bench');
    try {
      await invoker.call('closed', { op: 'noop-input', total: settings.e2e.warmup, batch: 1, concurrency: 16 });
      const res: Record<string, unknown> = {};
      for (const mode of ['single', 'pipelined'] as const) {
        const p = settings.e2e[mode];
        const batch = mode === 'single' ? 1 : settings.e2e.pipelined.batch;
        const m = meter(ctx, pid);
        const r = await invoker.call<InvokeResult>('closed', { op: 'noop-input', total: p.total, batch, concurrency: p.concurrency, maxMs: settings.e2e.maxMs });
        checkInvoke('tiny noop', r);
        res[mode] = { opsPerSec: round(r.opsPerSec, 1), requestLatencyMs: summarize(r.latency), cpu: m.stop(r.ops) };
        ctx.report.row({ scenario: '7 baseline', metric: `tiny yoga+Pothos noop(input) ${mode === 'single' ? 'single' : `×${batch}`}`, value: r.opsPerSec, unit: '/s' });
      }
      out['tinyGraphQLNoop'] = res;
    } finally {
      await ctx.workers.stop(invoker);
    }
  } finally {
    await ctx.workers.stop(srv);
  }
}

async function baselineRawPostgres(ctx: BenchContext, out: Record<string, unknown>): Promise<void> {
  const { settings, report } = ctx;
  const databaseUrl = ctx.servers.databaseUrl;
  const w = await ctx.workers.start('pg-raw.ts', 'pg-raw');
  try {
    const info = await w.call<{ serverVersion: string }>('init', {
      url: databaseUrl,
      pool: settings.raw.concurrency,
      endpointIds: databaseUrl ? ctx.endpoints.slice(0, settings.devices).map((e) => e.id) : undefined,
      endpoints: settings.devices,
    });
    report.figures['postgresVersion'] = info.serverVersion;
    const res: Record<string, unknown> = {};
    for (const variant of ['single', 'single-unprepared', 'single-tx-notify', 'batched'] as const) {
      const total = variant === 'batched' ? settings.raw.batched : settings.raw.single;
      const m = meter(ctx);
      const r = await w.call<{ rows: number; rowsPerSec: number; insertLatency: number[]; updateLatency: number[]; cpuMs: number }>('run', {
        variant,
        total,
        concurrency: settings.raw.concurrency,
        batch: settings.raw.batch,
        pad: settings.payloadPad,
      });
      res[variant] = {
        rows: r.rows,
        rowsPerSec: round(r.rowsPerSec, 1),
        insertMs: summarize(r.insertLatency),
        updateMs: summarize(r.updateLatency),
        cpu: m.stop(r.rows),
      };
      log(`raw postgres ${variant}: ${r.rowsPerSec.toFixed(0)} insert+update/s`);
    }
    await w.call('cleanup');
    out['rawPostgres'] = res;
    const e2e = out as { single?: { commandsPerSec: number }; pipelined?: { commandsPerSec: number } };
    const raw = res as Record<string, { rowsPerSec: number }>;
    report.row({ scenario: '7 baseline', metric: 'raw postgres.js insert+update, single (prepared)', value: raw['single']!.rowsPerSec, unit: '/s' });
    report.row({ scenario: '7 baseline', metric: 'raw … single, unprepared (as drizzle sends)', value: raw['single-unprepared']!.rowsPerSec, unit: '/s' });
    report.row({ scenario: '7 baseline', metric: 'raw … single, tx + pg_notify (as the service)', value: raw['single-tx-notify']!.rowsPerSec, unit: '/s' });
    report.row({ scenario: '7 baseline', metric: `raw … batched (${settings.raw.batch} rows/statement)`, value: raw['batched']!.rowsPerSec, unit: '/s' });
    if (e2e.single) report.row({ scenario: '1 e2e', metric: 'single invokes vs raw single insert+update', value: e2e.single.commandsPerSec, unit: '/s', baselineName: 'raw pg single', baseline: raw['single']!.rowsPerSec });
    if (e2e.pipelined) report.row({ scenario: '1 e2e', metric: 'pipelined vs raw batched insert+update', value: e2e.pipelined.commandsPerSec, unit: '/s', baselineName: 'raw pg batched', baseline: raw['batched']!.rowsPerSec });
  } finally {
    await ctx.workers.stop(w);
  }
}

async function baselineAedesRelay(ctx: BenchContext, out: Record<string, unknown>): Promise<void> {
  const { settings, workers } = ctx;
  const broker = await startBareAedes(ctx);
  const tokens = ctx.endpoints.slice(0, settings.devices).map((e) => e.token);
  const { fleet } = await Fleet.start(ctx, 'relay-sub', tokens, { workers: settings.deviceWorkers, port: broker.port, bind: 'subscribe', commandType: 'bench', answer: false });
  const pub = await workers.start('devices.ts', 'relay-pub');
  try {
    const topics = tokens.map((t) => relayTopic(ctx, t));
    const total = (out as { pipelined?: { executed: number } }).pipelined?.executed || settings.e2e.pipelined.total;
    await pub.call('relayPublish', { host: '127.0.0.1', port: broker.port, localAddress: workers.nextAddress(), topics, total: settings.e2e.warmup, window: 100, pad: settings.payloadPad });
    await fleet.waitFor('received', settings.e2e.warmup, 30_000);
    await fleet.stats(true);
    const m = meter(ctx, broker.pid);
    const r = await pub.call<{ startedAt: number; endedAt: number; acked: number }>('relayPublish', {
      host: '127.0.0.1',
      port: broker.port,
      localAddress: workers.nextAddress(),
      topics,
      total,
      window: 100,
      pad: settings.payloadPad,
    });
    const got = await fleet.waitFor('received', total, 120_000);
    const cpu = m.stop(total);
    const st = await fleet.stats(true);
    const rate = got / ((st.lastReceivedAt - r.startedAt) / 1000);
    out['aedesRelay'] = { messages: total, received: got, messagesPerSec: round(rate, 1), publishToReceiptMs: summarize(st.recv), cpu };
    log(`bare aedes relay: ${rate.toFixed(0)} msg/s (QoS 1, ${settings.devices} subscribers)`);
    ctx.report.row({ scenario: '7 baseline', metric: `bare aedes relay, QoS 1, ${settings.devices} subscribers`, value: rate, unit: '/s' });
    const e2e = out as { pipelined?: { commandsPerSec: number } };
    if (e2e.pipelined) ctx.report.row({ scenario: '1 e2e', metric: 'pipelined vs bare aedes relay', value: e2e.pipelined.commandsPerSec, unit: '/s', baselineName: 'aedes relay', baseline: rate });
  } finally {
    await workers.stop(pub);
    await fleet.stop();
    await workers.stop(broker.worker);
  }
}

export const e2e: Scenario = { name: 'e2e', run };

function logStatements(what: string, f: StatementFigures): void {
  log(
    `${what}: PostgreSQL per command: ${f.statementsPerOp} statements, ${f.commitsPerOp} commits, ${f.execUsPerOp} µs executing, ` +
      `${f.commandUpdatesPerOp} updates of commands rows (${Math.round(f.hotUpdateShare * 100)} % HOT); top statements:`,
  );
  for (const t of f.top.slice(0, 8)) log(`  ${t.execUsPerOp} µs/cmd  ${t.callsPerOp} calls/cmd  ${t.rowsPerCall} rows/call  ${t.query}`);
}
