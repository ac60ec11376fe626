// A private PostgreSQL 15 cluster per fault-test file, so a test may restart, crash or terminate
// it freely without touching the shared server CI starts (TEST_DATABASE_URL). As root, every
// PostgreSQL binary runs as the `postgres` user (PostgreSQL refuses to run as root).
import { execFile, execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chown, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import postgres from 'postgres';

const run = promisify(execFile);
const PG_BIN = process.env['TEST_PG_BIN'] ?? '/usr/lib/postgresql/15/bin';
const isRoot = process.getuid?.() === 0;
/** What this test's own connections call themselves, so terminateBackends can spare them. */
export const TEST_APPLICATION_NAME = 'cex-fault-test';

export type StopMode = 'smart' | 'fast' | 'immediate';

export interface PgCluster {
  readonly port: number;
  readonly dataDir: string;
  /** postgres://postgres@127.0.0.1:<port>/cex */
  readonly url: string;
  /** The test's own connection (application_name cex-fault-test); reconnects after restarts. */
  readonly sql: postgres.Sql;
  query<T = Record<string, unknown>>(text: string, params?: unknown[]): Promise<T[]>;
  start(): Promise<void>;
  stop(mode?: StopMode): Promise<void>;
  /** `pg_ctl restart -m <mode>`: the server is down for as long as PostgreSQL takes. */
  restart(mode: StopMode): Promise<void>;
  /**
   * pg_terminate_backend on every client backend of the cex database except the test's own,
   * or only on those whose application_name is `applicationName`. Returns how many.
   */
  terminateBackends(applicationName?: string): Promise<number>;
  /** The server log so far (for "unexpected EOF" and the like). */
  log(): Promise<string>;
  /** Stops the server and removes the data directory. */
  destroy(): Promise<void>;
}

async function asPostgres(args: string[], timeoutMs = 60_000): Promise<{ stdout: string; stderr: string }> {
  const [cmd, ...rest] = args;
  const file = join(PG_BIN, cmd!);
  return isRoot
    ? run('runuser', ['-u', 'postgres', '--', file, ...rest], { timeout: timeoutMs })
    : run(file, rest, { timeout: timeoutMs });
}

/** A TCP port nobody listens on right now (the OS picks it). */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      server.close(() => resolve(port));
    });
  });
}

const running = new Set<string>();
// A cluster must not outlive the test process, even when a test file fails before its afterAll.
process.once('exit', () => {
  for (const dataDir of running) {
    const args = [join(PG_BIN, 'pg_ctl'), '-D', dataDir, '-m', 'immediate', 'stop'];
    try {
      if (isRoot) execFileSync('runuser', ['-u', 'postgres', '--', ...args], { stdio: 'ignore', timeout: 10_000 });
      else execFileSync(args[0]!, args.slice(1), { stdio: 'ignore', timeout: 10_000 });
    } catch {
      // already stopped
    }
    rmSync(dataDir, { recursive: true, force: true });
  }
});

export async function startPostgres(): Promise<PgCluster> {
  const dataDir = await mkdtemp(join(tmpdir(), 'cex-faults-pg-'));
  if (isRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: gid } = await run('id', ['-g', 'postgres']);
    await chown(dataDir, Number(stdout.trim()), Number(gid.trim()));
  }
  await asPostgres(['initdb', '-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
  const port = await freePort();
  const logFile = join(dataDir, 'server.log');
  const options = [
    `-p ${port}`,
    `-k ${dataDir}`,
    '-c listen_addresses=127.0.0.1',
    '-c max_connections=200',
    // An OS crash is not among the faults: the processes die, the kernel keeps its page cache.
    '-c fsync=off',
    '-c full_page_writes=off',
    '-c log_min_messages=warning',
    '-c log_line_prefix="%m [%p] %a "',
  ].join(' ');
  const pgCtl = (action: string, extra: string[] = []) =>
    asPostgres(['pg_ctl', '-D', dataDir, '-l', logFile, '-w', '-t', '60', ...extra, action, '-o', options], 90_000);

  running.add(dataDir);
  await pgCtl('start');
  await asPostgres(['createdb', '-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', 'cex']);
  const url = `postgres://postgres@127.0.0.1:${port}/cex`;
  const sql = postgres(url, {
    max: 2,
    onnotice: () => {},
    connect_timeout: 5,
    connection: { application_name: TEST_APPLICATION_NAME },
  });
  let destroyed = false;

  const cluster: PgCluster = {
    port,
    dataDir,
    url,
    sql,
    async query<T>(text: string, params: unknown[] = []) {
      return (await sql.unsafe(text, params as never[])) as unknown as T[];
    },
    async start() {
      await pgCtl('start');
    },
    async stop(mode: StopMode = 'fast') {
      await asPostgres(['pg_ctl', '-D', dataDir, '-w', '-t', '60', '-m', mode, 'stop'], 90_000);
    },
    async restart(mode: StopMode) {
      await pgCtl('restart', ['-m', mode]);
    },
    async terminateBackends(applicationName?: string) {
      const rows = await sql.unsafe<{ ok: boolean }[]>(
        `select pg_terminate_backend(pid) as ok from pg_stat_activity
          where datname = current_database() and backend_type = 'client backend'
            and pid <> pg_backend_pid() and application_name <> $1
            and ($2::text is null or application_name = $2)`,
        [TEST_APPLICATION_NAME, applicationName ?? null],
      );
      return rows.filter((r) => r.ok).length;
    },
    async log() {
      return readFile(logFile, 'utf8').catch(() => '');
    },
    async destroy() {
      if (destroyed) return;
      destroyed = true;
      await sql.end({ timeout: 1 }).catch(() => {});
      await asPostgres(['pg_ctl', '-D', dataDir, '-w', '-t', '30', '-m', 'immediate', 'stop']).catch(() => {});
      await rm(dataDir, { recursive: true, force: true });
      running.delete(dataDir);
    },
  };
  return cluster;
}
