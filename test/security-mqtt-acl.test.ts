// Who may act in an endpoint's name over MQTT: the subscription ACL, publishing with another token, retain/Will/$SYS, error replies.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint, invokeCommand, revokeEndpoint, setEndpointCredentials } from './support/api.ts';
import { ADMIN_PRINCIPAL, startApp, unique, waitFor } from './support/app.ts';
import { commandStatus } from './support/db.ts';
import { bindDevice, closeDevices, commandsIn, connectDevice, kp1Topic, pushedTo } from './support/mqtt.ts';
import { connackOf } from './support/security.ts';
import { expectRefused, httpKp1 } from './support/security-mqtt.ts';

let app: App;

beforeAll(async () => {
  app = await startApp();
});
afterEach(() => closeDevices());
afterAll(async () => {
  await app?.stop();
});

describe('subscription ACL', () => {
  it('refuses every filter not pinned to a token the connection may use with SUBACK 0x80', async () => {
    const a = await createEndpoint(app);
    const foreign = await createEndpoint(app);
    const revoked = await createEndpoint(app, { appVersion: a.appVersion });
    await revokeEndpoint(app, revoked.endpointId);
    const locked = await createEndpoint(app, { appVersion: a.appVersion });
    await setEndpointCredentials(app, locked, unique('user'), 'locked-password');
    const device = await connectDevice(app);
    const v = a.appVersion;

    // The control: the connection's own token is granted (so the refusals below are the ACL).
    expect(await device.subscribe(kp1Topic(a, 'cex', '#'))).toBe(1);
    const refused = [
      '#',
      '+/#',
      'kp1/#',
      'kp1/+/cex/+/command/+',
      `kp1/${v}/cex/+/command/+/status`,
      `kp1/${v}/cex/${unique('unknown')}/#`,
      `kp1/${v}/cex/${foreign.token}/#`, // another application's token under this version
      `kp1/${v}/cex/${revoked.token}/#`,
      `kp1/${v}/cex/${locked.token}/#`, // needs credentials this connection did not present
      '$SYS/#',
      '$SYS/+/clients/connected',
    ];
    for (const filter of refused) expect(await device.subscribe(filter), filter).toBe(0x80);
    expect(device.closed).toBe(false);
  });

  it('1,000 commands for device B deliver nothing to device A, which subscribed to all it could', { timeout: 120_000 }, async () => {
    const N = 1000;
    const a = await createEndpoint(app);
    const b = await createEndpoint(app, { appVersion: a.appVersion });
    const deviceA = await connectDevice(app);
    const deviceB = await connectDevice(app);
    await bindDevice(deviceA, a);
    await bindDevice(deviceB, b);
    const v = a.appVersion;
    for (const filter of [kp1Topic(a, 'cex', '#'), kp1Topic(a, 'dcx', '#')]) expect(await deviceA.subscribe(filter)).toBe(1);
    for (const filter of ['#', '+/#', 'kp1/#', `kp1/${v}/#`, 'kp1/+/cex/+/command/+', `kp1/${v}/cex/+/command/x/status`, '$SYS/#']) {
      expect(await deviceA.subscribe(filter), filter).toBe(0x80);
    }
    const markA = deviceA.mark;
    const markB = deviceB.mark;

    const invoked = new Set<number>();
    for (let i = 0; i < N; i += 25) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(25, N - i) }, (_, j) =>
          app.services.commands.invoke(ADMIN_PRINCIPAL, { endpointId: b.endpointId, commandType: 'x', payload: { n: i + j } }),
        ),
      );
      for (const c of batch) invoked.add(c.id);
    }
    // One push per command, so B has them all once it has N messages since the mark.
    await deviceB.until((messages) => messages.length - markB >= N, 60_000);
    const toB = new Set<number>();
    for (const m of deviceB.messages.slice(markB)) for (const c of commandsIn(m.text)) toB.add(c.id);
    expect(toB).toEqual(invoked);

    // Everything for B went out before this push to A: once A has it, A has all it will get.
    const barrier = await pushedTo(deviceA, app, a, 'probe');
    const seenByA = deviceA.messages.slice(markA);
    expect(seenByA.map((m) => m.topic)).toEqual([kp1Topic(a, 'cex', 'command/probe/status')]);
    expect(commandsIn(seenByA[0]!.text).map((c) => c.id)).toEqual([barrier]);
  });
});

describe('the forwarding backstop', () => {
  // A persistent session's unacknowledged messages are sent again to whoever reconnects with its
  // client id: only the check on every outgoing message stands between a connection that merely
  // reuses the client id and the endpoint's commands.
  it("keeps an endpoint's commands from a reconnected session that has not presented its token", async () => {
    const a = await createEndpoint(app);
    const clientId = unique('persistent');
    const first = await connectDevice(app, { clientId, clean: false });
    await bindDevice(first, a);
    // From here on the device does not acknowledge what it receives (mqtt.js has no option for
    // that in MQTT 3.1.1): the push stays in the session's queue.
    const client = first.client as unknown as { _sendPacket: (packet: { cmd: string }, done?: () => void) => void };
    const sendPacket = client._sendPacket.bind(client);
    client._sendPacket = (packet, done) => (packet.cmd === 'puback' ? done?.() : sendPacket(packet, done));
    const command = await invokeCommand(app, a.endpointId, 'x');
    await first.until((messages) => messages.some((m) => m.text.includes(`"id":${command.id}`)));
    await first.client.endAsync(true);

    const stranger = await connectDevice(app, { clientId, clean: false });
    // The marker: an error reply the stranger asked for comes after what the session had queued.
    const reply = await stranger.request(`kp1/${a.appVersion}/cex/${unique('unknown')}/command/x`, '{}');
    expect(reply.json.statusCode).toBe(401);
    expect(stranger.messages.filter((m) => m.text.includes(`"id":${command.id}`))).toEqual([]);
    expect(stranger.messages.filter((m) => m.topic.includes(a.token))).toEqual([]);
  });
});

