// A strict reader of the Prometheus text exposition format (version 0.0.4), for tests: every
// line must be a HELP, a TYPE or a sample of the family its TYPE announced, names and label
// values must be well formed, a series appears once, and histograms are complete and cumulative.
// It throws on the first violation, naming the line.
import { get, type IncomingHttpHeaders } from 'node:http';
import type { App } from '../../src/app.ts';

export type Labels = Record<string, string>;

export interface Sample {
  /** The sample's own name (`x_bucket`, `x_sum`, … for histograms). */
  name: string;
  labels: Labels;
  value: number;
}

export interface Family {
  name: string;
  type: 'counter' | 'gauge' | 'histogram' | 'summary' | 'untyped';
  help: string;
  samples: Sample[];
}

export type Metrics = Map<string, Family>;

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;
const TYPES = new Set(['counter', 'gauge', 'histogram', 'summary', 'untyped']);
const SUFFIXES: Record<Family['type'], string[]> = {
  counter: [''],
  gauge: [''],
  untyped: [''],
  histogram: ['_bucket', '_sum', '_count'],
  summary: ['', '_sum', '_count'],
};

export function parsePrometheus(text: string): Metrics {
  const families: Metrics = new Map();
  const series = new Set<string>();
  let current: Family | undefined;
  const lines = text.split('\n');
  if (lines.at(-1) !== '') throw new Error('The exposition does not end with a newline');
  lines.pop();
  lines.forEach((line, i) => {
    const where = `line ${i + 1} ${JSON.stringify(line)}`;
    if (line === '') return;
    if (line.startsWith('#')) {
      const m = /^# (HELP|TYPE) (\S+) ?(.*)$/.exec(line);
      if (!m) {
        if (line.startsWith('# HELP') || line.startsWith('# TYPE')) throw new Error(`Malformed ${where}`);
        return; // another comment
      }
      const [, keyword, name, rest] = m as unknown as [string, string, string, string];
      if (!METRIC_NAME.test(name)) throw new Error(`Bad metric name at ${where}`);
      let family = families.get(name);
      if (family && family !== current) throw new Error(`Family ${name} is split at ${where}`);
      if (!family) {
        family = { name, type: 'untyped', help: '', samples: [] };
        families.set(name, family);
        current = family;
      }
      if (keyword === 'TYPE') {
        if (!TYPES.has(rest)) throw new Error(`Unknown type at ${where}`);
        if (family.samples.length > 0) throw new Error(`TYPE after samples at ${where}`);
        family.type = rest as Family['type'];
      } else {
        family.help = rest;
      }
      return;
    }
    const sample = parseSample(line, where);
    if (!current || !SUFFIXES[current.type].some((s) => sample.name === current!.name + s)) {
      throw new Error(`Sample outside its family's block at ${where}`);
    }
    const key = `${sample.name}${JSON.stringify(Object.entries(sample.labels).sort())}`;
    if (series.has(key)) throw new Error(`Duplicate series at ${where}`);
    series.add(key);
    current.samples.push(sample);
  });
  for (const family of families.values()) if (family.type === 'histogram') checkHistogram(family);
  return families;
}

function parseSample(line: string, where: string): Sample {
  const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{.*\})? (\S+)( -?\d+)?$/.exec(line);
  if (!m) throw new Error(`Malformed sample at ${where}`);
  const [, name, labelText, valueText] = m as unknown as [string, string, string | undefined, string];
  return { name, labels: labelText ? parseLabels(labelText, where) : {}, value: parseValue(valueText, where) };
}

