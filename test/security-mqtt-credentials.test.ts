// MQTT identity: client-id takeover, and per-endpoint MQTT credentials with password change, clearing and revocation.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { clearEndpointCredentials, createEndpoint, invokeCommand, revokeEndpoint, setEndpointCredentials } from './support/api.ts';
import { startApp, unique, waitFor } from './support/app.ts';
import { commandStatus } from './support/db.ts';
import { bindDevice, closeDevices, commandsIn, connectDevice, idsReceived, kp1Topic, pushedTo } from './support/mqtt.ts';
import { connackOf } from './support/security.ts';
import { BAD_USERNAME_OR_PASSWORD, IDENTIFIER_REJECTED, expectRefused, httpKp1, mqttJsConnect } from './support/security-mqtt.ts';

let app: App;

beforeAll(async () => {
  app = await startApp();
});
afterEach(() => closeDevices());
afterAll(async () => {
  await app?.stop();
});

describe('client-id takeover', () => {
  it('refuses a second connection with the client id of a bound device (CONNACK 2); the device keeps its pushes', async () => {
    const fx = await createEndpoint(app);
    const clientId = unique('dev');
    const device = await connectDevice(app, { clientId });
    await bindDevice(device, fx);

    expect(await connackOf(app.mqttPort, { clientId })).toBe(IDENTIFIER_REJECTED);
    expect(await mqttJsConnect(app, { clientId })).toBe(IDENTIFIER_REJECTED);
    expect(device.closed).toBe(false);
    await pushedTo(device, app, fx, 'probe');

    // The control: a client id of a connection that speaks for no endpoint is taken over as
    // MQTT says [MQTT-3.1.4-2] (the old connection is closed).
    const idle = unique('idle');
    const unbound = await connectDevice(app, { clientId: idle });
    expect(await mqttJsConnect(app, { clientId: idle })).toBe('connected');
    await waitFor(() => unbound.closed, 5_000);
  });

  it('with credentials set, only a connection authenticated as that endpoint takes the client id over', async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app, { appVersion: fx.appVersion });
    const creds = { username: unique('user'), password: 'device-password-1' };
    const otherCreds = { username: unique('user'), password: 'device-password-2' };
    await setEndpointCredentials(app, fx, creds.username, creds.password);
    await setEndpointCredentials(app, other, otherCreds.username, otherCreds.password);
    const clientId = unique('dev');
    const device = await connectDevice(app, { clientId, ...creds });
    await bindDevice(device, fx);

    expect(await connackOf(app.mqttPort, { clientId })).toBe(IDENTIFIER_REJECTED);
    expect(await connackOf(app.mqttPort, { clientId, username: otherCreds.username, password: Buffer.from(otherCreds.password) })).toBe(
      IDENTIFIER_REJECTED,
    );
    expect(await connackOf(app.mqttPort, { clientId, username: creds.username, password: Buffer.from('wrong-password') })).toBe(
      BAD_USERNAME_OR_PASSWORD,
    );
    expect(device.closed).toBe(false);
    await pushedTo(device, app, fx, 'probe');

    // The device itself, coming back over a new link before the broker noticed the old one died.
    const successor = await connectDevice(app, { clientId, ...creds });
    await waitFor(() => device.closed, 5_000, () => 'the old connection was not closed by the takeover');
    await bindDevice(successor, fx);
    await pushedTo(successor, app, fx, 'probe');
  });
});

