// The run's figures: a table on stdout and everything (samples summarised) in a JSON file, with
// the machine, the versions and the server's CPU profiles.
import { readFileSync, readdirSync } from 'node:fs';
import { cpus, release, totalmem } from 'node:os';
import { join } from 'node:path';
import { summarizeProfile } from '../profile.ts';
import { loadAverage } from './proc.ts';
export interface Row {
  scenario: string;
  metric: string;
  value: number;
  unit: string;
  /** e.g. '≥ 5000' or '≤ 25'. */
  target?: string;
  baselineName?: string;
  baseline?: number;
  /** value / baseline */
  ratio?: number;
  pass?: boolean;
}

export function check(value: number, target: string | undefined): boolean | undefined {
  if (!target || !Number.isFinite(value)) return undefined;
  const m = /^(≥|≤)\s*([\d.]+)/.exec(target);
  if (!m) return undefined;
  const limit = Number(m[2]);
  return m[1] === '≥' ? value >= limit : value <= limit;
}

function fmt(x: number | undefined, unit = ''): string {
  if (x === undefined || Number.isNaN(x)) return '';
  if (unit === '%') return `${(x * 100).toFixed(0)} %`;
  const abs = Math.abs(x);
  const s = abs >= 1000 ? Math.round(x).toLocaleString('en-US') : abs >= 100 ? x.toFixed(0) : abs >= 10 ? x.toFixed(1) : x.toFixed(2);
  return unit ? `${s} ${unit}` : s;
}

export function formatTable(rows: Row[]): string {
  const header = ['scenario', 'metric', 'value', 'target', 'baseline', 'ratio', ''];
  const lines = rows.map((r) => [
    r.scenario,
    r.metric,
    fmt(r.value, r.unit),
    r.target ? (r.unit === '%' ? r.target.replace(/[\d.]+/, (x) => `${Math.round(Number(x) * 100)} %`) : `${r.target} ${r.unit}`.trim()) : '',
    r.baseline === undefined ? '' : `${fmt(r.baseline, r.unit)} (${r.baselineName})`,
    r.ratio === undefined ? '' : `${(r.ratio * 100).toFixed(r.ratio < 0.1 ? 1 : 0)} %`,
    r.pass === undefined ? '' : r.pass ? 'ok' : 'MISS',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 || i === 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(line)].join('\n');
}

/** The table's rows and every scenario's figures, filled as the scenarios run. */
export class Report {
  readonly rows: Row[] = [];
  readonly figures: Record<string, unknown> = {};

  /** A row; its ratio is value / baseline unless given, and `pass` comes from its target. */
  readonly row = (r: Omit<Row, 'pass' | 'ratio'> & { ratio?: number }): void => {
    const ratio = r.ratio ?? (r.baseline !== undefined && r.baseline !== 0 ? r.value / r.baseline : undefined);
    this.rows.push({ ...r, ratio, pass: check(r.value, r.target) });
  };
}

export function machine(loadAverageBefore: number[], openFilesLimit: number) {
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model,
    memoryMiB: Math.round(totalmem() / 1024 / 1024),
    kernel: release(),
    loadAverageBefore,
    loadAverageAfter: loadAverage(),
    openFilesLimit,
  };
}

export function versions(benchDir: string, postgres: unknown) {
  const packageVersion = (name: string): string => {
    try {
      return (JSON.parse(readFileSync(join(benchDir, '..', 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;
    } catch {
      return 'unknown';
    }
  };
  return {
    node: process.version,
    postgres,
    aedes: packageVersion('aedes'),
    'mqtt-packet': packageVersion('mqtt-packet'),
    'graphql-yoga': packageVersion('graphql-yoga'),
    'graphql-ws': packageVersion('graphql-ws'),
    graphql: packageVersion('graphql'),
    postgres_js: packageVersion('postgres'),
    'drizzle-orm': packageVersion('drizzle-orm'),
    pglite: packageVersion('@electric-sql/pglite'),
    ws: packageVersion('ws'),
  };
}

/** Prints the hot spots of the server's main-thread profiles (tid 0), one per server process started. */
export function serverProfiles(profDir: string) {
  const files = readdirSync(profDir, { recursive: true, encoding: 'utf8' }).filter((f) => /\.\d+\.0\.\d+\.cpuprofile$/.test(f));
  return files.map((f) => {
    const s = summarizeProfile(join(profDir, f), 30);
    process.stdout.write(`\nServer CPU profile ${f}:\n${s.text}\n`);
    return { file: join(profDir, f), busyTop: s.top, byPackage: s.byPackage, byStage: s.byStage, inclusive: s.inclusive };
  });
}
