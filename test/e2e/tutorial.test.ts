// The Kaa tutorial through the console: run reboot, a device polls over HTTP and reports, the
// history shows it live; re-run; a command left alone expires.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { commandById, createEndpoint, renameEndpoint, type Fixture } from '../support/api.ts';
import { ADMIN_KEY, unique } from '../support/app.ts';
import { consoleSuite, screenshot, signIn, skipBrowser, waitLive } from './browser.ts';

describe.skipIf(skipBrowser)('console: the tutorial', () => {
  const suite = consoleSuite();
  let page: Page;
  let fx: Fixture;
  let deviceName: string;

  beforeAll(async () => {
    fx = await createEndpoint(suite.app);
    deviceName = unique('hall-lamp');
    await renameEndpoint(suite.app, fx.endpointId, deviceName);
    page = await signIn(suite.browser, suite.app.url, ADMIN_KEY);
  });

  const poll = async (type: string) => {
    const res = await fetch(`${suite.app.url}/kp1/${fx.appVersion}/cex/${fx.token}/command/${type}`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(200);
    return (await res.json()) as { id: number; payload?: unknown }[];
  };

  it('signs in, finds the device, runs reboot for one hour; the HTTP device reports and the history shows it live', async () => {
    await expect.poll(() => page.getByTestId('role').textContent()).toBe('ADMIN');
    await page.getByLabel('Search devices').fill(deviceName);
    await page.getByRole('link', { name: deviceName }).click();
    await waitLive(page);
    await screenshot(page, 'device-commands-empty');

    const execution = page.getByRole('region', { name: 'Command execution' });
    await execution.getByLabel('Command type').fill('reboot');
    await execution.getByLabel('Maximum command retention for delivery').fill('1');
    await execution.getByLabel('Retention unit').selectOption('hours');
    await execution.getByLabel('Command body').fill('{"delay": 5}');
    await execution.getByRole('button', { name: 'Run' }).click();

    const history = page.getByRole('region', { name: 'Commands history' });
    const row = history.locator('tbody tr').first();
    await expect.poll(() => row.textContent()).toContain('Pending');
    const id = await row.getAttribute('data-command-id');
    const stored = await commandById(suite.app, id!);
    expect(stored.commandType).toBe('reboot');
    expect(stored.payload).toEqual({ delay: 5 });
    expect(Date.parse(stored.expiresAt) - Date.parse(stored.createdAt)).toBe(3600_000);

    // Every query the page makes after Run has finished: what follows can only arrive live.
    await page.waitForLoadState('networkidle');
    const commands = await poll('reboot');
    expect(commands).toEqual([{ id: Number(id), payload: { delay: 5 } }]);
    const result = await fetch(`${suite.app.url}/kp1/${fx.appVersion}/cex/${fx.token}/result/reboot`, {
      method: 'POST',
      body: JSON.stringify([{ id: Number(id), statusCode: 200, reasonPhrase: 'OK', payload: 'Success' }]),
    });
    expect(result.status).toBe(200);

    await expect.poll(() => row.getAttribute('data-status')).toBe('EXECUTED');
    const cells = row.locator('td');
    await expect.poll(() => row.textContent()).toContain('Executed');
    expect(await cells.nth(3).textContent()).toBe('200');
    expect(await cells.nth(4).textContent()).toBe('OK');
    await row.getByRole('button', { name: `Expand payload of #${id}` }).click();
    await row.getByRole('button', { name: `Expand result of #${id}` }).click();
    expect(JSON.parse((await cells.nth(5).locator('pre').textContent())!)).toEqual({ delay: 5 });
    expect(JSON.parse((await cells.nth(6).locator('pre').textContent())!)).toBe('Success');
    await screenshot(page, 'device-commands');
  });

  it('re-runs a command: a new Pending command linked to the original', async () => {
    const history = page.getByRole('region', { name: 'Commands history' });
    const original = history.locator('tbody tr[data-status="EXECUTED"]').first();
    const originalId = await original.getAttribute('data-command-id');
    await original.getByRole('button', { name: 'Re-run' }).click();

    const rerun = history.locator('tbody tr').first();
    await expect.poll(() => rerun.getAttribute('data-command-id')).not.toBe(originalId);
    await expect.poll(() => rerun.textContent()).toContain('Pending');
    const link = rerun.getByRole('link', { name: `#${originalId}` });
    expect(await link.getAttribute('href')).toBe(`#command-${originalId}`);
    const stored = await commandById(suite.app, (await rerun.getAttribute('data-command-id'))!);
    expect(stored.rerunOf).toEqual({ id: originalId });
    expect(stored.status).toBe('PENDING');
    await link.click();
    expect(new URL(page.url()).hash).toBe(`#command-${originalId}`);
  });

  it('shows a command left alone as Expired', async () => {
    const execution = page.getByRole('region', { name: 'Command execution' });
    await execution.getByLabel('Command type').fill('locate');
    await execution.getByLabel('Maximum command retention for delivery').fill('1');
    await execution.getByLabel('Retention unit').selectOption('seconds');
    await execution.getByLabel('Command body').fill('');
    await execution.getByRole('button', { name: 'Run' }).click();
    const history = page.getByRole('region', { name: 'Commands history' });
    const row = history.locator('tbody tr', { hasText: 'locate' }).first();
    await expect.poll(() => row.textContent()).toContain('Pending');
    await expect.poll(() => row.textContent(), { timeout: 10_000 }).toContain('Expired');
    expect(await row.getAttribute('data-status')).toBe('EXPIRED');
  });
});
