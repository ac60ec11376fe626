// The audit trail of the webhook actions: each one leaves exactly one entry, in its own
// transaction, with its actor and target and never the signing secret; a refused action none; a
// webhook the server disables after failing for the whole retry window (1 s here) an entry with
// no actor. Its own file, server and (on PostgreSQL) database: no other server's worker, with
// another retry policy, may take its rows.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { graphql, type ResultOf, type VariablesOf } from '../src/graphql/typed.ts';
import { createApiKey, createEndpoint, invokeCommand } from './support/api.ts';
import { gql, gqlData, startApp, waitFor } from './support/app.ts';
import { errorOf } from './support/commands.ts';
import { ownDatabase } from './support/db.ts';
import { CreateWebhook, DeleteWebhook, Receiver, RedeliverWebhookEvent, RotateWebhookSecret, TestWebhook, UpdateWebhook } from './support/webhooks.ts';

const WebhookAuditLog = graphql(`
  query WebhookAuditLog($actor: String, $target: AuditTargetInput) {
    auditLog(actor: $actor, target: $target, first: 100) { edges { node { action actor { apiKeyId name door } target { type id } input } } }
  }
`);

let app: App;
let own: Awaited<ReturnType<typeof ownDatabase>> | undefined;
let ok: Receiver;
let failing: Receiver;
beforeAll(async () => {
  own = await ownDatabase();
  app = await startApp({ ...own.overrides, webhooks: { allowPrivateTargets: true, timeoutMs: 2_000, retryBaseMs: 50, retryMaxDelayMs: 200, retryForMs: 1_000 } });
  ok = await Receiver.start();
  failing = await Receiver.start();
  failing.answer = () => 503;
});
afterAll(async () => {
  await ok?.close();
  await failing?.close();
  await app?.stop();
  await own?.drop();
});

/** Newest first, through the API as the test admin. */
async function audit(filter: VariablesOf<typeof WebhookAuditLog>): Promise<ResultOf<typeof WebhookAuditLog>['auditLog']['edges'][number]['node'][]> {
  return (await gqlData(app, WebhookAuditLog, filter)).auditLog.edges.map((e) => e.node);
}

async function adminKey() {
  const key = await createApiKey(app, 'ADMIN');
  return { secret: key.secret, id: key.id, actor: { apiKeyId: key.id, name: key.name, door: 'GRAPHQL' } };
}

