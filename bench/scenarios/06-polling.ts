// Scenario 5, HTTP polling: concurrent kp1 pollers over keep-alive connections, polls answered
// empty and polls answered with outstanding commands. Baseline: node:http answering `[]`.
import { checkInvoke, invokerFor, meter, type BenchContext, type InvokeResult, type Scenario } from '../lib/context.ts';
import { log } from '../lib/log.ts';
import { freePort } from '../lib/proc.ts';
import { round, summarize } from '../lib/stats.ts';

type Load = { requests: number; errors: number; unexpected: number; firstError?: string; statuses: Record<string, number>; requestsPerSec: number; latency: number[]; cpuMs: number; meanBodyBytes: number };

async function run(ctx: BenchContext): Promise<void> {
  const { workers } = ctx;
  const server = ctx.servers.server;
  const { connections, durationMs, endpoints: n, outstanding } = ctx.settings.polling;
  log(`polling: ${connections} concurrent HTTP pollers, ${durationMs / 1000} s each, empty and ${outstanding} outstanding`);
  // The last endpoints, so the outstanding commands left here never reach the MQTT fleets.
  const eps = ctx.endpoints.slice(ctx.endpoints.length - n);
  const invoker = await invokerFor(ctx, server.httpPort, eps.map((e) => e.id), 'poll');
  const inv = await invoker.call<InvokeResult>('closed', { op: ctx.pipeline.invoke, total: n * outstanding, batch: 20, concurrency: 8 });
  checkInvoke('polling setup', inv);
  await workers.stop(invoker);
  const load = await workers.start('http-load.ts', 'poller');
  const out: Record<string, unknown> = { connections, durationMs, endpoints: n, outstanding };
  try {
    const path = (e: { token: string }, type: string) => `/kp1/${ctx.run.appVersion}/cex/${e.token}/command/${type}`;
    const measure = async (name: string, port: number, paths: string[], expect: string, pid?: number) => {
      await load.call('run', { host: '127.0.0.1', port, paths, body: '{}', connections, durationMs: Math.min(1000, durationMs) });
      const m = meter(ctx, pid);
      const r = await load.call<Load>('run', { host: '127.0.0.1', port, paths, body: '{}', connections, durationMs, expect });
      if (r.errors || r.unexpected) log(`polling ${name}: ${r.errors} errors, ${r.unexpected} unexpected: ${r.firstError}`);
      return { requestsPerSec: round(r.requestsPerSec, 1), requests: r.requests, errors: r.errors, unexpected: r.unexpected, statuses: r.statuses, meanBodyBytes: round(r.meanBodyBytes, 0), latencyMs: summarize(r.latency), loadgenCpuMs: round(r.cpuMs, 0), cpu: m.stop(r.requests) };
    };
    const empty = await measure('empty', server.httpPort, eps.map((e) => path(e, 'nothing')), '[]');
    const full = await measure('non-empty', server.httpPort, eps.map((e) => path(e, 'poll')), '[{');
    const bareSrv = await workers.start('bare-http.ts', 'bare-http');
    let bare;
    try {
      const { port, pid } = await bareSrv.call<{ port: number; pid: number }>('start', { host: '127.0.0.1', port: await freePort() });
      bare = await measure('bare', port, eps.map((e) => path(e, 'poll')), '[]', pid);
    } finally {
      await workers.stop(bareSrv);
    }
    Object.assign(out, { empty, nonEmpty: full, bareHttp: bare });
    log(`polling: empty ${empty.requestsPerSec.toFixed(0)}/s, non-empty ${full.requestsPerSec.toFixed(0)}/s, bare node:http ${bare.requestsPerSec.toFixed(0)}/s`);
    const { row } = ctx.report;
    const sc = `5 polling ×${connections}`;
    row({ scenario: sc, metric: 'empty polls/s', value: empty.requestsPerSec, unit: '/s', baselineName: 'bare node:http', baseline: bare.requestsPerSec });
    row({ scenario: sc, metric: `non-empty polls/s (${outstanding} commands)`, value: full.requestsPerSec, unit: '/s', baselineName: 'bare node:http', baseline: bare.requestsPerSec });
    row({ scenario: sc, metric: 'empty poll p99', value: empty.latencyMs.p99, unit: 'ms', baselineName: 'bare node:http', baseline: bare.latencyMs.p99 });
  } finally {
    await workers.stop(load);
  }
  ctx.report.figures['polling'] = out;
}

export const polling: Scenario = { name: 'polling', run };
