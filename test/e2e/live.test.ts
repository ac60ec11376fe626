// Live updates under load: 300 status changes in about three seconds reach the fleet page
// without a reload, in a few batched renders rather than one render per event.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../../src/app.ts';
import { ADMIN_KEY, createEndpoint, invoke, startApp } from '../support/app.ts';
import { launchBrowser, screenshot, signIn, skipBrowser, waitLive, type Browser } from './browser.ts';

describe.skipIf(skipBrowser)('console: live updates', () => {
  let app: App;
  let browser: Browser;

  beforeAll(async () => {
    app = await startApp();
    browser = await launchBrowser();
  });
  afterAll(async () => {
    const problems = browser?.problems ?? [];
    await browser?.close();
    await app?.stop();
    expect(problems).toEqual([]);
  });

  it('shows a burst of 300 new commands on the fleet page with batched renders', async () => {
    const fx = await createEndpoint(app);
    const page = await signIn(browser, app.url, ADMIN_KEY);
    await page.goto(`${app.url}/commands`);
    await waitLive(page);
    await page.getByText('No commands').first().waitFor();
    // Counts DOM commits to the page: one MutationObserver callback per rendered batch.
    await page.evaluate(() => {
      const w = window as unknown as { commits: number };
      w.commits = 0;
      new MutationObserver(() => w.commits++).observe(document.querySelector('main')!, { childList: true, subtree: true, characterData: true });
    });
    for (let round = 0; round < 30; round++) {
      const started = Date.now();
      await Promise.all(Array.from({ length: 10 }, (_, i) => invoke(app, fx.endpointId, `burst-${round}-${i}`)));
      await new Promise((r) => setTimeout(r, Math.max(0, 100 - (Date.now() - started))));
    }
    const rows = page.getByRole('region', { name: 'Fleet commands' }).locator('tbody tr');
    await expect.poll(() => rows.count(), { timeout: 20_000 }).toBe(300);
    const commits = await page.evaluate(() => (window as unknown as { commits: number }).commits);
    expect(commits).toBeLessThan(100);
    await screenshot(page, 'commands-live');
    await page.close();
  });
});
