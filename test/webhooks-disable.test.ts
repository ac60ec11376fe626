// A webhook whose deliveries fail for the whole retry window (WEBHOOK_RETRY_FOR_MS, 1 s here):
// the event is given up and the webhook disabled, and the hook the audit trail uses runs inside
// the transaction that disables it. Its own file and, on PostgreSQL, its own database: no other
// server's worker (with another retry policy) may take the rows.
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { webhooks as webhooksTable } from '../src/storage/schema.ts';
import { createEndpoint, invokeCommand } from './support/api.ts';
import { gqlData, startApp, waitFor } from './support/app.ts';
import { ownDatabase } from './support/db.ts';
import { CreateWebhook, DeleteWebhook, Receiver, WebhookDeliveries, Webhooks } from './support/webhooks.ts';

let r: Receiver;
describe('webhooks failing for the whole retry window', () => {
  let short: App;
  let own: Awaited<ReturnType<typeof ownDatabase>> | undefined;
  beforeAll(async () => {
    own = await ownDatabase();
    short = await startApp({ ...own.overrides, webhooks: { allowPrivateTargets: true, timeoutMs: 2_000, retryBaseMs: 50, retryMaxDelayMs: 200, retryForMs: 1_000 } });
    r = await Receiver.start();
  });
  afterAll(async () => {
    await r?.close();
    await short?.stop();
    await own?.drop();
  });

  it('gives the event up and disables the webhook, telling the hook inside the disabling transaction', async () => {
    r.answer = () => 503;
    const disabledIds: string[] = [];
    const off = short.services.webhooks.onDisabled(async (tx, ids) => {
      // Inside the transaction: the webhook reads as disabled there.
      const [row] = await tx.select({ disabledAt: webhooksTable.disabledAt }).from(webhooksTable).where(eq(webhooksTable.id, ids[0]!));
      if (row?.disabledAt) disabledIds.push(...ids);
    });
    const fx = await createEndpoint(short);
    const { webhook: hook } = (await gqlData(short, CreateWebhook, { input: { url: r.url, events: ['COMMAND_CREATED'], description: '' } })).createWebhook;
    await invokeCommand(short, fx.endpointId, 'reboot');
    await waitFor(() => disabledIds.length > 0, 15_000);
    off();
    expect(disabledIds).toEqual([hook.id]);
    const stored = (await gqlData(short, Webhooks)).webhooks.find((w) => w.id === hook.id)!;
    expect(stored).toMatchObject({ enabled: false, disabledReason: expect.stringMatching(/failed/) });
    const { webhooks } = await gqlData(short, WebhookDeliveries, { first: 1 });
    expect(webhooks.find((w) => w.id === hook.id)!.deliveries.edges[0]!.node).toMatchObject({ status: 'FAILED', responseCode: 503 });
    await gqlData(short, DeleteWebhook, { id: hook.id });
  });
});
