// stop() does not wait for webhook receivers: requests in flight are cut, and their rows stay
// PENDING for a retry (by this server after a restart, or by another one once the lease ends).
import { afterAll, describe, expect, it } from 'vitest';
import { createEndpoint, invokeCommand } from './support/api.ts';
import { gqlData, startApp, waitFor } from './support/app.ts';
import { rawQuery } from './support/db.ts';
import { CreateWebhook, DeleteWebhook, Receiver } from './support/webhooks.ts';

const receivers: Receiver[] = [];
afterAll(async () => {
  for (const r of receivers) await r.close();
});

describe('webhooks at shutdown', () => {
  it('cuts a delivery in flight instead of waiting for its 10 s timeout, and keeps the event', async () => {
    const app = await startApp({ webhooks: { allowPrivateTargets: true, timeoutMs: 10_000, retryBaseMs: 50, retryMaxDelayMs: 200, retryForMs: 86_400_000 } });
    const r = await Receiver.start();
    receivers.push(r);
    r.answer = () => 'hang';
    const fx = await createEndpoint(app);
    const { webhook } = (await gqlData(app, CreateWebhook, { input: { url: r.url, events: ['COMMAND_CREATED'], description: '' } })).createWebhook;
    await invokeCommand(app, fx.endpointId, 'reboot');
    await waitFor(() => r.requests.length === 1, 15_000);
    const started = Date.now();
    await app.stop();
    expect(Date.now() - started).toBeLessThan(5_000);
    const rows = await rawQuery<{ state: string }>('select state from webhook_events where webhook_id = $1', [webhook.id]);
    expect(rows).toEqual([{ state: 'PENDING' }]);
    const other = await startApp();
    await gqlData(other, DeleteWebhook, { id: webhook.id });
    await other.stop();
  });
});
