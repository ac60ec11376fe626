// The hot statements (commands, endpoint lookups) run as plain SQL on the driver (storage/raw.ts),
// here on a database of the file's own on PostgreSQL (no other server's sweeper takes its due commands).
// What they return must be what drizzle's selects return for the same rows, to the key order
// the events' JSON is written in, on both drivers: their types differ (PGlite parses int8 and
// timestamps, postgres.js under drizzle gives strings).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eq, sql } from 'drizzle-orm';
import { openDatabase, type Database } from '../src/storage/db.ts';
import { applicationVersions, commands, endpoints } from '../src/storage/schema.ts';
import * as store from '../src/storage/command-store.ts';
import { recordDeliveries } from '../src/storage/delivery-store.ts';
import { endpointColumns, findActiveEndpointByTokenHash, findEndpointById } from '../src/storage/registry-store.ts';
import type { Command, Invoker } from '../src/domain/types.ts';
import { createLogger } from '../src/logger.ts';
import { sharedPglite, testConfig, unique, usingPostgres } from './support/app.ts';
import { ownDatabase } from './support/db.ts';

let own: Awaited<ReturnType<typeof ownDatabase>>;
let database: Database;
let endpointId: string;
let tokenHash: string;
let applicationVersionId: string;
const by: Invoker = { apiKeyId: 'k-1', name: 'store test', door: 'REST' };

beforeAll(async () => {
  own = await ownDatabase();
  const config = testConfig(own.overrides);
  database = await openDatabase(config.database, {
    pglite: usingPostgres ? undefined : await sharedPglite(),
    log: createLogger('silent'),
  });
  const [application] = await own.query<{ id: string }>('insert into applications (name) values ($1) returning id', [unique('app')]);
  const [version] = await own.query<{ id: string }>('insert into application_versions (application_id, name) values ($1, $2) returning id', [
    application!.id,
    unique('v'),
  ]);
  applicationVersionId = version!.id;
  tokenHash = unique('hash');
  const [endpoint] = await own.query<{ id: string }>('insert into endpoints (application_version_id, token_hash) values ($1, $2) returning id', [
    applicationVersionId,
    tokenHash,
  ]);
  endpointId = endpoint!.id;
});
afterAll(async () => {
  await database?.close();
  await own?.drop();
});

const newCommand = (payload: unknown, over: Partial<store.NewCommand> = {}): store.NewCommand => ({
  endpointId,
  applicationVersionId,
  commandType: 'store',
  payload,
  retentionSeconds: 3600,
  rerunOf: null,
  schemaVersion: null,
  invokedBy: by,
  ...over,
});

/** The row as drizzle's query builder reads it. */
async function viaDrizzle(id: number): Promise<Command> {
  const [row] = await database.db.select(store.commandColumns).from(commands).where(eq(commands.id, id));
  return store.toCommand(row!);
}

/** Equal values, and the same JSON text (key order included): what the events carry. */
async function expectAsDrizzle(list: Command[]): Promise<void> {
  for (const c of list) {
    const expected = await viaDrizzle(c.id);
    expect(c).toEqual(expected);
    expect(JSON.stringify(c)).toBe(JSON.stringify(expected));
  }
}

