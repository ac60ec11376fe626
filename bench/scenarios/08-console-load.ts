// Scenario 9, console load: how long the operator console's device page takes to become usable
// with a long command history (issue 11: interactive in ≤ 1 s with 10,000 commands). One new
// endpoint gets its history with set-based SQL; Debian's chromium (driven by playwright-core, as
// in test/e2e/browser.ts) signs in once, then opens the device page's URL in a new tab, with the
// HTTP cache off (a first visit: every asset downloaded and compiled), several times.
import { existsSync } from 'node:fs';
import postgres from 'postgres';
import { chromium, type Browser, type BrowserContext, type Request } from 'playwright-core';
import { ensureConsoleBuilt } from '../../console/ensure-built.ts';
import { now } from '../lib/clock.ts';
import type { BenchContext, Scenario } from '../lib/context.ts';
import { graphql } from '../lib/http-client.ts';
import { log } from '../lib/log.ts';
import { round, summarize } from '../lib/stats.ts';

const CHROMIUM = '/usr/bin/chromium';
const TARGET_MS = 1000;
const FLAGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];

interface Load {
  ms: number;
  /** The JavaScript the page fetched: bytes on the wire (headers included) and decoded. */
  jsTransferred: number;
  jsDecoded: number;
  scripts: number;
  /** Page clock, from navigation start: the JS ran (DOMContentLoaded), the last GraphQL answer arrived, interactive. */
  domContentLoadedMs: number;
  graphqlDoneMs: number;
  pageMs: number;
}

async function run(ctx: BenchContext): Promise<void> {
  const url = ctx.servers.databaseUrl;
  if (!url) return log('console-load: skipped (needs PostgreSQL: the bench writes the history with SQL)');
  if (!existsSync(CHROMIUM)) return log(`console-load: skipped (${CHROMIUM} is missing: apt-get install chromium)`);
  const { commands: n, loads } = ctx.settings.consoleLoad;
  await ensureConsoleBuilt((line) => log(`console-load: ${line}`));
  const base = ctx.servers.server.url;
  const endpointId = await fill(ctx, url, n);
  const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: FLAGS });
  try {
    const context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
    context.setDefaultTimeout(30_000);
    await signIn(context, base, ctx.run.adminKey);
    const samples: Load[] = [];
    for (let i = 0; i < loads; i++) samples.push(await load(context, `${base}/devices/${endpointId}`));
    report(ctx, browser, n, samples);
  } finally {
    await browser.close();
  }
}

/** A new endpoint of the run's application version, and `n` commands for it written with SQL. */
async function fill(ctx: BenchContext, url: string, n: number): Promise<string> {
  const q = `mutation($v: String!, $t: String!) { createEndpoint(applicationVersion: $v, token: $t, name: "console-load") { endpoint { id } } }`;
  const data = await graphql<{ createEndpoint: { endpoint: { id: string } } }>(`${ctx.servers.server.url}/graphql`, ctx.run.adminKey, q, {
    v: ctx.run.appVersion,
    t: `console-${ctx.run.id}`,
  });
  const id = data.createEndpoint.endpoint.id;
  const sql = postgres(url, { max: 1, onnotice: () => {} });
  try {
    const t0 = now();
    // ~5 % PENDING (the newest ones look like a device that is behind), ~15 % EXPIRED, the rest
    // EXECUTED, a few with an error code; payloads from empty to a few hundred bytes.
    await sql.unsafe(
      `insert into commands (endpoint_id, application_version_id, command_type, payload, status, status_code, reason_phrase,
         result_payload, created_at, updated_at, expires_at, executed_at)
       select e.id, e.application_version_id, (array['reboot','zero','configure','blink'])[1 + g % 4],
         case g % 3 when 0 then null when 1 then json_build_object('delay', g % 60)
           else json_build_object('level', g % 100, 'note', repeat('x', g % 200), 'tags', json_build_array('a', 'b', g)) end,
         s.status::command_status,
         case when s.status = 'EXECUTED' then case when g % 25 = 0 then 500 else 200 end end,
         case when s.status = 'EXECUTED' then case when g % 25 = 0 then 'Device error' else 'OK' end end,
         case when s.status = 'EXECUTED' then json_build_object('ok', g % 25 <> 0, 'took_ms', g % 1000) end,
         s.t, s.t + interval '1 second',
         case when s.status = 'PENDING' then now() + interval '30 days' else s.t + interval '1 hour' end,
         case when s.status = 'EXECUTED' then s.t + interval '1 second' end
       from endpoints e, generate_series(1, $2::int) g
       cross join lateral (select now() - ($2::int - g) * interval '1 minute' as t,
         case abs(hashint4(g) % 20) when 0 then 'PENDING' when 1 then 'EXPIRED' when 2 then 'EXPIRED' when 3 then 'EXPIRED' else 'EXECUTED' end as status) s
       where e.id = $1::uuid
       order by g`,
      [id, n],
    );
    await sql.unsafe('analyze commands');
    log(`console-load: ${n} commands for endpoint ${id} in ${round(now() - t0, 0)} ms`);
  } finally {
    await sql.end({ timeout: 5 });
  }
  return id;
}

