// The Audit trail page (ADMIN): a fresh server's history of operator actions, filtered by action
// and by target, paged; an OPERATOR has no such page. Screenshot: test-results/screenshots/audit.png.
import { beforeAll, describe, expect, it } from 'vitest';
import * as Doc from '../support/documents.ts';
import { gqlData } from '../support/app.ts';
import { rest } from '../support/rest.ts';
import { lightControllerSchema } from '../support/fixtures.ts';
import { consoleSuite, screenshot, signIn, skipBrowser, waitLive } from './browser.ts';

describe.skipIf(skipBrowser)('console: audit trail', () => {
  const suite = consoleSuite({ fresh: true });
  let operator: { id: string; secret: string };
  let endpointId: string;

  beforeAll(async () => {
    const { app, bootstrapKey: admin } = suite;
    operator = (await gqlData(app, Doc.CreateApiKey, { name: 'deploy-bot', role: 'OPERATOR' }, admin)).createApiKey;
    const op = operator.secret;
    await gqlData(app, Doc.CreateApplication, { name: 'smart-light' }, op);
    await gqlData(app, Doc.CreateApplicationVersion, { applicationName: 'smart-light', name: 'smart-light-v1' }, op);
    await gqlData(app, Doc.SetCommandSchema, { applicationVersion: 'smart-light-v1', commandType: 'light', schema: lightControllerSchema }, op);
    endpointId = (await gqlData(app, Doc.CreateEndpoint, { applicationVersion: 'smart-light-v1', name: 'hall lamp' }, op)).createEndpoint.endpoint.id;
    await gqlData(app, Doc.CreateEndpoint, { applicationVersion: 'smart-light-v1', name: 'porch lamp' }, op);
    const reboot = (await gqlData(app, Doc.InvokeCommand, { input: { endpointId, commandType: 'reboot', payload: { delay: 5 } } }, op)).invokeCommand;
    await gqlData(app, Doc.RerunCommand, { id: reboot.id }, op);
    const posted = await rest(app, 'POST', `/endpoints/${endpointId}/commands/blink?awaitTimeout=0`, { body: { times: 3 }, key: op });
    await rest(app, 'DELETE', `/endpoints/${endpointId}/commands/blink/${posted.body.id}`, { key: op });
    await gqlData(app, Doc.SetEndpointCredentials, { endpointId, username: 'hall-lamp', password: 'correct horse battery' }, op);
    await gqlData(app, Doc.RotateEndpointToken, { endpointId, token: null }, admin);
  });

  it('lists every action newest first, filters by action and by device, and pages', async () => {
    const page = await signIn(suite.browser, suite.app.url, suite.bootstrapKey);
    await waitLive(page);
    await page.getByRole('link', { name: 'Audit trail' }).click();
    await page.getByRole('heading', { name: 'Audit trail', exact: true }).waitFor();
    const rows = page.getByRole('region', { name: 'Audit entries' }).locator('tbody tr');
    // The 12 actions above and the bootstrap key, created by the server itself.
    await expect.poll(() => rows.count()).toBe(13);
    expect(await rows.first().getAttribute('data-action')).toBe('ENDPOINT_TOKEN_ROTATED');
    expect(await rows.last().getAttribute('data-action')).toBe('API_KEY_CREATED');
    expect(await rows.last().textContent()).toContain('the server');
    expect(await page.getByText('correct horse battery').count()).toBe(0);
    await screenshot(page, 'audit');

    await page.getByLabel('Action').selectOption({ label: 'Command canceled' });
    await expect.poll(() => rows.count()).toBe(1);
    expect(await rows.first().textContent()).toMatch(/deploy-bot\s*REST/);

    await page.getByLabel('Action').selectOption('');
    await page.getByLabel('Target type').selectOption({ label: 'Device' });
    await page.getByLabel('Target id').fill(endpointId);
    await expect.poll(() => rows.count()).toBe(3);
    expect(await rows.evaluateAll((trs) => trs.map((tr) => tr.getAttribute('data-action')))).toEqual([
      'ENDPOINT_TOKEN_ROTATED',
      'ENDPOINT_CREDENTIALS_SET',
      'ENDPOINT_CREATED',
    ]);
    expect(page.url()).toContain(`target=${endpointId}`);

    await page.getByRole('button', { name: 'Clear filters' }).click();
    await page.getByLabel('Actor').selectOption(operator.id);
    await expect.poll(() => rows.count()).toBe(10);
    await page.close();
  });

  it('pages through a longer trail', async () => {
    const { app } = suite;
    for (let i = 0; i < 45; i++) {
      await gqlData(app, Doc.InvokeCommand, { input: { endpointId, commandType: 'blink', payload: { i } } }, operator.secret);
    }
    const page = await signIn(suite.browser, suite.app.url, suite.bootstrapKey);
    await page.goto(`${suite.app.url}/audit`);
    const rows = page.getByRole('region', { name: 'Audit entries' }).locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(50);
    await page.getByRole('button', { name: 'Next →' }).click();
    await expect.poll(() => rows.count()).toBe(13 + 45 - 50);
    expect(await rows.last().getAttribute('data-action')).toBe('API_KEY_CREATED');
    await page.getByRole('button', { name: '← Previous' }).click();
    await expect.poll(() => rows.count()).toBe(50);
    await page.close();
  });

  it('an OPERATOR has no audit page', async () => {
    const page = await signIn(suite.browser, suite.app.url, operator.secret);
    await waitLive(page);
    expect(await page.getByRole('link', { name: 'Audit trail' }).count()).toBe(0);
    await page.goto(`${suite.app.url}/audit`);
    await page.getByRole('heading', { name: 'Devices', exact: true }).waitFor();
    await page.close();
  });
});
