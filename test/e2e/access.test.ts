// Roles in the console: a VIEWER sees no buttons it cannot use; a revoked key returns to sign-in.
// Also screenshots every page for people to look at.
import { beforeAll, describe, expect, it } from 'vitest';
import { createApiKey, createEndpoint, invokeCommand, revokeApiKey, setCommandSchema, type Fixture } from '../support/api.ts';
import { ADMIN_KEY } from '../support/app.ts';
import { lightControllerSchema } from '../support/fixtures.ts';
import { consoleSuite, screenshot, signIn, skipBrowser, waitLive } from './browser.ts';

describe.skipIf(skipBrowser)('console: access', () => {
  const suite = consoleSuite();
  let fx: Fixture;

  beforeAll(async () => {
    fx = await createEndpoint(suite.app);
    await invokeCommand(suite.app, fx.endpointId, 'reboot', { delay: 5 });
  });

  it('a VIEWER sees the role and no Run, Send, Re-run or API keys', async () => {
    const viewer = await createApiKey(suite.app, 'VIEWER');
    const page = await signIn(suite.browser, suite.app.url, viewer.secret);
    expect(await page.getByTestId('role').textContent()).toBe('VIEWER');
    await page.goto(`${suite.app.url}/devices/${fx.endpointId}`);
    await waitLive(page);
    const history = page.getByRole('region', { name: 'Commands history' });
    await expect.poll(() => history.locator('tbody tr').count()).toBe(1);
    expect(await page.getByRole('button', { name: 'Run' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Send' }).count()).toBe(0);
    expect(await page.getByRole('button', { name: 'Re-run' }).count()).toBe(0);
    expect(await page.getByRole('region', { name: 'Command execution' }).count()).toBe(0);
    expect(await page.getByRole('link', { name: 'API keys' }).count()).toBe(0);
    await page.getByRole('tab', { name: 'Settings' }).click();
    await page.getByRole('heading', { name: 'MQTT credentials' }).waitFor();
    expect(await page.getByRole('button', { name: /Rotate|Revoke|Save|Set credentials/ }).count()).toBe(0);
    await page.close();
  });

  it('a key revoked while signed in returns to the sign-in page with a clear message', async () => {
    const operator = await createApiKey(suite.app, 'OPERATOR');
    const page = await signIn(suite.browser, suite.app.url, operator.secret);
    await waitLive(page);
    await revokeApiKey(suite.app, operator.id);
    await page.getByLabel('API key').waitFor();
    expect(await page.getByRole('alert').textContent()).toMatch(/no longer valid/);
    expect(await page.evaluate(() => sessionStorage.length)).toBe(0);
    await screenshot(page, 'sign-in-revoked');
    await page.close();
  });

  it('every page renders (screenshots in test-results/screenshots)', async () => {
    await setCommandSchema(suite.app, fx.appVersion, 'light', lightControllerSchema);
    const page = await suite.browser.context.newPage();
    await page.goto(`${suite.app.url}/`);
    await page.getByLabel('API key').waitFor();
    await screenshot(page, 'sign-in');
    await page.close();

    const admin = await signIn(suite.browser, suite.app.url, ADMIN_KEY);
    await waitLive(admin);
    const pages: [string, string, string][] = [
      ['devices', '/devices', 'Devices'],
      ['commands', '/commands', 'Commands'],
      ['applications', `/applications/${fx.appVersion}`, 'Form preview'],
      ['api-keys', '/api-keys', 'API keys'],
      ['device-settings', `/devices/${fx.endpointId}/settings`, 'MQTT credentials'],
    ];
    for (const [name, path, heading] of pages) {
      await admin.goto(`${suite.app.url}${path}`);
      await admin.getByRole('heading', { name: heading, exact: true }).waitFor();
      await expect.poll(() => admin.locator('.loading').count()).toBe(0);
      await screenshot(admin, name);
    }
    await admin.close();
  });
});
