// The Device telemetry widget with an MQTT device answering `zero`, and the Command form widget
// generated from the LoRaWAN light-controller schema.
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { createEndpoint, setCommandSchema, type Fixture } from '../support/api.ts';
import { ADMIN_KEY } from '../support/app.ts';
import { lightControllerSchema } from '../support/fixtures.ts';
import { bindDevice, closeDevices, commandsIn, connectDevice, kp1Topic } from '../support/mqtt.ts';
import { consoleSuite, screenshot, signIn, skipBrowser, waitLive } from './browser.ts';

describe.skipIf(skipBrowser)('console: device widgets', () => {
  const suite = consoleSuite();
  let page: Page;

  beforeAll(async () => {
    page = await signIn(suite.browser, suite.app.url, ADMIN_KEY);
  });
  afterEach(() => closeDevices());

  const openDevice = async (fx: Fixture, tab = 'commands') => {
    await page.goto(`${suite.app.url}/devices/${fx.endpointId}/${tab}`);
    await waitLive(page);
  };

  it('an MQTT device answers `zero` and its zero telemetry appears in the chart, live', async () => {
    const fx = await createEndpoint(suite.app);
    const device = await connectDevice(suite.app);
    await bindDevice(device, fx, 'zero');
    await openDevice(fx);

    const execution = page.getByRole('region', { name: 'Command execution' });
    await execution.getByLabel('Command type').fill('zero');
    await execution.getByRole('button', { name: 'Run' }).click();
    const pushTopic = `${kp1Topic(fx, 'cex', 'command/zero')}/status`;
    const pushed = commandsIn((await device.next(pushTopic)).text);
    expect(pushed).toHaveLength(1);
    const id = pushed[0]!.id;
    await device.publish(kp1Topic(fx, 'cex', 'result/zero'), JSON.stringify([{ id, statusCode: 200, reasonPhrase: 'OK' }]));
    const row = page.getByRole('region', { name: 'Commands history' }).locator(`tr[data-command-id="${id}"]`);
    await expect.poll(() => row.getAttribute('data-status')).toBe('EXECUTED');

    await page.getByRole('tab', { name: 'Telemetry' }).click();
    const telemetry = page.getByRole('region', { name: 'Device telemetry' });
    await expect.poll(() => telemetry.textContent()).toContain('No telemetry yet');
    for (let i = 0; i < 3; i++) {
      await device.publish(kp1Topic(fx, 'dcx', 'json'), JSON.stringify({ temperature: 0, humidity: 0, timestamp: Date.now() - (3 - i) * 1000 }));
    }
    const chart = telemetry.getByTestId('telemetry-chart');
    await expect.poll(() => chart.getAttribute('data-fields')).toBe('humidity|temperature');
    await expect.poll(() => chart.getAttribute('data-points')).toBe('3');
    expect(await chart.locator('canvas').count()).toBeGreaterThan(0);
    const samples = telemetry.getByRole('table', { name: 'Last samples' }).locator('tbody tr');
    expect(await samples.count()).toBe(3);
    expect(await samples.first().textContent()).toContain('"temperature":0');
    await screenshot(page, 'device-telemetry');
  });

  const lightDevice = async () => {
    const fx = await createEndpoint(suite.app);
    await setCommandSchema(suite.app, fx.appVersion, 'light', lightControllerSchema);
    await openDevice(fx);
    return fx;
  };
  const httpPoll = async (fx: Fixture) => {
    const res = await fetch(`${suite.app.url}/kp1/${fx.appVersion}/cex/${fx.token}/command/light`, { method: 'POST', body: '{}' });
    return (await res.json()) as { id: number; payload: unknown }[];
  };

  it('the Command form composes exactly the light-controller payload the device receives', async () => {
    const fx = await lightDevice();
    const form = page.getByRole('region', { name: 'Command form' });
    await expect.poll(() => form.getByLabel('f_port').inputValue()).toBe('60');
    expect(await form.getByLabel('f_port').isEditable()).toBe(false);
    expect(await form.getByLabel('priority').locator('option:checked').textContent()).toBe('LOW');
    await form.getByLabel('priority').selectOption('NORMAL');
    await form.getByLabel('output_mode').selectOption('blinking');
    await form.getByLabel('dimming').fill('50');
    await form.getByLabel('Blink period (s)').fill('5');
    await screenshot(page, 'device-command-form');
    await form.getByRole('button', { name: 'Send' }).click();

    const history = page.getByRole('region', { name: 'Commands history' });
    await expect.poll(() => history.locator('tbody tr').count()).toBe(1);
    const commands = await httpPoll(fx);
    expect(commands).toHaveLength(1);
    expect(commands[0]!.payload).toStrictEqual({
      f_port: 60,
      priority: 'NORMAL',
      confirmed: 'false',
      command: 'dimming',
      output_mode: 'blinking',
      dimming: 50,
      period_s: 5,
    });
  });

  it('refuses blinking without period_s next to the field, before sending', async () => {
    const fx = await lightDevice();
    const form = page.getByRole('region', { name: 'Command form' });
    await form.getByLabel('output_mode').selectOption('blinking');
    await form.getByLabel('dimming').fill('50');
    await form.getByRole('button', { name: 'Send' }).click();
    const periodErrors = form.locator('#command_period_s__error');
    await expect.poll(() => periodErrors.textContent()).toMatch(/required property 'Blink period \(s\)'/);
    expect(await form.locator('.error-detail li').count()).toBe(1);
    await screenshot(page, 'device-command-form-error');
    expect(await httpPoll(fx)).toEqual([]);
    await form.getByLabel('Blink period (s)').fill('5');
    await expect.poll(() => form.locator('.error-detail li').count()).toBe(0);
  });
});
