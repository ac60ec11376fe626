// The processes a run shares across scenarios: the janitor, the database (a private PostgreSQL,
// DATABASE_URL's, or a PGlite directory) and the service under test. Everything started here is
// registered with the janitor, so it is cleaned up even if the bench dies.
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { BenchConfig, RunInfo } from './config.ts';
import { log } from './log.ts';
import { startPostgres, type PrivatePostgres } from './postgres-server.ts';
import { memoryOf } from './proc.ts';
import { startServer, type RunningServer } from './server.ts';
import { WorkerProcess } from './worker.ts';

export class Servers {
  private janitor: WorkerProcess | undefined;
  private postgres: PrivatePostgres | undefined;
  private embeddedDir: string | undefined;
  private service: RunningServer | undefined;
  private url: string | undefined;

  constructor(
    private readonly config: BenchConfig,
    private readonly run: RunInfo,
  ) {
    this.url = config.databaseUrl;
  }

  /** The service under test; throws when it is not running. */
  get server(): RunningServer {
    if (!this.service) throw new Error('the server is not running');
    return this.service;
  }

  /** The service under test if it is running. */
  get running(): RunningServer | undefined {
    return this.service;
  }

  /** The private PostgreSQL, whose backends' CPU is measured (none with DATABASE_URL or PGlite). */
  get pg(): PrivatePostgres | undefined {
    return this.postgres;
  }

  /** The PostgreSQL the server uses (undefined with PGlite). */
  get databaseUrl(): string | undefined {
    return this.url;
  }

  async startJanitor(): Promise<void> {
    this.janitor = await WorkerProcess.start('janitor.ts', 'janitor');
  }

  /** Starts (or picks) the database; returns its description for the results file. */
  async startDatabase(): Promise<Record<string, unknown>> {
    if (this.config.settings.embedded) {
      this.embeddedDir = mkdtempSync(join(tmpdir(), 'cex-bench-pglite-'));
      await this.janitor?.call('register', { key: 'pglite', item: { kind: 'dir', path: this.embeddedDir } });
      return { kind: 'pglite', dataDir: this.embeddedDir };
    }
    if (this.url) return { kind: 'postgres', source: 'DATABASE_URL' };
    const pg = await startPostgres();
    this.postgres = pg;
    await this.janitor?.call('register', { key: 'postgres', item: { kind: 'postgres', pgCtl: pg.pgCtl, dataDir: pg.dataDir, asPostgres: pg.asPostgres } });
    this.url = pg.url;
    log(`private PostgreSQL on 127.0.0.1:${pg.port} (${pg.dataDir})`);
    return { kind: 'postgres', source: 'private PostgreSQL 15 started by the bench (initdb defaults otherwise)', settings: pg.settings };
  }

  /** Starts the service; `label` names its memory probe file and CPU profile directory; `env` adds to its environment. */
  async startServer(label: string, env: Record<string, string> = {}): Promise<RunningServer> {
    const { settings } = this.config;
    const profDir = join(this.run.profDir, label);
    // Default profile names (CPU.<date>.<time>.<pid>.<tid>.<seq>): tsx's loader thread writes one too.
    const nodeArgs = [...(settings.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : []), ...this.config.serverNodeArgs];
    if (settings.cpuProf) mkdirSync(profDir, { recursive: true });
    const s = await startServer({
      databaseUrl: this.url,
      dataDir: this.embeddedDir,
      adminKey: this.run.adminKey,
      logFile: this.run.serverLog,
      nodeArgs,
      nofile: this.run.nofile,
      root: this.config.serverRoot,
      probeFile: join(this.run.resultsDir, `${this.run.stamp}-${label}-memory.json`),
      env,
    });
    this.service = s;
    await this.janitor?.call('register', { key: 'server', item: { kind: 'process', pid: s.pid } });
    log(`server ${label} up: pid ${s.pid}, http ${s.httpPort}, mqtt ${s.mqttPort}, RSS ${memoryOf(s.pid).rssMiB} MiB`);
    return s;
  }

  async stopServer(): Promise<void> {
    const s = this.service;
    this.service = undefined;
    await s?.stop();
  }

  stopDatabase(): void {
    this.postgres?.stop();
    this.postgres = undefined;
  }

  /** Stops whatever is still running and removes temp directories; the janitor leaves last. */
  async stopAll(): Promise<void> {
    await this.stopServer().catch(() => {});
    this.stopDatabase();
    if (this.embeddedDir) rmSync(this.embeddedDir, { recursive: true, force: true });
    // Everything is cleaned: the janitor leaves without doing anything.
    await this.janitor?.stop();
  }
}
