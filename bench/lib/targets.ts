// The performance targets of issue 15 in one place at the end of the table: each figure next to
// its target and the baseline measured in the same run. Rows appear for the scenarios that ran;
// the targets are set for the full sizes (with --quick they are printed but mean little).
import type { Report } from './report.ts';
import type { Summary } from './stats.ts';

const SCENARIO = '★ targets';

interface Cpu {
  serverCpuUsPerOp: number;
}
interface E2eMode {
  commandsPerSec: number;
  cpu: Cpu;
  noop: { opsPerSec: number; cpu: Cpu };
}
interface Figures {
  e2e?: { single?: E2eMode; pipelined?: E2eMode; rawPostgres?: Record<string, { rowsPerSec: number }> };
  latency?: Record<string, { invokeToDeviceMs: Summary; invokeToOperatorExecutedMs: Summary; aedesRelayAtRateMs?: Summary }>;
  results?: { rate: number; publishToPubackMs: Summary; bareAedesPubackMs?: Summary };
  connections?: {
    connected?: number;
    rssMiB?: number;
    probe?: { invokeToDeviceMs: Summary };
    bareAedes?: { rssMiB: number; relayMs: Summary };
  };
}

export function targetRows(report: Report, settings: { latency: { rates: number[] }; connections: { count: number } }): void {
  const f = report.figures as Figures;
  const { row } = report;
  // A ratio row shows both rates in its name: the table prints a '%' row's baseline as a percentage.
  const n = (x: number) => Math.round(x).toLocaleString('en-US');
  const ratio = (metric: string, value: number, target: string) =>
    report.rows.push({ scenario: SCENARIO, metric, value, unit: '%', target, pass: value >= Number(target.slice(2)) });

  const pipelined = f.e2e?.pipelined;
  if (pipelined) {
    row({
      scenario: SCENARIO,
      metric: 'server CPU per pipelined command',
      value: pipelined.cpu.serverCpuUsPerOp,
      unit: 'µs',
      target: '≤ 200',
      baselineName: 'no-op mutation ×20, per mutation',
      baseline: pipelined.noop.cpu.serverCpuUsPerOp,
    });
    const raw = f.e2e?.rawPostgres?.['batched']?.rowsPerSec;
    if (raw) ratio(`pipelined ÷ raw batched insert + update (${n(pipelined.commandsPerSec)} ÷ ${n(raw)} /s)`, pipelined.commandsPerSec / raw, '≥ 0.25');
  }
  const single = f.e2e?.single;
  if (single) ratio(`single invokeCommand ÷ no-op mutation (${n(single.commandsPerSec)} ÷ ${n(single.noop.opsPerSec)} /s)`, single.commandsPerSec / single.noop.opsPerSec, '≥ 0.6');

  const rate = settings.latency.rates[0];
  const at = rate === undefined ? undefined : f.latency?.[String(rate)];
  if (at) {
    const relay = at.aedesRelayAtRateMs;
    row({ scenario: SCENARIO, metric: `invoke → device p50 @${rate}/s`, value: at.invokeToDeviceMs.p50, unit: 'ms', target: '≤ 5', baselineName: 'aedes relay', baseline: relay?.p50 });
    row({ scenario: SCENARIO, metric: `invoke → device p99 @${rate}/s`, value: at.invokeToDeviceMs.p99, unit: 'ms', target: '≤ 25', baselineName: 'aedes relay', baseline: relay?.p99 });
    row({ scenario: SCENARIO, metric: `invoke → operator sees EXECUTED p99 @${rate}/s`, value: at.invokeToOperatorExecutedMs.p99, unit: 'ms', target: '≤ 50' });
  }

  const conn = f.connections;
  const devices = settings.connections.count;
  if (conn?.probe) {
    row({ scenario: SCENARIO, metric: `push p99 with ${devices} devices connected`, value: conn.probe.invokeToDeviceMs.p99, unit: 'ms', target: '≤ 50', baselineName: 'aedes relay', baseline: conn.bareAedes?.relayMs.p99 });
  }
  if (conn?.rssMiB !== undefined) {
    row({ scenario: SCENARIO, metric: `server RSS with ${devices} devices (settled)`, value: conn.rssMiB, unit: 'MiB', target: '≤ 400', baselineName: 'bare aedes', baseline: conn.bareAedes?.rssMiB });
  }

  const results = f.results;
  if (results) {
    row({ scenario: SCENARIO, metric: `result PUBACK (stored) p99 @${results.rate}/s`, value: results.publishToPubackMs.p99, unit: 'ms', target: '≤ 20', baselineName: 'bare aedes PUBACK', baseline: results.bareAedesPubackMs?.p99 });
  }
}
