// Scenario 12, WORKERS: the pipelined end-to-end run of scenario 1 (devices over MQTT answering
// at once, 20 invokes per request) on a fresh server with WORKERS=1 and then WORKERS=2, in the
// same run. Server CPU is the whole node's (the primary and its workers). On a 2-core machine
// the second worker competes with PostgreSQL and the load generators for the same cores, so
// the gain shown here is a floor for a machine with cores to spare.
import { checkInvoke, invokerFor, type BenchContext, type InvokeResult, type Scenario } from '../lib/context.ts';
import { Fleet } from '../lib/fleet.ts';
import { log } from '../lib/log.ts';
import { cpuOfTree } from '../lib/proc.ts';
import { round, summarize } from '../lib/stats.ts';

const COUNTS = [1, 2];

async function run(ctx: BenchContext): Promise<void> {
  const { settings } = ctx;
  if (settings.embedded) {
    log('workers: skipped (WORKERS > 1 needs PostgreSQL)');
    return;
  }
  const p = settings.e2e.pipelined;
  const pipe = ctx.pipeline;
  const fleetIds = ctx.endpoints.slice(0, settings.devices);
  const out: Record<string, unknown> = {};
  try {
    for (const count of COUNTS) {
      await ctx.servers.stopServer();
      const srv = await ctx.servers.startServer(`workers-${count}`, { WORKERS: String(count) });
      const { fleet, connected } = await Fleet.start(ctx, `workers${count}`, fleetIds.map((e) => e.token), {
        workers: settings.deviceWorkers,
        port: srv.mqttPort,
        bind: 'observe',
        commandType: 'bench',
        answer: true,
      });
      const invoker = await invokerFor(ctx, srv.httpPort, fleetIds.map((e) => e.id), 'bench');
      try {
        await invoker.call('closed', { op: pipe.invoke, total: settings.e2e.warmup, batch: p.batch, concurrency: p.concurrency });
        await fleet.waitFor('acked', settings.e2e.warmup, 60_000);
        await fleet.stats(true);
        const pg = ctx.servers.pg;
        const server0 = cpuOfTree(srv.pid);
        const db0 = pg ? cpuOfTree(pg.pid) : 0;
        const inv = await invoker.call<InvokeResult>('closed', { op: pipe.invoke, total: p.total, batch: p.batch, concurrency: p.concurrency, maxMs: settings.e2e.maxMs });
        checkInvoke(`workers=${count}`, inv);
        const acked = await fleet.waitFor('acked', inv.ops, 300_000);
        const st = await fleet.stats(true);
        const seconds = (st.lastAckAt - inv.startedAt) / 1000;
        const serverCpuMs = cpuOfTree(srv.pid) - server0;
        const dbCpuMs = pg ? cpuOfTree(pg.pid) - db0 : undefined;
        const figures = {
          workers: count,
          devices: connected,
          commands: inv.ops,
          executed: acked,
          commandsPerSec: round(acked / seconds, 1),
          serverCpuUsPerCommand: round((serverCpuMs * 1000) / acked, 1),
          serverCores: round(serverCpuMs / 1000 / seconds, 2),
          databaseCpuUsPerCommand: dbCpuMs === undefined ? undefined : round((dbCpuMs * 1000) / acked, 1),
          databaseCores: dbCpuMs === undefined ? undefined : round(dbCpuMs / 1000 / seconds, 2),
          invokeToExecutedMs: summarize(st.exec),
        };
        out[String(count)] = figures;
        log(`workers: WORKERS=${count}: ${figures.commandsPerSec} commands/s pipelined; server ${figures.serverCores} cores (${figures.serverCpuUsPerCommand} µs/command), PostgreSQL ${figures.databaseCores ?? '-'} cores`);
      } finally {
        await ctx.workers.stop(invoker);
        await fleet.stop();
      }
    }
  } finally {
    // The scenarios after this one get a server like the one they expect.
    await ctx.servers.stopServer();
    await ctx.servers.startServer('main');
  }
  ctx.report.figures['workers'] = out;
  const one = out['1'] as { commandsPerSec: number; serverCpuUsPerCommand: number };
  const two = out['2'] as { commandsPerSec: number; serverCpuUsPerCommand: number };
  ctx.report.row({ scenario: '12 workers', metric: `pipelined cmd/s, WORKERS=2 (${p.batch}/request)`, value: two.commandsPerSec, unit: '/s', baselineName: 'WORKERS=1', baseline: one.commandsPerSec });
  ctx.report.row({ scenario: '12 workers', metric: 'node CPU per pipelined command, WORKERS=2', value: two.serverCpuUsPerCommand, unit: 'µs', baselineName: 'WORKERS=1', baseline: one.serverCpuUsPerCommand });
}

export const workers: Scenario = { name: 'workers', run };
