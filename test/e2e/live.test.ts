// Live updates under load: 300 commands expiring together (a burst of 300 status changes well
// within a second or two) reach the fleet page without a reload, in a few batched renders rather
// than one render per event.
import { beforeAll, describe, expect, it } from 'vitest';
import { createEndpoint } from '../support/api.ts';
import { ADMIN_KEY } from '../support/app.ts';
import { consoleSuite, screenshot, signIn, skipBrowser, waitLive } from './browser.ts';

describe.skipIf(skipBrowser)('console: live updates', () => {
  const suite = consoleSuite();

  beforeAll(async () => {
  });

  /** Invokes commands 20 to an HTTP request (GraphQL batching), all expiring at `expireAt`. */
  async function invokeMany(endpointId: string, count: number, expireAt: number): Promise<void> {
    const query = 'mutation($input: InvokeCommandInput!) { invokeCommand(input: $input) { id } }';
    for (let start = 0; start < count; start += 20) {
      const retentionSeconds = Math.ceil((expireAt - Date.now()) / 1000);
      const batch = Array.from({ length: Math.min(20, count - start) }, (_, i) => ({
        query,
        variables: { input: { endpointId, commandType: `burst-${start + i}`, retentionSeconds } },
      }));
      const res = await fetch(`${suite.app.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
        body: JSON.stringify(batch),
      });
      const results = (await res.json()) as { errors?: unknown }[];
      expect(results.filter((r) => r.errors)).toEqual([]);
    }
  }

  it('shows 300 commands expiring at once on the fleet page, in batched renders', async () => {
    const fx = await createEndpoint(suite.app);
    const page = await signIn(suite.browser, suite.app.url, ADMIN_KEY);
    await page.goto(`${suite.app.url}/commands?app=${fx.application}`);
    await waitLive(page);
    const region = page.getByRole('region', { name: 'Fleet commands' });
    await region.getByText('No commands').waitFor();
    const expireAt = Date.now() + 25_000;
    await invokeMany(fx.endpointId, 300, expireAt);
    const pending = region.locator('tbody tr[data-status="PENDING"]');
    await expect.poll(() => pending.count(), { timeout: 20_000 }).toBe(300);
    expect(Date.now()).toBeLessThan(expireAt - 1000);

    // Counts DOM commits from here on: one MutationObserver callback per rendered batch.
    await page.evaluate(() => {
      const w = window as unknown as { commits: number };
      w.commits = 0;
      new MutationObserver(() => w.commits++).observe(document.querySelector('main')!, { childList: true, subtree: true, characterData: true });
    });
    const expired = region.locator('tbody tr[data-status="EXPIRED"]');
    await expect.poll(() => expired.count(), { timeout: expireAt - Date.now() + 15_000 }).toBe(300);
    const commits = await page.evaluate(() => (window as unknown as { commits: number }).commits);
    expect(commits).toBeLessThan(30);
    await screenshot(page, 'commands-live', false);
    await page.close();
  }, 75_000);
});
