// The delivery timeline in the console: PENDING rows say whether the device got the command,
// the history filters by it, and a command's detail row shows its timeline with causes.
import { beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import type { App } from '../../src/app.ts';
import { graphql } from '../../src/graphql/typed.ts';
import { createEndpoint, invokeCommand, type Fixture } from '../support/api.ts';
import { ADMIN_KEY, gqlData, waitFor } from '../support/app.ts';
import { consoleSuite, screenshot, signIn, skipBrowser, waitLive } from './browser.ts';

const Delivery = graphql(`query DeliveryOf($id: ID!) { command(id: $id) { deliveryCount } }`);
const Cancel = graphql(`mutation CancelForConsole($id: ID!) { cancelCommand(id: $id) { id } }`);

async function poll(app: App, fx: Fixture, type: string): Promise<void> {
  const res = await fetch(`${app.url}/kp1/${fx.appVersion}/cex/${fx.token}/command/${type}`, { method: 'POST', body: '{}' });
  expect(res.status).toBe(200);
  await res.text();
}

async function delivered(app: App, id: string): Promise<void> {
  await waitFor(async () => ((await gqlData(app, Delivery, { id })).command!.deliveryCount > 0 ? true : undefined), 10_000);
}

describe.skipIf(skipBrowser)('console: delivery timeline', () => {
  const suite = consoleSuite();
  let page: Page;
  let fx: Fixture;

  beforeAll(async () => {
    fx = await createEndpoint(suite.app, { name: 'hall lamp' });
    page = await signIn(suite.browser, suite.app.url, ADMIN_KEY);
  });

  it('shows delivered / not delivered on PENDING rows, filters by it, and opens a timeline with causes', async () => {
    const { app } = suite;
    // A command canceled after delivery whose result still came: the whole story.
    const late = await invokeCommand(app, fx.endpointId, 'reboot', { delay: 5 });
    await poll(app, fx, 'reboot');
    await delivered(app, late.id);
    await gqlData(app, Cancel, { id: late.id });
    await app.services.commands.recordResults(fx.endpointId, 'reboot', [{ id: Number(late.id), statusCode: 200, reasonPhrase: 'OK' }]);
    const got = await invokeCommand(app, fx.endpointId, 'switch-light', { on: true });
    await poll(app, fx, 'switch-light');
    await delivered(app, got.id);
    const waiting = await invokeCommand(app, fx.endpointId, 'dim', { level: 40 });

    await page.goto(`${app.url}/devices/${fx.endpointId}`);
    await waitLive(page);
    const history = page.getByRole('region', { name: 'Commands history' });
    const row = (id: string) => history.locator(`tbody tr[data-command-id="${id}"]`);
    await expect.poll(() => row(got.id).textContent()).toContain('Delivered · HTTP');
    expect(await row(waiting.id).textContent()).toContain('Not delivered');
    expect(await row(late.id).textContent()).not.toContain('elivered');

    await history.getByLabel('Filter by delivery').selectOption('waiting');
    await expect.poll(() => history.locator('tbody tr[data-command-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-command-id')))).toEqual([
      waiting.id,
    ]);
    await history.getByLabel('Filter by delivery').selectOption('delivered');
    await expect.poll(() => history.locator('tbody tr[data-command-id]').evaluateAll((rows) => rows.map((r) => r.getAttribute('data-command-id')))).toEqual([
      got.id,
    ]);
    await history.getByLabel('Filter by delivery').selectOption('');

    await row(late.id).getByRole('button', { name: `Timeline of #${late.id}` }).click();
    const timeline = history.getByRole('region', { name: `Command #${late.id} timeline` }).locator('li');
    await expect.poll(() => timeline.evaluateAll((items) => items.map((i) => i.getAttribute('data-event')))).toEqual([
      'CREATED',
      'DELIVERED',
      'CANCELED',
      'LATE_RESULT',
    ]);
    const texts = await timeline.allTextContents();
    expect(texts[0]).toContain('by ADMIN_API_KEY');
    expect(texts[1]).toContain('over HTTP');
    expect(texts[2]).toContain('by ADMIN_API_KEY');
    expect(texts[3]).toContain('reported by hall lamp');
    await row(waiting.id).getByRole('button', { name: `Timeline of #${waiting.id}` }).click();
    await expect.poll(() => history.getByRole('region', { name: `Command #${waiting.id} timeline` }).textContent()).toContain('Never delivered');
    await screenshot(page, 'device-command-timeline');
    expect(suite.browser.problems).toEqual([]);
  });
});
