// The webhooks outbox keeps which webhooks want which events in memory. A change reloads it,
// and so does the change's own NOTIFY a moment later: the reload a caller awaits must not
// resolve with the set it read before a newer reload (which discards its result) has applied,
// or an event published right after creating a webhook writes no outbox row for it.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openDatabase, type Database } from '../src/storage/db.ts';
import { deleteWebhook, insertWebhook } from '../src/storage/webhook-store.ts';
import { WebhookOutbox } from '../src/webhooks/outbox.ts';
import { createLogger } from '../src/logger.ts';
import { sharedPglite, testConfig, unique, usingPostgres } from './support/app.ts';
import { ownDatabase } from './support/db.ts';

let own: Awaited<ReturnType<typeof ownDatabase>>;
let database: Database;
beforeAll(async () => {
  own = await ownDatabase();
  database = await openDatabase(testConfig(own.overrides).database, {
    pglite: usingPostgres ? undefined : await sharedPglite(),
    log: createLogger('silent'),
  });
});
afterAll(async () => {
  await database?.close();
  await own?.drop();
});

describe('WebhookOutbox.reload', () => {
  it('resolves only once a reload started meanwhile (which read the newer set) has applied', async () => {
    const outbox = new WebhookOutbox(database.db);
    // A type of this test's own: on PGlite the database is shared with other files' webhooks.
    const type = unique('test.reload');
    await outbox.reload();
    expect(outbox.wants(type)).toBe(false);
    // createWebhook: the row is committed, then the caller reloads, and the change's NOTIFY
    // starts the second reload while the first is still reading.
    // Removed at the end: its event type is no GraphQL enum value, and on PGlite other files list webhooks.
    const hook = await insertWebhook(database.db, {
      url: 'https://example.com/hook',
      events: [type],
      applicationVersionId: null,
      statusCodes: null,
      description: 'reload race',
      secret: 'whsec_test',
    });
    try {
      const mine = outbox.reload();
      const newer = outbox.reload();
      await mine;
      expect(outbox.wants(type), 'after the awaited reload').toBe(true);
      await newer;
    } finally {
      await deleteWebhook(database.db, hook.id);
    }
  });
});
