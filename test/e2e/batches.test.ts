// Bulk invoke in the console: from an application version, send one command to all its devices;
// the batch page follows progress live (counts, status codes, skipped) and cancels what is pending.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { revokeEndpoint, type Fixture } from '../support/api.ts';
import { ADMIN_KEY } from '../support/app.ts';
import { createFleet } from '../support/batches.ts';
import { kp1 } from '../support/devices-concurrency.ts';
import { commandsIn } from '../support/mqtt.ts';
import { consoleSuite, screenshot, signIn, skipBrowser, waitLive } from './browser.ts';

describe.skipIf(skipBrowser)('console: batches', () => {
  const suite = consoleSuite();
  let page: Page;
  let fleet: Fixture[];

  beforeAll(async () => {
    fleet = await createFleet(suite.app, 8, { names: (i) => `lamp-${String(i + 1).padStart(2, '0')}` });
    await revokeEndpoint(suite.app, fleet[7]!.endpointId);
    page = await signIn(suite.browser, suite.app.url, ADMIN_KEY);
  });

  it('sends a command to every device of a version and shows its progress live, then cancels the rest', async () => {
    await page.goto(`${suite.app.url}/applications/${fleet[0]!.appVersion}`);
    await page.getByRole('link', { name: 'Send a command to all its devices' }).click();
    const form = page.getByRole('form', { name: 'Send to many devices' });
    await expect.poll(() => form.getByLabel('Application version').inputValue()).toBe(fleet[0]!.appVersion);
    await form.getByLabel('Command type').fill('blink');
    await form.getByLabel(/Payload/).fill('{"times": 3}');
    await form.getByRole('button', { name: 'Send command' }).click();
    await page.waitForURL(/\/batches\/[0-9a-f-]{36}$/);
    await waitLive(page);
    await expect.poll(() => page.getByTestId('count-pending').textContent()).toBe('7');
    expect(await page.getByTestId('count-skipped').textContent()).toBe('1');

    // Four devices answer (three 200, one 500) over kp1 HTTP: the page follows without a reload.
    for (const [i, code] of [[0, 200], [1, 200], [2, 200], [3, 500]] as const) {
      const [c] = commandsIn((await kp1(suite.app, fleet[i]!, 'command/blink', {})).text);
      await kp1(suite.app, fleet[i]!, 'result/blink', [{ id: c!.id, statusCode: code }]);
    }
    await expect.poll(() => page.getByTestId('count-executed').textContent()).toBe('4');
    await expect.poll(() => page.getByRole('progressbar', { name: 'Batch progress' }).getAttribute('aria-valuenow')).toBe('4');
    expect(await page.locator('.chip.code-2xx').textContent()).toContain('200');
    await page.getByText('1 skipped device').click();
    await screenshot(page, 'batch-progress');

    await page.getByRole('button', { name: 'Cancel batch' }).click();
    await expect.poll(() => page.getByTestId('count-canceled').textContent()).toBe('3');
    expect(await page.getByTestId('count-pending').textContent()).toBe('0');
    await expect.poll(() => page.getByRole('button', { name: 'Cancel batch' }).isDisabled()).toBe(true);
    expect(await page.getByRole('region', { name: 'Batch commands' }).locator('tbody tr').count()).toBe(7);

    await page.getByRole('link', { name: 'Batches' }).first().click();
    const list = page.getByRole('region', { name: 'Batches' });
    await expect.poll(() => list.locator('tbody tr').first().textContent()).toContain('blink');
    expect(await list.locator('tbody tr').first().textContent()).toContain(`version ${fleet[0]!.appVersion}`);
    await screenshot(page, 'batches-list');
  });
});
