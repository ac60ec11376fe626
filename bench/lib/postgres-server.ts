// A private PostgreSQL 15 for one bench run (when DATABASE_URL is unset and --embedded is not
// given): initdb into a fresh directory under /tmp, a free port on 127.0.0.1 only, removed at
// the end. As root, PostgreSQL runs as the `postgres` user (it refuses to run as root).
// Settings: the defaults of initdb, except listen_addresses=127.0.0.1, max_connections=200 and
// the unix socket in the data directory, and pg_stat_statements loaded (what each command costs
// PostgreSQL, statement by statement; see statements.ts). Durability stays on: fsync=on, synchronous_commit=on,
// full_page_writes=on (the figures are for a durable commit per transaction).
import { execFileSync, spawnSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './proc.ts';

export const PG_BIN = process.env['PG_BIN'] ?? '/usr/lib/postgresql/15/bin';

export interface PrivatePostgres {
  url: string;
  port: number;
  dataDir: string;
  /** The postmaster's pid (its children are the backends). */
  pid: number;
  settings: Record<string, string>;
  /** For the janitor: how to stop it if the bench dies. */
  pgCtl: string;
  asPostgres: boolean;
  stop(): void;
}

const isRoot = process.getuid?.() === 0;

function asPostgres(cmd: string, args: string[], options: { capture?: boolean } = {}): string {
  const [file, argv] = isRoot ? ['runuser', ['-u', 'postgres', '--', cmd, ...args]] : [cmd, args];
  const result = spawnSync(file, argv, { encoding: 'utf8', stdio: options.capture ? 'pipe' : ['ignore', 'pipe', 'pipe'] });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${result.stderr || result.stdout}`);
  return result.stdout;
}

export async function startPostgres(): Promise<PrivatePostgres> {
  if (!existsSync(join(PG_BIN, 'postgres'))) {
    throw new Error(`PostgreSQL binaries not found in ${PG_BIN}: set DATABASE_URL, PG_BIN, or use --embedded`);
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'cex-bench-pg-'));
  if (isRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim());
    const gid = Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim());
    chownSync(dataDir, uid, gid);
  }
  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    unix_socket_directories: dataDir,
    max_connections: '200',
    fsync: 'on',
    synchronous_commit: 'on',
    shared_preload_libraries: 'pg_stat_statements',
  };
  const stop = () => {
    try {
      asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', dataDir, '-m', 'fast', '-w', '-t', '30', 'stop']);
    } catch {
      /* not running */
    }
    rmSync(dataDir, { recursive: true, force: true });
  };
  try {
    asPostgres(join(PG_BIN, 'initdb'), ['-D', dataDir, '-A', 'trust', '-U', 'postgres', '--no-sync', '-E', 'UTF8']);
    const opts = Object.entries(settings)
      .map(([k, v]) => `-c ${k}=${v}`)
      .join(' ');
    asPostgres(join(PG_BIN, 'pg_ctl'), ['-D', dataDir, '-l', join(dataDir, 'server.log'), '-w', '-t', '60', '-o', opts, 'start']);
    asPostgres(join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-qc', 'create database cex_bench']);
    asPostgres(join(PG_BIN, 'psql'), ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-d', 'cex_bench', '-qc', 'create extension pg_stat_statements']);
  } catch (error) {
    stop();
    throw error;
  }
  const pid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0]);
  return { url: `postgres://postgres@127.0.0.1:${port}/cex_bench`, port, dataDir, pid, settings, stop, pgCtl: join(PG_BIN, 'pg_ctl'), asPostgres: isRoot };
}
