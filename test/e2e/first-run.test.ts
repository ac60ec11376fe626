// The README's tutorial as a new user does it, on a server with no data of its own: sign in with the
// printed key, create an application and a version, a device with a chosen token, run reboot, and a
// device polls over HTTP with that token and gets it. No GraphQL and no curl on the operator's side.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { consoleSuite, screenshot, signIn, skipBrowser, waitLive } from './browser.ts';

/** Vertical space between two stacked elements. */
async function gapBetween(above: Locator, below: Locator): Promise<number> {
  const a = (await above.boundingBox())!;
  const b = (await below.boundingBox())!;
  return b.y - (a.y + a.height);
}

describe.skipIf(skipBrowser)('console: first run on an empty server', () => {
  const suite = consoleSuite({ fresh: true });
  let page: Page;

  beforeAll(async () => {
    page = await signIn(suite.browser, suite.app.url, suite.bootstrapKey);
  });

  it('guides from the empty device list to Applications when there is no application version', async () => {
    expect(new URL(page.url()).pathname).toBe('/devices');
    const empty = page.locator('.empty', { hasText: 'No devices yet' });
    await expect.poll(() => empty.textContent()).toContain('First create an application and a version under Applications');
    await screenshot(page, 'first-run-devices-empty');

    await page.getByRole('button', { name: 'New device' }).click();
    const noVersion = page.getByRole('region', { name: 'New device' });
    expect(await noVersion.textContent()).toContain('Create an application and a version first.');
    await screenshot(page, 'first-run-new-device-no-version');
    await noVersion.getByRole('link', { name: 'Go to Applications' }).click();
    expect(new URL(page.url()).pathname).toBe('/applications');
  });

  it('adds an application and a version under Applications', async () => {
    const list = page.getByRole('complementary', { name: 'Applications list' });
    await expect.poll(() => list.textContent()).toContain('No applications yet');
    await screenshot(page, 'first-run-applications-empty');
    await list.getByLabel('New application name').fill('hall-lamps');
    await list.getByRole('button', { name: 'Add application' }).click();
    await list.getByLabel('New version of hall-lamps').fill('hall-lamps-v1');
    await list.getByRole('button', { name: 'Add version' }).click();
    await list.getByRole('link', { name: /hall-lamps-v1/ }).waitFor();
    await screenshot(page, 'first-run-applications');
  });

  it('creates a device with a chosen token, shows the token once and opens the device', async () => {
    const next = page.locator('.empty', { hasText: 'Pick a version' });
    await next.getByRole('link', { name: 'Devices' }).click();
    await expect.poll(() => page.locator('.empty').textContent()).toContain('Create a device');
    await page.getByRole('button', { name: 'New device' }).click();

    const form = page.getByRole('form', { name: 'New device' });
    expect(await form.getByLabel('Application version').inputValue()).toBe('hall-lamps-v1');
    await form.getByLabel('Name').fill('hall lamp');
    expect(await form.getByLabel('Token').getAttribute('placeholder')).toBe('generated when empty');
    await form.getByLabel('Token').fill('hall-lamp-1');
    // Fields and buttons stacked with room between them, not touching.
    expect(await gapBetween(form.getByLabel('Application version'), form.getByText('Name', { exact: true }))).toBeGreaterThanOrEqual(8);
    expect(await gapBetween(form.getByLabel('Token'), form.getByRole('button', { name: 'Create device' }))).toBeGreaterThanOrEqual(8);
    await screenshot(page, 'first-run-new-device');

    await form.getByRole('button', { name: 'Create device' }).click();
    const created = page.getByRole('region', { name: 'Device created' });
    expect(await created.getByTestId('secret').textContent()).toBe('hall-lamp-1');
    // The list below shows the new device at once (an empty list held no endpoint to invalidate), not after the 15 s refresh.
    await page.getByRole('cell', { name: 'hall lamp' }).waitFor({ timeout: 3000 });
    await screenshot(page, 'first-run-device-created');
    await created.getByRole('link', { name: 'Open hall lamp' }).click();
    await expect.poll(() => new URL(page.url()).pathname).toMatch(/^\/devices\/[0-9a-f-]{36}$/);
    await page.getByRole('heading', { name: 'hall lamp' }).waitFor();
  });

  it('runs reboot; a device polling over HTTP with the chosen token gets it and reports', async () => {
    await waitLive(page);
    const execution = page.getByRole('region', { name: 'Command execution' });
    await execution.getByLabel('Command type').fill('reboot');
    await execution.getByLabel('Maximum command retention for delivery').fill('1');
    await execution.getByLabel('Retention unit').selectOption('hours');
    await execution.getByRole('button', { name: 'Run' }).click();
    const row = page.getByRole('region', { name: 'Commands history' }).locator('tbody tr').first();
    await expect.poll(() => row.textContent()).toContain('Pending');
    const id = Number(await row.getAttribute('data-command-id'));

    const kp1 = `${suite.app.url}/kp1/hall-lamps-v1/cex/hall-lamp-1`;
    const poll = await fetch(`${kp1}/command/reboot`, { method: 'POST', body: '{}' });
    expect(poll.status).toBe(200);
    expect(await poll.json()).toEqual([{ id }]);
    const report = await fetch(`${kp1}/result/reboot`, {
      method: 'POST',
      body: JSON.stringify([{ id, statusCode: 200, reasonPhrase: 'OK', payload: 'Success' }]),
    });
    expect(report.status).toBe(200);
    await expect.poll(() => row.getAttribute('data-status')).toBe('EXECUTED');
    await screenshot(page, 'first-run-device-commands');
  });
});