describe('the hot statements without the query builder', () => {
  it('look endpoints up as drizzle reads them', async () => {
    const [endpoint] = await database.db.select(endpointColumns).from(endpoints).where(eq(endpoints.id, endpointId));
    const [version] = await database.db.select().from(applicationVersions).where(eq(applicationVersions.id, applicationVersionId));
    const byId = await findEndpointById(database.db, endpointId);
    expect(byId).toEqual(endpoint);
    expect(JSON.stringify(byId)).toBe(JSON.stringify(endpoint));
    const byToken = await findActiveEndpointByTokenHash(database.db, tokenHash);
    expect(byToken).toEqual({ endpoint, version });
    expect(JSON.stringify(byToken)).toBe(JSON.stringify({ endpoint, version }));
    expect(await findActiveEndpointByTokenHash(database.db, unique('hash'))).toBeNull();
    expect(await findEndpointById(database.db, '00000000-0000-4000-8000-000000000000')).toBeNull();
  });

  it('returns what drizzle reads, for every hot statement', async () => {
    const payloads = [{ b: 1, a: [true, null, 'é'] }, 'text', null, 7, { '': { nested: '\u2028' } }];
    const inserted = await database.db.transaction((tx) => store.insertCommands(tx, payloads.map((p) => newCommand(p))));
    expect(inserted.map((c) => c.payload)).toEqual(payloads);
    expect(inserted.map((c) => c.id)).toEqual([...inserted.map((c) => c.id)].sort((a, b) => a - b));
    expect(typeof inserted[0]!.id).toBe('number');
    expect(inserted[0]!.createdAt).toBeInstanceOf(Date);
    await expectAsDrizzle(inserted);

    const [rerun] = await database.db.transaction((tx) =>
      store.insertCommands(tx, [newCommand({ x: 1 }, { rerunOf: inserted[0]!.id, schemaVersion: 3, commandType: 'other' })]),
    );
    expect(rerun).toMatchObject({ rerunOf: inserted[0]!.id, schemaVersion: 3, invokedBy: by });
    expect(rerun!.expiresAt.getTime() - rerun!.createdAt.getTime()).toBe(3_600_000);
    await expectAsDrizzle([rerun!]);

    expect(await store.findCommand(database.db, rerun!.id)).toEqual(rerun);
    expect(await store.findCommand(database.db, 2 ** 53 - 1)).toBeNull();
    const outstanding = await store.listOutstanding(database.db, endpointId);
    expect(outstanding.map((c) => c.id)).toEqual([...inserted, rerun!].map((c) => c.id));
    await expectAsDrizzle(outstanding);
    expect((await store.listOutstanding(database.db, endpointId, 'other')).map((c) => c.id)).toEqual([rerun!.id]);

    const owners = await store.commandOwners(database.db, [rerun!.id, inserted[0]!.id, 2 ** 53 - 1]);
    expect([...owners.entries()].sort(([a], [b]) => a - b)).toEqual([
      [inserted[0]!.id, { endpointId, commandType: 'store' }],
      [rerun!.id, { endpointId, commandType: 'other' }],
    ]);

    const item = { endpointId, commandType: 'store', statusCode: 200, reasonPhrase: 'ok' };
    const executed = await database.db.transaction((tx) =>
      store.recordResults(tx, [
        { ...item, id: inserted[1]!.id, resultPayload: { z: 0, y: [1] } },
        { ...item, id: inserted[2]!.id, resultPayload: null, commandType: 'other' },
      ]),
    );
    expect(executed.map((c) => [c.id, c.status, c.resultPayload])).toEqual([[inserted[1]!.id, 'EXECUTED', { z: 0, y: [1] }]]);
    await expectAsDrizzle(executed);
  });

  it('expires at most a batch of due commands per statement, oldest first', async () => {
    const due = await database.db.transaction((tx) =>
      store.insertCommands(tx, [1, 2, 3, 4, 5].map((n) => newCommand(n, { retentionSeconds: -60 }))),
    );
    const batches: Command[][] = [];
    for (;;) {
      const expired = await database.db.transaction((tx) => store.expireDue(tx, 2));
      if (expired.length === 0) break;
      batches.push(expired);
    }
    expect(batches.every((b) => b.length <= 2)).toBe(true);
    // PGlite's database is shared with other files, which may have left due commands before ours.
    const ours = batches.flat().filter((c) => due.some((d) => d.id === c.id));
    expect(ours.map((c) => c.id)).toEqual(due.map((c) => c.id));
    expect(ours.every((c) => c.status === 'EXPIRED' && c.expiredAt instanceof Date)).toBe(true);
    await expectAsDrizzle(ours);
  });

  // A generic plan made while commands was nearly empty would scan the whole table for every
  // batch until autovacuum analyzes it (seen in the bench): batch statements are planned with
  // their parameters each time, so the connection must not keep them prepared.
  it.runIf(usingPostgres)('plans the batch statements anew every time and keeps the single-row ones prepared', async () => {
    const config = testConfig(own.overrides);
    if (config.database.kind !== 'postgres') throw new Error('PostgreSQL only');
    const one = await openDatabase({ ...config.database, poolSize: 1 }, { log: createLogger('silent') });
    try {
      const [command] = await one.db.transaction((tx) => store.insertCommands(tx, [newCommand({ plan: 1 })]));
      for (let i = 0; i < 7; i++) {
        await store.findCommand(one.db, command!.id);
        await store.commandOwners(one.db, [command!.id]);
        await one.db.transaction((tx) => store.expireDue(tx, 10));
        await recordDeliveries(one.db, [{ commandId: command!.id, via: 'MQTT' }]);
        await store.recordResults(one.db, [
          { id: command!.id, endpointId, commandType: 'store', statusCode: 200, reasonPhrase: null, resultPayload: null },
        ]);
      }
      const kept = (await one.db.execute(sql`select statement from pg_prepared_statements`)) as unknown as { statement: string }[];
      const texts = kept.map((k) => k.statement);
      expect(texts.some((t) => t.includes('where c.id = $1'))).toBe(true);
      // The insert stays prepared: its plan reads no table.
      const batches = texts.filter((t) => !/^\s*insert/.test(t) && /any\(\$1::text::bigint\[\]\)|json_to_recordset|limit \$1/.test(t));
      expect(batches).toEqual([]);
    } finally {
      await one.close();
    }
  });
});

