// Scenario 10, start-up: the compiled server (`node dist/server/main.js`, the image's CMD) from
// spawn to /readyz 200, and its resident memory once idle: on PostgreSQL, on a new PGlite data
// directory (PGlite's initdb) and on that directory again (what a restart gives back). --quick
// measures only the database the run uses (PGlite: both starts).
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { now, sleep } from '../lib/clock.ts';
import type { BenchContext, Scenario } from '../lib/context.ts';
import { log } from '../lib/log.ts';
import { memoryOf } from '../lib/proc.ts';
import { round } from '../lib/stats.ts';

interface StartFigures {
  readyMs: number;
  idleRssMiB: number;
}

async function measureStart(ctx: BenchContext, root: string, database: Record<string, string>, idleMs: number): Promise<StartFigures> {
  const env = { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOST: '127.0.0.1', PORT: '0', MQTT_PORT: '0', LOG_LEVEL: 'info', WORKERS: '1', ADMIN_API_KEY: ctx.run.adminKey, ...database };
  const started = now();
  const child = spawn(process.execPath, ['dist/server/main.js'], { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  try {
    const port = await new Promise<number>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /"port":(\d+)[^\n]*"msg":"HTTP listening/.exec(out);
        if (m) resolve(Number(m[1]));
      });
      child.once('exit', () => reject(new Error(`the server exited: ${stderr}`)));
    });
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then((r) => r.ok, () => false);
      if (ok) break;
      await sleep(20);
    }
    const readyMs = round(now() - started, 0);
    await sleep(idleMs);
    return { readyMs, idleRssMiB: memoryOf(child.pid!).rssMiB };
  } finally {
    const exited = new Promise((resolve) => child.once('close', resolve));
    child.kill('SIGTERM');
    await exited;
  }
}

export const startup: Scenario = {
  name: 'startup',
  async run(ctx) {
    const root = join(ctx.run.benchDir, '..');
    const build = spawnSync(process.execPath, ['scripts/build.mjs', '--server', '--if-stale'], { cwd: root, encoding: 'utf8' });
    if (build.status !== 0) throw new Error(`build failed: ${build.stderr}`);
    const idleMs = ctx.settings.quick ? 1_000 : 5_000;
    const out: Record<string, StartFigures> = {};
    const url = ctx.servers.databaseUrl;
    if (url) out['postgres'] = await measureStart(ctx, root, { DATABASE_URL: url }, idleMs);
    if (!url || !ctx.settings.quick) {
      const dataDir = mkdtempSync(join(tmpdir(), 'cex-bench-startup-'));
      try {
        out['pgliteNew'] = await measureStart(ctx, root, { DATA_DIR: dataDir }, idleMs);
        out['pgliteExisting'] = await measureStart(ctx, root, { DATA_DIR: dataDir }, idleMs);
      } finally {
        rmSync(dataDir, { recursive: true, force: true });
      }
    }
    log(`startup: ${JSON.stringify(out)}`);
    ctx.report.figures['startup'] = out;
    const { row } = ctx.report;
    const sc = '10 startup';
    const rows: [keyof typeof out, string, string, string][] = [
      ['postgres', 'PostgreSQL', '≤ 2000', '≤ 200'],
      ['pgliteNew', 'new PGlite dir', '≤ 10000', '≤ 400'],
      ['pgliteExisting', 'existing PGlite dir', '≤ 3000', '≤ 400'],
    ];
    for (const [key, label, readyTarget, rssTarget] of rows) {
      const f = out[key];
      if (!f) continue;
      row({ scenario: sc, metric: `start → /readyz 200, ${label}`, value: f.readyMs, unit: 'ms', target: readyTarget });
      row({ scenario: sc, metric: `idle RSS, ${label}`, value: f.idleRssMiB, unit: 'MiB', target: rssTarget });
    }
  },
};