describe("publishing in another endpoint's name", () => {
  it('needs that endpoint\'s token: a wrong token gets 401 and changes nothing; the right one works', async () => {
    const a = await createEndpoint(app);
    const b = await createEndpoint(app, { appVersion: a.appVersion });
    const forB = await invokeCommand(app, b.endpointId, 'x');
    const result = JSON.stringify([{ id: Number(forB.id), statusCode: 200 }]);
    const deviceA = await connectDevice(app);
    await bindDevice(deviceA, a);

    for (const token of [`${b.token}x`, b.token.slice(0, -1), unique('guess')]) {
      await expectRefused(deviceA, kp1Topic({ ...b, token }, 'cex', 'result/x'), result, 401);
    }
    expect((await httpKp1(app, { ...b, token: `${b.token}x` }, 'result/x', result)).status).toBe(401);
    // A's own token does not reach B's commands either.
    expect((await deviceA.request(kp1Topic(a, 'cex', 'result/x'), result)).json).toMatchObject({ statusCode: 404 });
    expect(await commandStatus(forB.id)).toBe('PENDING');

    // The control: with B's token the very same message is accepted.
    expect((await deviceA.request(kp1Topic(b, 'cex', 'result/x'), result)).kind).toBe('status');
    expect(await commandStatus(forB.id)).toBe('EXECUTED');
  });

  it('refuses retained kp1 messages with a 400 reply, storing nothing', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'x');
    const device = await connectDevice(app);
    const result = JSON.stringify([{ id: Number(c.id), statusCode: 200 }]);
    await bindDevice(device, fx);
    const reply = await device.request(kp1Topic(fx, 'cex', 'result/x'), result, { retain: true });
    expect(reply.kind).toBe('error');
    expect(reply.json).toEqual({ statusCode: 400, reasonPhrase: 'Retained messages are not allowed on kp1 topics' });
    expect(await commandStatus(c.id)).toBe('PENDING');
    // Unbound, the same: refused, nothing stored.
    const unbound = await connectDevice(app);
    await expectRefused(unbound, kp1Topic(fx, 'cex', 'result/x'), result, 400, { retain: true });
    expect(await commandStatus(c.id)).toBe('PENDING');
    expect((await device.request(kp1Topic(fx, 'cex', 'result/x'), result)).kind).toBe('status');
  });

  it('acknowledges a publish to a non-kp1 topic or to a response topic and does nothing with it', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'x');
    const device = await connectDevice(app);
    const result = JSON.stringify([{ id: Number(c.id), statusCode: 200 }]);
    // QoS 1: each resolves on its PUBACK, and the connection stays open.
    await device.publish('devices/lamp/5', result, { qos: 1 });
    await device.publish(kp1Topic(fx, 'cex', 'result/x/6/status'), result, { qos: 1 });
    await device.publish(kp1Topic(fx, 'cex', 'result/x/7/error'), result, { qos: 1 });
    // A request after them is answered: had they been taken as requests, their replies would
    // have come first (one connection's requests are handled in order).
    expect((await device.request(kp1Topic(fx, 'cex', 'command/x'), '{}')).kind).toBe('status');
    expect(device.closed).toBe(false);
    expect(device.messages.filter((m) => !m.topic.includes('/command/x/'))).toEqual([]);
    expect(await commandStatus(c.id)).toBe('PENDING');
  });

  it('refuses a CONNECT with a Will on a kp1 topic before CONNACK; a Will elsewhere is accepted', async () => {
    const fx = await createEndpoint(app);
    const will = { topic: kp1Topic(fx, 'cex', 'result/x'), payload: Buffer.from('[]'), qos: 1 as const, retain: false };
    expect(await connackOf(app.mqttPort, { will })).toBe('closed');
    expect(await connackOf(app.mqttPort, { will: { ...will, topic: 'kp1' } })).toBe(0);
    expect(await connackOf(app.mqttPort, { will: { ...will, topic: 'devices/gone' } })).toBe(0);
  });

  it('disconnects a connection publishing to $SYS, and only that one', async () => {
    const fx = await createEndpoint(app);
    const bystander = await connectDevice(app);
    await bindDevice(bystander, fx);
    const offender = await connectDevice(app);
    // The control: a plain topic keeps the connection.
    await offender.publish('plain/topic', 'x');
    offender.client.publish('$SYS/broker/uptime', 'forged', { qos: 0 });
    await waitFor(() => offender.closed, 5_000, () => 'the $SYS publisher is still connected');
    await pushedTo(bystander, app, fx, 'probe');
    expect(bystander.closed).toBe(false);
  });
});

describe('error replies (kp1.md §1)', () => {
  // The authorizeForward backstop must let the server's own error reply through to a requester
  // that is not bound to the token in the topic (an unknown, revoked or mistyped token, or a
  // request refused before binding), or such a device never learns why it was refused.
  it('a connection using an unknown token gets its 401 error reply', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    const reply = await device.request(kp1Topic({ ...fx, token: unique('unknown') }, 'cex', 'command/x'), '{}', { ms: 3_000 });
    expect(reply.json).toEqual({ statusCode: 401, reasonPhrase: 'Unknown or revoked endpoint token' });
  });
});
