// The run's figures: a table on stdout and everything (samples summarised) in a JSON file.
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
    r.target ? `${r.target} ${r.unit === '%' ? '' : r.unit}`.trim() : '',
    r.baseline === undefined ? '' : `${fmt(r.baseline, r.unit)} (${r.baselineName})`,
    r.ratio === undefined ? '' : `${(r.ratio * 100).toFixed(r.ratio < 0.1 ? 1 : 0)} %`,
    r.pass === undefined ? '' : r.pass ? 'ok' : 'MISS',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i]!.length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 2 || i === 5 ? c.padStart(widths[i]!) : c.padEnd(widths[i]!))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...lines.map(line)].join('\n');
}