describe('webhook actions in the audit trail', () => {
  it('each leaves exactly one entry with its actor, target and input, and no secret anywhere in it', async () => {
    const admin = await adminKey();
    const input = { url: ok.url, events: ['COMMAND_EXECUTED' as const], statusCodes: [{ from: 200, to: 299 }], description: 'ops' };
    const created = (await gqlData(app, CreateWebhook, { input }, admin.secret)).createWebhook;
    const id = created.webhook.id;
    await gqlData(app, UpdateWebhook, { id, input: { description: 'ops, paused', enabled: false } }, admin.secret);
    const rotated = (await gqlData(app, RotateWebhookSecret, { id }, admin.secret)).rotateWebhookSecret;
    const ping = (await gqlData(app, TestWebhook, { id }, admin.secret)).testWebhook;
    await gqlData(app, RedeliverWebhookEvent, { webhookId: id, eventId: ping.eventId }, admin.secret);
    await gqlData(app, DeleteWebhook, { id }, admin.secret);

    const target = { type: 'WEBHOOK' as const, id };
    expect(await audit({ target })).toEqual([
      { action: 'WEBHOOK_DELETED', actor: admin.actor, target, input: {} },
      { action: 'WEBHOOK_EVENT_REDELIVERED', actor: admin.actor, target, input: { eventId: ping.eventId } },
      { action: 'WEBHOOK_TESTED', actor: admin.actor, target, input: { eventId: ping.eventId } },
      { action: 'WEBHOOK_SECRET_ROTATED', actor: admin.actor, target, input: {} },
      { action: 'WEBHOOK_UPDATED', actor: admin.actor, target, input: { description: 'ops, paused', enabled: false } },
      {
        action: 'WEBHOOK_CREATED',
        actor: admin.actor,
        target,
        input: { url: ok.url, events: ['command.executed'], statusCodes: [{ from: 200, to: 299 }], description: 'ops' },
      },
    ]);
    const rows = await own!.query<{ row: string }>(`select a::text as row from audit_log a where target_type = 'WEBHOOK' and target_id = $1`, [id]);
    expect(rows).toHaveLength(6);
    for (const secret of [created.secret, rotated.secret]) {
      expect(secret).toMatch(/^whsec_/);
      for (const { row } of rows) expect(row).not.toContain(secret.slice('whsec_'.length));
    }
    for (const { row } of rows) expect(row).not.toContain('whsec_');
  });

  it('a refused action leaves none', async () => {
    const admin = await adminKey();
    const viewer = await createApiKey(app, 'VIEWER');
    const { webhook } = (await gqlData(app, CreateWebhook, { input: { url: ok.url, events: ['COMMAND_CREATED'], description: '' } })).createWebhook;
    const id = webhook.id;
    const missing = '00000000-0000-4000-8000-000000000000';
    const refused = [
      gql(app, CreateWebhook, { input: { url: ok.url, events: ['COMMAND_CREATED'], description: '' } }, viewer.secret),
      gql(app, UpdateWebhook, { id, input: { description: 'no' } }, viewer.secret),
      gql(app, RotateWebhookSecret, { id }, viewer.secret),
      gql(app, TestWebhook, { id }, viewer.secret),
      gql(app, RedeliverWebhookEvent, { webhookId: id, eventId: 'msg_1' }, viewer.secret),
      gql(app, DeleteWebhook, { id }, viewer.secret),
      gql(app, CreateWebhook, { input: { url: ok.url, events: ['COMMAND_CREATED'], applicationVersion: 'no-such-version', description: '' } }, admin.secret),
      gql(app, UpdateWebhook, { id, input: { events: ['COMMAND_CREATED'], statusCodes: [{ from: 200 }] } }, admin.secret),
      gql(app, UpdateWebhook, { id: missing, input: { description: 'gone' } }, admin.secret),
      gql(app, RotateWebhookSecret, { id: missing }, admin.secret),
      gql(app, TestWebhook, { id: missing }, admin.secret),
      // Well formed, but no event of this webhook: the redelivery's transaction changes nothing.
      gql(app, RedeliverWebhookEvent, { webhookId: id, eventId: 'msg_999999999999' }, admin.secret),
      gql(app, DeleteWebhook, { id: missing }, admin.secret),
    ];
    for (const res of await Promise.all(refused)) expect(errorOf(res).extensions?.code).toMatch(/^(FORBIDDEN|NOT_FOUND|BAD_USER_INPUT)$/);
    expect(await audit({ actor: viewer.id })).toEqual([]);
    expect(await audit({ actor: admin.id })).toEqual([]);
    expect((await audit({ target: { type: 'WEBHOOK', id } })).map((e) => e.action)).toEqual(['WEBHOOK_CREATED']);
    await gqlData(app, DeleteWebhook, { id });
  });

  it('a webhook the server disables after failing for the retry window: one entry, no actor', async () => {
    const { webhook } = (await gqlData(app, CreateWebhook, { input: { url: failing.url, events: ['COMMAND_CREATED'], description: '' } })).createWebhook;
    const target = { type: 'WEBHOOK' as const, id: webhook.id };
    const fx = await createEndpoint(app);
    await invokeCommand(app, fx.endpointId, 'reboot');
    const entries = await waitFor(async () => {
      const e = await audit({ target });
      return e.some((x) => x.action === 'WEBHOOK_DISABLED') && e;
    }, 15_000);
    expect(entries.filter((e) => e.action === 'WEBHOOK_DISABLED')).toEqual([{ action: 'WEBHOOK_DISABLED', actor: null, target, input: {} }]);
    const [row] = await own!.query<{ disabled_at: Date | null }>('select disabled_at from webhooks where id = $1', [webhook.id]);
    expect(row?.disabled_at).not.toBeNull();
    await gqlData(app, DeleteWebhook, { id: webhook.id });
  });
});
