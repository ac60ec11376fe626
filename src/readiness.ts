// Liveness (/livez: the process serves HTTP) and readiness (/readyz, and /healthz as its alias):
// the database answers, every migration this build knows of is applied, the event listener is
// connected, and the process is not draining. A load balancer or orchestrator stops sending
// traffic on 503; the body names the checks that failed.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'drizzle-orm';
import { migrationsFolder, type Database } from './storage/db.ts';

export const LIVENESS_PATH = '/livez';
export const READINESS_PATHS: readonly string[] = ['/readyz', '/healthz'];
/** A database slower than this to answer `select` counts as unreachable. */
const DATABASE_CHECK_TIMEOUT_MS = 3_000;

export type CheckName = 'database' | 'migrations' | 'eventListener' | 'draining';

export interface Readiness {
  ready: boolean;
  /** Each check: "ok", or what is wrong. */
  checks: Record<CheckName, string>;
}

let knownMigrations: number | undefined;
function migrationCount(): number {
  knownMigrations ??= (JSON.parse(readFileSync(join(migrationsFolder, 'meta', '_journal.json'), 'utf8')) as { entries: unknown[] }).entries.length;
  return knownMigrations;
}

export function isHealthPath(url: string | undefined): boolean {
  const path = (url ?? '/').split('?', 1)[0]!;
  return path === LIVENESS_PATH || READINESS_PATHS.includes(path);
}

export async function readiness(database: Database, shutdown: AbortSignal): Promise<Readiness> {
  const checks: Record<CheckName, string> = {
    database: 'ok',
    migrations: 'ok',
    eventListener: 'ok',
    draining: shutdown.aborted ? 'the server is shutting down' : 'ok',
  };
  const listener = database.listenerConnected().then((ok) => {
    if (!ok) checks.eventListener = 'not connected';
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer within ${DATABASE_CHECK_TIMEOUT_MS} ms`)), DATABASE_CHECK_TIMEOUT_MS);
    });
    const rows = await Promise.race([
      database.db.execute<{ applied: number }>(sql`select count(*)::int as applied from drizzle.__drizzle_migrations`),
      timeout,
    ]);
    const applied = Number(rowsOf<{ applied: number }>(rows)[0]?.applied);
    if (!(applied >= migrationCount())) checks.migrations = `${applied} of ${migrationCount()} applied`;
  } catch (error) {
    checks.database = `unreachable: ${error instanceof Error ? error.message : String(error)}`;
    checks.migrations = 'unknown';
  } finally {
    clearTimeout(timer);
  }
  await listener;
  return { ready: Object.values(checks).every((c) => c === 'ok'), checks };
}

/** db.execute gives the rows (postgres.js) or `{ rows }` (PGlite). */
function rowsOf<T>(result: unknown): T[] {
  return Array.isArray(result) ? (result as T[]) : (result as { rows: T[] }).rows;
}