describe('endpoint credentials', () => {
  it('after setEndpointCredentials the token alone is refused; the credentials work end to end over MQTT and HTTP', async () => {
    const fx = await createEndpoint(app);
    const creds = { username: unique('user'), password: 'correct horse battery' };
    const early = await connectDevice(app);
    await bindDevice(early, fx);

    await setEndpointCredentials(app, fx, creds.username, creds.password);
    await waitFor(() => early.closed, 5_000, () => 'the token-only session survived setEndpointCredentials');

    // The token alone: 401 over MQTT and HTTP, and a result sent with it changes nothing.
    const pending = await invokeCommand(app, fx.endpointId, 'x');
    const tokenOnly = await connectDevice(app);
    await expectRefused(tokenOnly, kp1Topic(fx, 'cex', 'command/x'), '{}', 401);
    await expectRefused(tokenOnly, kp1Topic(fx, 'cex', 'result/x'), JSON.stringify([{ id: Number(pending.id), statusCode: 200 }]), 401);
    expect(await commandStatus(pending.id)).toBe('PENDING');
    // Not bound either: the outstanding command was not pushed to it as a backlog.
    expect(idsReceived(tokenOnly, fx, 'x').size).toBe(0);
    const httpRefused = await httpKp1(app, fx, 'command/x', '{}');
    expect(httpRefused.status).toBe(401);
    expect(JSON.parse(httpRefused.text)).toMatchObject({ statusCode: 401 });

    // Wrong password or unknown username: CONNACK 4, for raw CONNECTs and for mqtt.js.
    expect(await connackOf(app.mqttPort, { username: creds.username, password: Buffer.from('wrong password') })).toBe(
      BAD_USERNAME_OR_PASSWORD,
    );
    expect(await connackOf(app.mqttPort, { username: unique('nobody'), password: Buffer.from(creds.password) })).toBe(
      BAD_USERNAME_OR_PASSWORD,
    );
    expect(await mqttJsConnect(app, { username: creds.username, password: 'wrong password' })).toBe(BAD_USERNAME_OR_PASSWORD);

    // The right credentials: request, push, result.
    const device = await connectDevice(app, creds);
    await bindDevice(device, fx);
    const id = await pushedTo(device, app, fx, 'reboot');
    const result = JSON.stringify([{ id, statusCode: 200, reasonPhrase: 'done' }]);
    expect((await device.request(kp1Topic(fx, 'cex', 'result/reboot'), result)).kind).toBe('status');
    expect(await commandStatus(id)).toBe('EXECUTED');

    // HTTP Basic with the same username and password works; a wrong one does not.
    const c = await invokeCommand(app, fx.endpointId, 'poll');
    const polled = await httpKp1(app, fx, 'command/poll', '{}', creds);
    expect(polled.status).toBe(200);
    expect(commandsIn(polled.text).map((x) => x.id)).toEqual([Number(c.id)]);
    const wrong = await httpKp1(app, fx, 'command/poll', '{}', { ...creds, password: 'wrong password' });
    expect(wrong.status).toBe(401);
    expect(JSON.parse(wrong.text)).toEqual({ statusCode: 401, reasonPhrase: 'This endpoint requires its credentials with the token' });
    expect((await httpKp1(app, fx, 'command/poll', '{}', { ...creds, username: unique('nobody') })).status).toBe(401);
    const done = JSON.stringify([{ id: Number(c.id), statusCode: 200 }]);
    expect((await httpKp1(app, fx, 'result/poll', done, { ...creds, password: 'wrong password' })).status).toBe(401);
    expect(await commandStatus(c.id)).toBe('PENDING');
    expect((await httpKp1(app, fx, 'result/poll', done, creds)).status).toBe(200);
    expect(await commandStatus(c.id)).toBe('EXECUTED');
  });

  it("one endpoint's credentials do not unlock another endpoint's token", async () => {
    const mine = await createEndpoint(app);
    const theirs = await createEndpoint(app, { appVersion: mine.appVersion });
    const myCreds = { username: unique('user'), password: 'my-password-1' };
    await setEndpointCredentials(app, mine, myCreds.username, myCreds.password);
    await setEndpointCredentials(app, theirs, unique('user'), 'their-password');
    const c = await invokeCommand(app, theirs.endpointId, 'x');
    const device = await connectDevice(app, myCreds);
    await bindDevice(device, mine);
    await expectRefused(device, kp1Topic(theirs, 'cex', 'result/x'), JSON.stringify([{ id: Number(c.id), statusCode: 200 }]), 401);
    expect((await httpKp1(app, theirs, 'command/x', '{}', myCreds)).status).toBe(401);
    expect(await commandStatus(c.id)).toBe('PENDING');
  });

  it('revokeEndpoint disconnects the live sessions at once; the revoked token then gets 401 and its credentials CONNACK 4', async () => {
    const fx = await createEndpoint(app);
    const locked = await createEndpoint(app, { appVersion: fx.appVersion });
    const bystanderFx = await createEndpoint(app, { appVersion: fx.appVersion });
    const creds = { username: unique('user'), password: 'locked-password' };
    await setEndpointCredentials(app, locked, creds.username, creds.password);
    const device = await connectDevice(app);
    await bindDevice(device, fx);
    const lockedDevice = await connectDevice(app, creds);
    await bindDevice(lockedDevice, locked);
    const bystander = await connectDevice(app);
    await bindDevice(bystander, bystanderFx);
    const before = await invokeCommand(app, fx.endpointId, 'x');

    for (const target of [fx, locked]) {
      await revokeEndpoint(app, target.endpointId);
    }
    await waitFor(() => device.closed && lockedDevice.closed, 5_000, () => 'a session of a revoked endpoint is still open');
    expect(bystander.closed).toBe(false);

    const again = await connectDevice(app);
    await expectRefused(again, kp1Topic(fx, 'cex', 'command/x'), '{}', 401);
    await expectRefused(again, kp1Topic(fx, 'cex', 'result/x'), JSON.stringify([{ id: Number(before.id), statusCode: 200 }]), 401);
    expect(await commandStatus(before.id)).toBe('PENDING');
    expect((await httpKp1(app, fx, 'command/x', '{}')).status).toBe(401);
    expect(await connackOf(app.mqttPort, { username: creds.username, password: Buffer.from(creds.password) })).toBe(
      BAD_USERNAME_OR_PASSWORD,
    );
    expect((await httpKp1(app, locked, 'command/x', '{}', creds)).status).toBe(401);
    await pushedTo(bystander, app, bystanderFx, 'probe');
  });

  it('changing the password disconnects the sessions; the old password is refused and the new one works', async () => {
    const fx = await createEndpoint(app);
    const username = unique('user');
    await setEndpointCredentials(app, fx, username, 'first-password');
    const device = await connectDevice(app, { username, password: 'first-password' });
    await bindDevice(device, fx);

    await setEndpointCredentials(app, fx, username, 'second-password');
    await waitFor(() => device.closed, 5_000, () => 'the session survived a password change');
    expect(await connackOf(app.mqttPort, { username, password: Buffer.from('first-password') })).toBe(BAD_USERNAME_OR_PASSWORD);
    expect((await httpKp1(app, fx, 'command/x', '{}', { username, password: 'first-password' })).status).toBe(401);
    const renewed = await connectDevice(app, { username, password: 'second-password' });
    await bindDevice(renewed, fx);
    await pushedTo(renewed, app, fx, 'probe');
  });

  it('clearing the credentials disconnects the sessions; the token alone works again', async () => {
    const fx = await createEndpoint(app);
    const creds = { username: unique('user'), password: 'some-password' };
    await setEndpointCredentials(app, fx, creds.username, creds.password);
    const device = await connectDevice(app, creds);
    await bindDevice(device, fx);

    expect((await clearEndpointCredentials(app, fx.endpointId)).mqttUsername).toBeNull();
    await waitFor(() => device.closed, 5_000, () => 'the session survived clearEndpointCredentials');
    expect(await connackOf(app.mqttPort, { username: creds.username, password: Buffer.from(creds.password) })).toBe(
      BAD_USERNAME_OR_PASSWORD,
    );
    const tokenOnly = await connectDevice(app);
    await bindDevice(tokenOnly, fx);
    await pushedTo(tokenOnly, app, fx, 'probe');
    expect((await httpKp1(app, fx, 'command/x', '{}')).status).toBe(200);
  });

  // A connection that authenticated with the old password but has not published yet is not
  // bound; the change closes it too (README: changed credentials end the endpoint's sessions).
  it('a connection authenticated with the old password but not yet bound is closed when the password changes', async () => {
    const fx = await createEndpoint(app);
    const username = unique('user');
    await setEndpointCredentials(app, fx, username, 'first-password');
    const stale = await connectDevice(app, { username, password: 'first-password' });

    await setEndpointCredentials(app, fx, username, 'second-password');
    await waitFor(() => stale.closed, 5_000, () => 'the connection logged in with the old password is still open');
  });
});
