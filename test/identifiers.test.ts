// Identifiers an operator creates are the ones devices can use: a token createEndpoint accepts
// works in real device requests (HTTP and MQTT), and a token the kp1 grammar would refuse is
// refused when the endpoint is created, not by every request of the device later.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint } from './support/api.ts';
import { gql, startApp, unique } from './support/app.ts';
import { CreateApplicationVersion, CreateEndpoint, InvokeCommand } from './support/documents.ts';
import { closeDevices, connectDevice, kp1Topic } from './support/mqtt.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(async () => {
  await closeDevices();
  await app.stop();
});

async function createWithToken(token: string) {
  const fx = await createEndpoint(app);
  const res = await gql(app, CreateEndpoint, { applicationVersion: fx.appVersion, token });
  return { fx, res };
}

function httpPoll(appVersion: string, token: string) {
  const path = `/kp1/${encodeURIComponent(appVersion)}/cex/${encodeURIComponent(token)}/command/reboot`;
  return fetch(`${app.url}${path}`, { method: 'POST', body: '{}' });
}

describe('endpoint tokens', () => {
  it.each([
    ['a C1 control character', 'dev\u0090x'],
    ['a lone surrogate', 'dev\ud800x'],
    ['129 UTF-16 code units made of 65 emoji', '\u{1F600}'.repeat(64) + 'x'],
    ['a no-break space', 'dev\u00a0x'],
  ])('refuses a token with %s when the endpoint is created', async (_why, token) => {
    const { res } = await createWithToken(token);
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'token' });
  });

  it.each([
    ['ASCII punctuation', `dev:${unique('x')}~!$&'()*,;=@[]`],
    ['letters beyond ASCII', `gerät-ключ-${unique('x')}`],
    ['an emoji', `\u{1F600}-${unique('x')}`],
    ['a percent sign and a question mark', `100%?${unique('x')}`],
    ['128 UTF-16 code units', `${unique('t')}-`.padEnd(126, 'x') + '\u{1F600}'],
  ])('a token with %s works over HTTP and MQTT', async (_why, token) => {
    const { fx, res } = await createWithToken(token);
    expect(res.errors).toBeUndefined();
    expect(res.data?.createEndpoint.token).toBe(token);

    const http = await httpPoll(fx.appVersion, token);
    expect(http.status).toBe(200);
    expect(await http.json()).toEqual([]);

    const device = await connectDevice(app);
    const reply = await device.request(kp1Topic({ appVersion: fx.appVersion, token }, 'cex', 'command/reboot'), '{}');
    expect(reply).toMatchObject({ kind: 'status', json: [] });
  });
});

describe('command types and version names', () => {
  it('a command type over 128 characters is refused by operators and devices alike', async () => {
    const fx = await createEndpoint(app);
    const type = 'x'.repeat(129);
    const invoked = await gql(app, InvokeCommand, { input: { endpointId: fx.endpointId, commandType: type } });
    expect(invoked.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    const res = await fetch(`${app.url}/kp1/${fx.appVersion}/cex/${fx.token}/command/${type}`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(400);
  });

  it('a version name over 64 characters is malformed for devices too (400, not an unknown version)', async () => {
    const fx = await createEndpoint(app);
    const name = 'v'.repeat(65);
    const created = await gql(app, CreateApplicationVersion, { applicationName: fx.application, name });
    expect(created.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect((await httpPoll(name, fx.token)).status).toBe(400);
    expect((await httpPoll('v'.repeat(64), fx.token)).status).toBe(404);
  });
});
