// Scenario 11, NOTIFY fan-out: what each listening server process costs PostgreSQL. Every
// server process (every worker of every node) LISTENs on the one event channel, and PostgreSQL
// delivers every event to every listener. Here 0, 1, 2, 4 and 8 listening processes (plain
// postgres.js LISTEN, no server) hear the same stream of events published in transactions of
// the service's shape, one event per transaction (a single invoke or result) and 20 (a group
// commit); for each count: events/s, PostgreSQL CPU per event (all backends), the listeners'
// backends' CPU per event and listener (the fan-out itself), and whether every listener heard
// every event.
import type { BenchContext, Scenario } from '../lib/context.ts';
import { log } from '../lib/log.ts';
import { cpuOf, cpuOfTree } from '../lib/proc.ts';
import { round } from '../lib/stats.ts';
import type { WorkerProcess } from '../lib/worker.ts';
import { now } from '../lib/clock.ts';

const CHANNEL = 'bench_fanout';
const LISTENERS = [0, 1, 2, 4, 8];
const BATCHES = [1, 20];

async function run(ctx: BenchContext): Promise<void> {
  const url = ctx.servers.databaseUrl;
  const pg = ctx.servers.pg;
  if (!url || !pg) {
    log('notify-fanout: skipped (needs the private PostgreSQL: its backends\' CPU is measured)');
    return;
  }
  const { events, concurrency, payloadBytes } = ctx.settings.notifyFanout;
  log(`notify-fanout: ${events} events (${payloadBytes} bytes, ${concurrency} publishing connections) to ${LISTENERS.join(', ')} listening processes`);
  const publisher = await ctx.workers.start('notify.ts', 'notify-publisher');
  const listeners: WorkerProcess[] = [];
  const out: Record<string, unknown>[] = [];
  try {
    // Warm-up: connections, prepared plans.
    await publisher.call('publish', { url, channel: CHANNEL, total: Math.min(events, 500), batch: 1, concurrency, payloadBytes });
    for (const count of LISTENERS) {
      while (listeners.length < count) {
        const listener = await ctx.workers.start('notify.ts', `notify-listener-${listeners.length}`);
        await listener.call('listen', { url, channel: CHANNEL });
        listeners.push(listener);
      }
      const backends = await publisher.call<number[]>('listenerBackends', { url });
      for (const batch of BATCHES) {
        for (const l of listeners) await l.call('heard');
        const cpu0 = cpuOfTree(pg.pid);
        const listenerCpu0 = backends.reduce((sum, pid) => sum + cpuOf(pid), 0);
        const { startedAt, endedAt } = await publisher.call<{ startedAt: number; endedAt: number }>('publish', { url, channel: CHANNEL, total: events, batch, concurrency, payloadBytes });
        // Every listener has heard everything (or 10 s passed).
        const heard = listeners.map(() => 0);
        const lastAt = listeners.map(() => endedAt);
        const deadline = now() + 10_000;
        while (heard.some((h) => h < events) && now() < deadline) {
          await new Promise((r) => setTimeout(r, 100));
          for (const [i, l] of listeners.entries()) {
            const h = await l.call<{ heard: number; lastAt: number }>('heard');
            heard[i]! += h.heard;
            if (h.heard) lastAt[i] = h.lastAt;
          }
        }
        const databaseCpuMs = cpuOfTree(pg.pid) - cpu0;
        const listenerCpuMs = backends.reduce((sum, pid) => sum + cpuOf(pid), 0) - listenerCpu0;
        const publishSeconds = (endedAt - startedAt) / 1000;
        const deliveredAt = Math.max(endedAt, ...lastAt);
        const figures = {
          listeners: count,
          batch,
          eventsPerSec: round(events / publishSeconds, 0),
          databaseCpuUsPerEvent: round((databaseCpuMs * 1000) / events, 1),
          listenerBackendCpuUsPerEventAndListener: count ? round((listenerCpuMs * 1000) / events / count, 2) : 0,
          databaseCpuPct: round((databaseCpuMs / (deliveredAt - startedAt)) * 100, 1),
          lastDeliveryAfterPublishMs: round(deliveredAt - endedAt, 0),
          everyListenerHeardAll: heard.every((h) => h === events),
          heard,
        };
        out.push(figures);
        log(`notify-fanout: ${count} listeners, ${batch} per transaction: ${figures.eventsPerSec}/s, PostgreSQL ${figures.databaseCpuUsPerEvent} µs CPU per event (listeners' backends ${figures.listenerBackendCpuUsPerEventAndListener} µs per event and listener), last delivery +${figures.lastDeliveryAfterPublishMs} ms${figures.everyListenerHeardAll ? '' : `, MISSING (${heard.join(', ')} of ${events})`}`);
      }
    }
  } finally {
    await ctx.workers.stop(publisher, ...listeners);
  }
  ctx.report.figures['notifyFanout'] = out;
  for (const batch of BATCHES) {
    const mine = out.filter((f) => f['batch'] === batch);
    const none = mine[0]!;
    for (const f of mine.slice(1)) {
      const label = `${f['listeners']} listening processes, ${batch} per tx`;
      ctx.report.row({ scenario: '11 notify fan-out', metric: `PostgreSQL CPU per event, ${label}`, value: f['databaseCpuUsPerEvent'] as number, unit: 'µs', baselineName: 'no listener', baseline: none['databaseCpuUsPerEvent'] as number });
      ctx.report.row({ scenario: '11 notify fan-out', metric: `events/s, ${label}`, value: f['eventsPerSec'] as number, unit: '/s', baselineName: 'no listener', baseline: none['eventsPerSec'] as number });
    }
  }
}

export const notifyFanout: Scenario = { name: 'notify-fanout', run };