function parseLabels(text: string, where: string): Labels {
  const labels: Labels = {};
  let rest = text.slice(1, -1);
  while (rest.length > 0) {
    const m = /^([^=]+)="((?:[^"\\]|\\["\\n])*)"(,?)/.exec(rest);
    if (!m) throw new Error(`Malformed labels at ${where}`);
    const [whole, name, raw, comma] = m as unknown as [string, string, string, string];
    if (!LABEL_NAME.test(name)) throw new Error(`Bad label name ${name} at ${where}`);
    if (name in labels) throw new Error(`Repeated label ${name} at ${where}`);
    labels[name] = raw.replace(/\\(["\\n])/g, (_m, c: string) => (c === 'n' ? '\n' : c));
    rest = rest.slice(whole.length);
    if (!comma && rest.length > 0) throw new Error(`Missing comma between labels at ${where}`);
  }
  return labels;
}

/** As Go's strconv.ParseFloat, which Prometheus uses: NaN and Inf in any case ("Nan" too). */
function parseValue(text: string, where: string): number {
  const special = /^([-+]?)(inf|infinity|nan)$/i.exec(text);
  if (special) return special[2]!.toLowerCase() === 'nan' ? NaN : special[1] === '-' ? -Infinity : Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`Bad value at ${where}`);
  return Number(text);
}

/** Per label set: buckets cumulative in `le` order, ending at +Inf equal to _count; a _sum. */
function checkHistogram(family: Family): void {
  const groups = new Map<string, Sample[]>();
  for (const s of family.samples) {
    const { le, ...rest } = s.labels;
    const key = JSON.stringify(Object.entries(rest).sort());
    groups.set(key, [...(groups.get(key) ?? []), s]);
  }
  for (const [key, samples] of groups) {
    const buckets = samples.filter((s) => s.name.endsWith('_bucket'));
    const count = samples.find((s) => s.name === `${family.name}_count`);
    const sum = samples.find((s) => s.name === `${family.name}_sum`);
    const where = `${family.name}${key}`;
    if (!count || !sum || buckets.length === 0) throw new Error(`Incomplete histogram ${where}`);
    const bounds = buckets.map((b) => parseValue(b.labels['le'] ?? 'missing', where));
    if (bounds.at(-1) !== Infinity) throw new Error(`Histogram ${where} lacks le="+Inf"`);
    for (let i = 1; i < buckets.length; i++) {
      if (!(bounds[i]! > bounds[i - 1]!) || buckets[i]!.value < buckets[i - 1]!.value) {
        throw new Error(`Histogram ${where} is not cumulative`);
      }
    }
    if (buckets.at(-1)!.value !== count.value) throw new Error(`Histogram ${where}: +Inf bucket differs from _count`);
  }
}

/** The sum of the samples named `name` whose labels include `labels`. */
export function total(metrics: Metrics, name: string, labels: Labels = {}): number {
  const family = metrics.get(name) ?? metrics.get(name.replace(/_(bucket|sum|count)$/, ''));
  let sum = 0;
  for (const s of family?.samples ?? []) {
    if (s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)) sum += s.value;
  }
  return sum;
}

/** The samples named `name` (each a series). */
export function seriesOf(metrics: Metrics, name: string): Sample[] {
  const family = metrics.get(name) ?? metrics.get(name.replace(/_(bucket|sum|count)$/, ''));
  return (family?.samples ?? []).filter((s) => s.name === name);
}

/** GET /metrics of an app (its own METRICS_PORT when it has one), parsed strictly. */
export async function scrape(app: App, token?: string): Promise<Metrics> {
  const port = app.metricsPort || app.httpPort;
  const res = await getMetrics(port, token);
  if (res.status !== 200) throw new Error(`GET /metrics answered ${res.status}: ${res.text}`);
  if (!/^text\/plain; version=0\.0\.4/.test(res.contentType)) throw new Error(`GET /metrics has content type ${res.contentType}`);
  return parsePrometheus(res.text);
}

/** One GET /metrics on a connection of its own (as Prometheus scrapes). */
export function getMetrics(port: number, token?: string, path = '/metrics'): Promise<{ status: number; contentType: string; text: string; headers: IncomingHttpHeaders }> {
  return new Promise((resolve, reject) => {
    const req = get({ host: '127.0.0.1', port, path, agent: false, headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let text = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, contentType: res.headers['content-type'] ?? '', text, headers: res.headers }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}
