// The live connection going down (the server restarts) shows in the header; when it comes back
// the page re-queries what it shows (events are not replayed), so a command created meanwhile
// (through another server on the same database) appears.
import { describe, expect, it } from 'vitest';
import { createEndpoint, invokeCommand } from '../support/api.ts';
import { ADMIN_KEY, startApp } from '../support/app.ts';
import { consoleSuite, signIn, skipBrowser, waitLive } from './browser.ts';

describe.skipIf(skipBrowser)('console: reconnecting', () => {
  const suite = consoleSuite();

  it('shows the live connection down, then catches up on reconnect', async () => {
    const fx = await createEndpoint(suite.app);
    const page = await signIn(suite.browser, suite.app.url, ADMIN_KEY);
    await page.goto(`${suite.app.url}/devices/${fx.endpointId}`);
    await waitLive(page);
    const history = page.getByRole('region', { name: 'Commands history' });
    await history.getByText('No commands yet').waitFor();

    const port = suite.app.httpPort;
    await suite.app.stop();
    const indicator = page.getByRole('status', { name: 'Live connection' });
    await expect.poll(() => indicator.getAttribute('data-state')).toBe('down');
    expect(await indicator.textContent()).toMatch(/disconnected/i);
    const other = await startApp();
    const missed = await invokeCommand(other, fx.endpointId, 'while-down');
    await other.stop();

    suite.app = await startApp({ port });
    await waitLive(page);
    await expect.poll(() => history.locator(`tr[data-command-id="${missed.id}"]`).count(), { timeout: 15_000 }).toBe(1);
    await page.close();
  });
});
