// The SSRF guard with the default configuration: private targets are refused when a webhook is
// saved, and again when it connects (a name that resolved elsewhere when it was saved).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { rawQuery } from './support/db.ts';
import { createEndpoint, invokeCommand } from './support/api.ts';
import { gql, gqlData, startApp, waitFor } from './support/app.ts';
import { CreateWebhook, DeleteWebhook, Receiver, UpdateWebhook, WebhookDeliveries } from './support/webhooks.ts';

let app: App;
let receiver: Receiver;
beforeAll(async () => {
  app = await startApp({ webhooks: { allowPrivateTargets: false, timeoutMs: 2_000, retryBaseMs: 50, retryMaxDelayMs: 200, retryForMs: 86_400_000 } });
  receiver = await Receiver.start();
});
afterAll(async () => {
  await receiver?.close();
  await app?.stop();
});

/** A webhook written straight to the database, past the check createWebhook makes. */
async function storedWebhook(url: string): Promise<{ id: string }> {
  const [row] = await rawQuery<{ id: string }>(
    `insert into webhooks (url, events, secret) values ($1, array['command.created'], 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw') returning id`,
    [url],
  );
  return row!;
}

describe('webhook SSRF guard (WEBHOOK_ALLOW_PRIVATE_TARGETS unset)', () => {
  it.each([
    'http://127.0.0.1:9/hook',
    'http://localhost/hook',
    'http://[::1]/hook',
    'http://[::ffff:127.0.0.1]/hook',
    'http://[::ffff:7f00:1]/hook',
    'http://169.254.169.254/latest/meta-data/',
    'http://10.1.2.3/',
    'https://192.168.0.1/',
    'http://[fd00::1]/',
    'http://0x7f000001/',
    'file:///etc/passwd',
    'gopher://example.com/',
  ])('refuses %s', async (url) => {
    const res = await gql(app, CreateWebhook, { input: { url, events: ['COMMAND_CREATED'], description: '' } });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'url' });
  });

  it('refuses a private target on update too', async () => {
    const row = await storedWebhook('https://example.com/hook');
    const res = await gql(app, UpdateWebhook, { id: row.id, input: { url: receiver.url } });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'url' });
    await gqlData(app, DeleteWebhook, { id: row.id });
  });

  it('checks again at connect time: a target that is private by then is never called', async () => {
    // As if the name had resolved to a public address when the webhook was saved.
    const row = await storedWebhook(receiver.url);
    await app.services.webhooks.outbox.reload();
    const fx = await createEndpoint(app);
    await invokeCommand(app, fx.endpointId, 'reboot');
    const attempts = await waitFor(async () => {
      const { webhooks } = await gqlData(app, WebhookDeliveries, { first: 10 });
      const d = webhooks.find((w) => w.id === row.id)!.deliveries.edges;
      return d.length >= 2 && d;
    }, 15_000);
    expect(attempts[0]!.node).toMatchObject({ status: 'RETRYING', responseCode: null });
    expect(attempts[0]!.node.error).toMatch(/127\.0\.0\.1.*private/);
    expect(receiver.requests).toEqual([]);
    await gqlData(app, DeleteWebhook, { id: row.id });
  });
});
