// Direct reads of the test database, for asserting what is (and is not) stored.
import { randomBytes } from 'node:crypto';
import postgres from 'postgres';
import type { Config } from '../../src/config.ts';
import { sharedPglite, usingPostgres } from './app.ts';

let pg: ReturnType<typeof postgres> | undefined;

export async function rawQuery<T = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<T[]> {
  if (usingPostgres) {
    pg ??= postgres(process.env['TEST_DATABASE_URL']!, { max: 2, onnotice: () => {} });
    return (await pg.unsafe(text, params as never[])) as unknown as T[];
  }
  const db = await sharedPglite();
  return (await db.query<T>(text, params)).rows;
}

/** A command's stored status, read straight from the database. */
export async function commandStatus(id: string | number): Promise<string> {
  const [row] = await rawQuery<{ status: string }>('select status from commands where id = $1', [Number(id)]);
  return row!.status;
}

/**
 * A database of the test file's own. On PostgreSQL every test file otherwise shares one database,
 * and every server on it takes part in the shared work (a webhook delivery worker takes any due
 * outbox row and applies its own retry policy), so a test that needs its server's configuration
 * to be the only one at work gets its own. On PGlite a worker's files run one at a time on its
 * shared database, which is that already. `query` reads the database the app was given.
 */
export async function ownDatabase(): Promise<{
  overrides: Partial<Config>;
  query: <T = Record<string, unknown>>(text: string, params?: unknown[]) => Promise<T[]>;
  drop: () => Promise<void>;
}> {
  if (!usingPostgres) return { overrides: {}, query: rawQuery, drop: async () => {} };
  const url = new URL(process.env['TEST_DATABASE_URL']!);
  const name = `${url.pathname.slice(1)}_own_${randomBytes(6).toString('hex')}`;
  await rawQuery(`create database "${name}"`);
  url.pathname = `/${name}`;
  const own = postgres(url.toString(), { max: 2, onnotice: () => {} });
  return {
    overrides: { database: { kind: 'postgres', url: url.toString(), poolSize: 5 } },
    query: async <T,>(text: string, params: unknown[] = []) => (await own.unsafe(text, params as never[])) as unknown as T[],
    drop: async () => {
      await own.end({ timeout: 5 });
      await rawQuery(`drop database if exists "${name}" with (force)`);
    },
  };
}
