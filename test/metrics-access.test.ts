// Who may read /metrics and where (METRICS_TOKEN, METRICS_PORT), and the documents that name
// the metrics: the README's Metrics table and deploy/grafana-dashboard.json must name exactly
// metrics that /metrics serves.
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { startApp } from './support/app.ts';
import { getMetrics, parsePrometheus, scrape, type Metrics } from './support/prometheus.ts';

const TOKEN = 'metrics-token-0123456789';

describe('METRICS_TOKEN on the HTTP port', () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp({ metrics: { port: undefined, token: TOKEN } });
  });
  afterAll(() => app?.stop());

  it('answers 401 without the token or with another, and the metrics with it', async () => {
    const none = await getMetrics(app.httpPort);
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toMatch(/^Bearer/);
    expect(none.text).not.toContain('cex_');
    expect((await getMetrics(app.httpPort, `${TOKEN}x`)).status).toBe(401);
    expect((await getMetrics(app.httpPort, TOKEN.slice(0, -1))).status).toBe(401);
    const metrics = await scrape(app, TOKEN);
    expect(metrics.has('cex_commands_created_total')).toBe(true);
  });
});

describe('METRICS_PORT', () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp({ metrics: { port: 0, token: TOKEN } });
  });
  afterAll(() => app?.stop());

  it('serves /metrics on its own port only, with the token', async () => {
    expect(app.metricsPort).toBeGreaterThan(0);
    expect(app.metricsPort).not.toBe(app.httpPort);
    expect((await getMetrics(app.metricsPort)).status).toBe(401);
    expect((await scrape(app, TOKEN)).has('process_cpu_seconds_total')).toBe(true);
    // The HTTP port neither serves them nor falls through to the console.
    const main = await getMetrics(app.httpPort, TOKEN);
    expect(main.status).toBe(404);
    expect(main.text).not.toContain('cex_');
    expect((await getMetrics(app.metricsPort, TOKEN, '/graphql')).status).toBe(404);
  });

  it('is read from the environment', () => {
    expect(loadConfig({}).metrics).toEqual({ port: undefined, token: undefined });
    expect(loadConfig({ METRICS_PORT: '9464', METRICS_TOKEN: ' s3cret ' }).metrics).toEqual({ port: 9464, token: 's3cret' });
    expect(() => loadConfig({ METRICS_PORT: 'nine' })).toThrow(/METRICS_PORT/);
  });
});

describe('documents that name metrics', () => {
  let metrics: Metrics;
  beforeAll(async () => {
    const app = await startApp();
    try {
      metrics = await scrape(app);
    } finally {
      await app.stop();
    }
  });

  /** The family a sample name belongs to (`x_bucket` → `x` for histograms). */
  const served = (name: string) => {
    if (metrics.has(name)) return true;
    const base = name.replace(/_(bucket|sum|count)$/, '');
    return base !== name && metrics.get(base)?.type === 'histogram';
  };

  it('the README documents every cex_ metric /metrics serves, and only those', () => {
    const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');
    const section = readme.slice(readme.indexOf('\n## Metrics\n'), readme.indexOf('\n## ', readme.indexOf('\n## Metrics\n') + 1));
    const documented = [...section.matchAll(/^\| `(cex_[a-z0-9_]+)` \| (\w+) \|/gm)];
    const servedNames = [...metrics.keys()].filter((n) => n.startsWith('cex_')).sort();
    expect(documented.map((m) => m[1]).sort()).toEqual(servedNames);
    for (const [, name, type] of documented) expect(metrics.get(name!)?.type, name).toBe(type);
  });

  it('the Grafana dashboard is valid JSON and every metric it queries is served', () => {
    const dashboard = JSON.parse(readFileSync(new URL('../deploy/grafana-dashboard.json', import.meta.url), 'utf8')) as {
      panels: { targets?: { expr: string }[] }[];
    };
    const exprs = dashboard.panels.flatMap((p) => (p.targets ?? []).map((t) => t.expr));
    const names = new Set(exprs.flatMap((e) => [...e.matchAll(/\b(?:cex|process|nodejs)_[a-z0-9_]+/g)].map((m) => m[0])));
    expect(names.size).toBeGreaterThan(15);
    expect([...names].filter((n) => !served(n))).toEqual([]);
    // Every cex_ family is on the dashboard.
    const shown = new Set([...names].map((n) => n.replace(/_(bucket|sum|count)$/, '')));
    expect([...metrics.keys()].filter((n) => n.startsWith('cex_') && !shown.has(n))).toEqual([]);
  });
});

describe('the Prometheus text reader the tests use', () => {
  const valid = [
    '# HELP a_total A counter.',
    '# TYPE a_total counter',
    'a_total{x="1",y="q\\"uote"} 3',
    '# TYPE h histogram',
    'h_bucket{le="1"} 1',
    'h_bucket{le="+Inf"} 2',
    'h_sum 4.5',
    'h_count 2',
    '# TYPE g gauge',
    'g Nan',
    '',
  ].join('\n');

  it('reads a valid exposition', () => {
    const m = parsePrometheus(valid);
    expect(m.get('a_total')?.samples[0]?.labels).toEqual({ x: '1', y: 'q"uote' });
    expect(m.get('h')?.samples).toHaveLength(4);
  });

  it.each([
    ['a sample outside its family', valid.replace('g Nan', 'g Nan\na_total 1')],
    ['a duplicate series', valid.replace('g Nan', 'g Nan\ng 1')],
    ['a bad value', valid.replace('g Nan', 'g one')],
    ['an unterminated label value', valid.replace('x="1"', 'x="1')],
    ['a non-cumulative histogram', valid.replace('h_bucket{le="+Inf"} 2', 'h_bucket{le="+Inf"} 0')],
    ['a histogram without _count', valid.replace('h_count 2\n', '')],
    ['a missing final newline', valid.slice(0, -1)],
    ['an unknown type', valid.replace('# TYPE g gauge', '# TYPE g meter')],
  ])('refuses %s', (_name, text) => {
    expect(() => parsePrometheus(text)).toThrow();
  });
});
