// The device page shows the metadata a device published over kp1 epmx and lets an operator
// replace it; result status codes outside HTTP's range are shown as sent.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createEndpoint, invokeCommand } from '../support/api.ts';
import { ADMIN_KEY, gqlData } from '../support/app.ts';
import { consoleSuite, signIn, skipBrowser, waitLive } from './browser.ts';

describe.skipIf(skipBrowser)('console: device metadata and status codes', () => {
  const suite = consoleSuite();
  let page: Page;

  beforeAll(async () => {
    page = await signIn(suite.browser, suite.app.url, ADMIN_KEY);
  });

  it('shows the metadata the device published, and saves an edit', async () => {
    const fx = await createEndpoint(suite.app);
    const res = await fetch(`${suite.app.url}/kp1/${fx.appVersion}/epmx/${fx.token}/update/keys`, {
      method: 'POST',
      body: JSON.stringify({ model: 'X1', location: { lat: 1.5 } }),
    });
    expect(res.status).toBe(200);
    await page.goto(`${suite.app.url}/devices/${fx.endpointId}/settings`);
    await waitLive(page);
    const card = page.getByRole('region', { name: 'Metadata' });
    await expect.poll(() => card.textContent()).toContain('X1');
    expect(await card.textContent()).toContain('{"lat":1.5}');

    await card.getByRole('button', { name: 'Edit metadata' }).click();
    await card.getByRole('textbox').fill('{"model": "X2", "floor": 3}');
    await card.getByRole('button', { name: 'Save metadata' }).click();
    await expect.poll(() => card.getByRole('table', { name: 'Metadata entries' }).textContent()).toContain('X2');
    const stored = await gqlData(suite.app, 'query ($id: ID!) { endpoint(id: $id) { metadata } }', { id: fx.endpointId });
    expect(stored).toEqual({ endpoint: { metadata: { model: 'X2', floor: 3 } } });
  });

  it('shows status codes such as -1 and 1000 as sent, marked as not HTTP codes', async () => {
    const fx = await createEndpoint(suite.app);
    for (const statusCode of [-1, 1000, 404]) {
      const c = await invokeCommand(suite.app, fx.endpointId, 'probe');
      await fetch(`${suite.app.url}/kp1/${fx.appVersion}/cex/${fx.token}/result/probe`, {
        method: 'POST',
        body: JSON.stringify([{ id: Number(c.id), statusCode }]),
      });
    }
    await page.goto(`${suite.app.url}/devices/${fx.endpointId}/commands`);
    await waitLive(page);
    const rows = page.getByRole('region', { name: 'Commands history' }).locator('tbody tr');
    await expect.poll(() => rows.count()).toBe(3);
    const cells = async () =>
      rows.evaluateAll((trs) =>
        trs.map((tr) => {
          const cell = [...tr.querySelectorAll('td')].find((td) => /^-?\d+$/.test(td.textContent?.trim() ?? ''));
          return [cell?.textContent?.trim(), cell?.className ?? ''];
        }),
      );
    await expect.poll(cells).toEqual([
      ['404', 'code-bad'],
      ['1000', 'code-other'],
      ['-1', 'code-other'],
    ]);
  });
});
