// Direct reads of the test database, for asserting what is (and is not) stored.
import postgres from 'postgres';
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
