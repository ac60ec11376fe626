// The Applications page (schema editor errors by path, preview, "Try it" through
// validateCommand) and the device Settings tab (rename, token rotation shown once).
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createEndpoint, setCommandSchema, type Fixture } from '../support/api.ts';
import { ADMIN_KEY } from '../support/app.ts';
import { lightControllerSchema } from '../support/fixtures.ts';
import { consoleSuite, signIn, skipBrowser, waitLive } from './browser.ts';

describe.skipIf(skipBrowser)('console: applications and settings', () => {
  const suite = consoleSuite();
  let page: Page;
  let fx: Fixture;

  beforeAll(async () => {
    fx = await createEndpoint(suite.app);
    await setCommandSchema(suite.app, fx.appVersion, 'light', lightControllerSchema);
    page = await signIn(suite.browser, suite.app.url, ADMIN_KEY);
  });

  it('edits a schema with errors by path, previews its form and tries a payload through validateCommand', async () => {
    await page.goto(`${suite.app.url}/applications/${fx.appVersion}`);
    const editor = page.getByLabel('Schema JSON');
    const broken = { ...lightControllerSchema, properties: { ...lightControllerSchema.properties, dimming: { type: 'number', minimum: 'zero' } } };
    await editor.fill(JSON.stringify(broken, null, 2));
    const errors = page.getByRole('list', { name: 'Schema errors' });
    await expect.poll(() => errors.textContent()).toContain('/properties/dimming/minimum');
    expect(await page.getByRole('button', { name: 'Save new version' }).isDisabled()).toBe(true);

    await editor.fill(JSON.stringify(lightControllerSchema, null, 2));
    await expect.poll(() => errors.count()).toBe(0);
    const preview = page.getByRole('region', { name: 'Form preview' });
    await preview.getByLabel('output_mode').selectOption('on');
    await preview.getByLabel('dimming').fill('20');
    await preview.getByRole('button', { name: 'Try it' }).click();
    const trial = preview.getByRole('status');
    await expect.poll(() => trial.textContent()).toContain('Valid.');
    expect(JSON.parse((await trial.locator('pre').textContent())!)).toStrictEqual({
      f_port: 60,
      priority: 'LOW',
      confirmed: 'false',
      command: 'dimming',
      output_mode: 'on',
      dimming: 20,
    });
  });

  it('renames the device and rotates its token, shown once; the old token stops working', async () => {
    await page.goto(`${suite.app.url}/devices/${fx.endpointId}/settings`);
    await waitLive(page);
    await page.getByLabel('Display name').fill('porch light');
    await page.getByRole('button', { name: 'Save' }).click();
    await expect.poll(() => page.getByRole('heading', { level: 1 }).textContent()).toBe('porch light');

    page.once('dialog', (dialog) => void dialog.accept());
    await page.getByRole('button', { name: 'Rotate token' }).click();
    const token = (await page.getByTestId('secret').textContent())!;
    expect(token.length).toBeGreaterThan(8);
    const poll = (t: string) => fetch(`${suite.app.url}/kp1/${fx.appVersion}/cex/${t}/command/light`, { method: 'POST', body: '{}' });
    expect((await poll(fx.token)).status).toBe(401);
    expect((await poll(token)).status).toBe(200);
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await page.getByTestId('secret').count()).toBe(0);
  });
});