/** Signs in through the console once; later tabs get the key the way the console keeps it. */
async function signIn(context: BrowserContext, base: string, key: string): Promise<void> {
  const page = await context.newPage();
  await page.goto(`${base}/`);
  await page.getByLabel('API key').fill(key);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('role').waitFor();
  // The key lives in sessionStorage, which is per tab (console/src/session.ts): seed every new tab with it.
  const stored = await page.evaluate(() => sessionStorage.getItem('cex.apiKey'));
  if (stored !== key) throw new Error('console-load: signing in left no key in sessionStorage');
  await context.addInitScript((k) => sessionStorage.setItem('cex.apiKey', k), key);
  await page.close();
}

/**
 * One cold load of `url` in a new tab until it is interactive: the Commands history region shows
 * its first row, and typing a command type enables Run (React has rendered and handles input; Run
 * stays disabled while the type is empty).
 */
async function load(context: BrowserContext, url: string): Promise<Load> {
  const page = await context.newPage();
  try {
    const cdp = await context.newCDPSession(page);
    await cdp.send('Network.enable');
    await cdp.send('Network.setCacheDisabled', { cacheDisabled: true });
    const scripts: Request[] = [];
    page.on('requestfinished', (r) => void (/\.m?js$/.test(new URL(r.url()).pathname) && scripts.push(r)));
    const t0 = now();
    await page.goto(url, { waitUntil: 'commit' });
    await page.getByRole('region', { name: 'Commands history' }).locator('tbody tr[data-command-id]').first().waitFor();
    await page.getByLabel('Command type').fill('reboot');
    await page.getByRole('button', { name: 'Run', exact: true, disabled: false }).waitFor();
    const ms = now() - t0;
    const js = await Promise.all(scripts.map((r) => r.sizes()));
    const timing = await page.evaluate(() => {
      const resources = performance.getEntriesByType('resource') as PerformanceResourceTiming[];
      const nav = performance.getEntriesByType('navigation')[0] as PerformanceNavigationTiming;
      return {
        jsDecoded: resources.reduce((a, e) => a + (/\.m?js(\?|$)/.test(e.name) ? e.decodedBodySize : 0), 0),
        domContentLoadedMs: nav.domContentLoadedEventEnd,
        graphqlDoneMs: Math.max(0, ...resources.filter((e) => e.name.includes('/graphql')).map((e) => e.responseEnd)),
        pageMs: performance.now(),
      };
    });
    return { ms, jsTransferred: js.reduce((a, e) => a + e.responseBodySize + e.responseHeadersSize, 0), scripts: js.length, ...timing };
  } finally {
    await page.close();
  }
}

function report(ctx: BenchContext, browser: Browser, n: number, samples: Load[]): void {
  const ms = summarize(samples.map((s) => s.ms));
  const first = samples[0]!;
  const p50 = (pick: (s: Load) => number) => round(summarize(samples.map(pick)).p50, 0);
  const sc = `9 console load ${n.toLocaleString('en-US')}`;
  const kib = (bytes: number) => round(bytes / 1024, 1);
  log(`console-load: ${samples.length} cold loads: ${samples.map((s) => round(s.ms, 0)).join(', ')} ms; JS ${first.scripts} files, ${samples.map((s) => kib(s.jsTransferred)).join(', ')} KiB transferred, ${kib(first.jsDecoded)} KiB decoded`);
  log(`console-load: p50 on the page's clock: DOMContentLoaded ${p50((s) => s.domContentLoadedMs)} ms, last GraphQL answer ${p50((s) => s.graphqlDoneMs)} ms, interactive ${p50((s) => s.pageMs)} ms`);
  ctx.report.row({ scenario: sc, metric: `device page interactive, cold load: p50 (max ${round(ms.max, 0)} ms)`, value: ms.p50, unit: 'ms', target: `≤ ${TARGET_MS}` });
  ctx.report.row({ scenario: sc, metric: 'device page interactive, cold load: max', value: ms.max, unit: 'ms', target: `≤ ${TARGET_MS}` });
  ctx.report.row({ scenario: sc, metric: `JavaScript transferred, compressed (${first.scripts} files, ${kib(first.jsDecoded)} KiB decoded)`, value: kib(first.jsTransferred), unit: 'KiB' });
  ctx.report.figures['consoleLoad'] = { commands: n, chromium: browser.version(), loadsMs: samples.map((s) => round(s.ms, 1)), ms, loads: samples };
}

export const consoleLoad: Scenario = { name: 'console-load', run };
