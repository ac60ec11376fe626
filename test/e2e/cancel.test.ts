// Cancel in the console: a pending command's row has Cancel; it turns Canceled live, with who
// canceled it, and the button goes; who invoked each command is shown.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { commandById, createEndpoint, invokeCommand, type Fixture } from '../support/api.ts';
import { ADMIN_KEY } from '../support/app.ts';
import { consoleSuite, signIn, skipBrowser, waitLive } from './browser.ts';

describe.skipIf(skipBrowser)('console: cancel', () => {
  const suite = consoleSuite();
  let page: Page;
  let fx: Fixture;

  beforeAll(async () => {
    fx = await createEndpoint(suite.app);
    page = await signIn(suite.browser, suite.app.url, ADMIN_KEY);
  });

  it('cancels a pending command from its row; finished rows have no Cancel', async () => {
    const done = await invokeCommand(suite.app, fx.endpointId, 'reboot');
    await suite.app.services.commands.recordResults(fx.endpointId, 'reboot', [{ id: Number(done.id), statusCode: 200 }]);
    const pending = await invokeCommand(suite.app, fx.endpointId, 'reboot');
    await page.goto(`${suite.app.url}/devices/${fx.endpointId}`);
    await waitLive(page);

    const history = page.getByRole('region', { name: 'Commands history' });
    const row = history.locator(`tbody tr[data-command-id="${pending.id}"]`);
    const finished = history.locator(`tbody tr[data-command-id="${done.id}"]`);
    await expect.poll(() => row.textContent()).toContain('by ADMIN_API_KEY');
    expect(await finished.getByRole('button', { name: 'Cancel' }).count()).toBe(0);

    await row.getByRole('button', { name: 'Cancel' }).click();
    await expect.poll(() => row.getAttribute('data-status')).toBe('CANCELED');
    await expect.poll(() => row.textContent()).toContain('Canceled');
    expect(await row.textContent()).toContain('canceled');
    expect(await row.getByRole('button', { name: 'Cancel' }).count()).toBe(0);
    expect((await commandById(suite.app, pending.id)).status).toBe('CANCELED');
  });
});
