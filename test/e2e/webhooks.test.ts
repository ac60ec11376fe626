// The Webhooks page: create (the signing secret shown once, and it verifies what the receiver
// gets), test ping with the deliveries list, edit, rotate, delete.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createEndpoint, invokeCommand } from '../support/api.ts';
import { ADMIN_KEY } from '../support/app.ts';
import { Receiver, verify } from '../support/webhooks.ts';
import { consoleSuite, screenshot, signIn, skipBrowser } from './browser.ts';

describe.skipIf(skipBrowser)('console: webhooks', () => {
  const suite = consoleSuite({
    config: { webhooks: { allowPrivateTargets: true, timeoutMs: 2_000, retryBaseMs: 50, retryMaxDelayMs: 200, retryForMs: 86_400_000 } },
  });
  let page: Page;
  let receiver: Receiver;

  beforeAll(async () => {
    receiver = await Receiver.start();
    page = await signIn(suite.browser, suite.app.url, ADMIN_KEY);
  });
  afterAll(async () => {
    await receiver?.close();
  });

  it('creates a webhook, shows its secret once, pings it and lists the deliveries', async () => {
    await page.goto(`${suite.app.url}/webhooks`);
    await page.getByRole('button', { name: 'New webhook' }).click();
    const form = page.getByRole('form', { name: 'Create webhook' });
    await form.getByLabel('Endpoint URL').fill(receiver.url);
    await form.getByLabel('Description').fill('Tickets for failed commands');
    await form.getByRole('button', { name: 'Command created' }).click();
    await form.getByLabel('Only status codes ≥ (executed)').fill('400');
    await form.getByRole('button', { name: 'Create webhook' }).click();
    const secret = (await page.getByTestId('secret').textContent())!;
    expect(secret).toMatch(/^whsec_/);
    const card = page.getByRole('region', { name: `Webhook ${receiver.url}` });
    await expect.poll(() => card.textContent()).toContain('Command executed · ≥ 400');

    const fx = await createEndpoint(suite.app);
    const command = await invokeCommand(suite.app, fx.endpointId, 'reboot');
    await expect.poll(() => receiver.ofType('command.created').length, { timeout: 15_000 }).toBe(1);
    expect(verify(secret, receiver.received[0]!)).toMatchObject({ data: { id: command.id } });

    await page.getByRole('button', { name: 'Done' }).click();
    await card.getByRole('button', { name: 'Send test ping' }).click();
    await expect.poll(() => page.getByText(/Ping delivered: 200/).count(), { timeout: 15_000 }).toBe(1);
    const deliveries = card.getByRole('table', { name: 'Deliveries' });
    await expect.poll(() => deliveries.locator('tbody tr').count(), { timeout: 15_000 }).toBe(2);
    expect(await deliveries.textContent()).toContain('webhook.ping');
    await screenshot(page, 'webhooks');
  });

  it('edits, rotates the secret and deletes', async () => {
    const card = page.getByRole('region', { name: `Webhook ${receiver.url}` });
    await card.getByRole('button', { name: 'Edit' }).click();
    const form = page.getByRole('form', { name: 'Edit webhook' });
    await form.getByLabel('Description').fill('Alerting');
    await form.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => card.textContent()).toContain('Alerting');

    page.once('dialog', (dialog) => void dialog.accept());
    await card.getByRole('button', { name: 'Rotate secret' }).click();
    const rotated = (await page.getByTestId('secret').textContent())!;
    expect(rotated).toMatch(/^whsec_/);
    await page.getByRole('button', { name: 'Done' }).click();

    page.once('dialog', (dialog) => void dialog.accept());
    await card.getByRole('button', { name: 'Delete' }).click();
    await expect.poll(() => page.getByText('No webhooks yet').count()).toBe(1);
  });
});
