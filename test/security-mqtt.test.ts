// Security and abuse resistance of the MQTT listener (the issue's points 1-5): packet size cap,
// connect timeout, keepalive and per-address limits, publish rate, the subscription ACL, who may
// publish in an endpoint's name, client-id takeover, and per-endpoint MQTT credentials with
// revocation. Each test asserts the exact refusal (a closed socket before any CONNACK, a CONNACK
// return code, a kp1 401, SUBACK 0x80), and where it matters a control shows that the same
// request without the offending part goes through, so the refusal is the protection at work.
import mqtt, { type IClientOptions } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { Principal } from '../src/domain/types.ts';
import {
  clearEndpointCredentials,
  createEndpoint,
  type Fixture,
  invokeCommand,
  revokeEndpoint,
  setEndpointCredentials,
} from './support/api.ts';
import { startApp, testConfig, unique, waitFor } from './support/app.ts';
import { commandStatus } from './support/db.ts';
import { bindDevice, closeDevices, commandsIn, connectDevice, idsReceived, kp1Topic, pushedTo, type Device } from './support/mqtt.ts';
import {
  CONNECT_HEADER,
  MiB,
  PUBLISH_HEADER,
  RawMqtt,
  announce,
  connackOf,
  connectPacket,
  connectedRaw,
  retainedMemory,
  sleep,
} from './support/security.ts';

const ADMIN: Principal = { keyId: 'test', name: 'test', role: 'ADMIN' };
/** CONNACK return codes [MQTT-3.2.2.3]. */
const IDENTIFIER_REJECTED = 2;
const BAD_USERNAME_OR_PASSWORD = 4;

let app: App;
// Opened first so that the connect-timeout test at the end of the file does not wait on its own.
let silent: RawMqtt;
let partial: RawMqtt;

beforeAll(async () => {
  app = await startApp();
  silent = await RawMqtt.open(app.mqttPort);
  partial = await RawMqtt.open(app.mqttPort);
  // The first bytes of a valid CONNECT, and then nothing (a slowloris).
  partial.write(mqttPacket.generate(connectPacket()).subarray(0, 8));
});
afterEach(() => closeDevices());
afterAll(async () => {
  silent?.destroy();
  partial?.destroy();
  await app?.stop();
});

/**
 * Sends a kp1 request (QoS 1 with a request id) that must be refused. Its PUBACK comes after the
 * dispatch, so whatever it stored is visible when this returns; callers check that nothing was.
 * The error reply, with `statusCode`, must reach the requester even when it is not bound to the
 * topic's token.
 */
async function expectRefused(
  device: Device,
  topic: string,
  payload: string,
  statusCode: number,
  opts: { retain?: boolean } = {},
): Promise<void> {
  const reply = await device.request(topic, payload, { ms: 5_000, retain: opts.retain });
  expect(reply.kind, reply.text).toBe('error');
  expect(reply.json).toMatchObject({ statusCode });
}

/** A kp1 HTTP request, optionally with HTTP Basic credentials. */
async function httpKp1(
  target: App,
  fx: Fixture,
  resource: string,
  body: string,
  basic?: { username: string; password: string },
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  if (basic) headers['authorization'] = `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString('base64')}`;
  const res = await fetch(`${target.url}/kp1/${fx.appVersion}/cex/${fx.token}/${resource}`, { method: 'POST', body, headers });
  return { status: res.status, text: await res.text() };
}

/** What a real client (mqtt.js) gets for a CONNECT: 'connected', or the CONNACK code / 'closed'. */
async function mqttJsConnect(target: App, opts: IClientOptions): Promise<'connected' | number | 'closed'> {
  try {
    const client = await mqtt.connectAsync(target.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, ...opts }, false);
    await client.endAsync(true);
    return 'connected';
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'number' ? code : 'closed';
  }
}

describe('packet size cap', () => {
  it('closes a socket announcing a 100 MB CONNECT from its first bytes, without a CONNACK', async () => {
    const raw = await RawMqtt.open(app.mqttPort);
    raw.write(announce(CONNECT_HEADER, 100_000_000));
    // Without the cap aedes would wait for the 100 MB (until its 10 s connect timeout).
    expect(await raw.closedWithin(3_000)).toBe(true);
    expect(raw.packets).toEqual([]);
  });

  it('refuses a CONNECT just over 8 KiB, while one under it is processed', async () => {
    // A long username makes the CONNECT big; the credentials are unknown, so a processed
    // CONNECT gets CONNACK 4 and a capped one gets no CONNACK at all.
    expect(await connackOf(app.mqttPort, { username: 'u'.repeat(7 * 1024), password: Buffer.from('whatever1') })).toBe(
      BAD_USERNAME_OR_PASSWORD,
    );
    expect(await connackOf(app.mqttPort, { username: 'u'.repeat(9 * 1024), password: Buffer.from('whatever1') })).toBe('closed');
  });

  it('closes a connected socket announcing a 1 MB PUBLISH', async () => {
    const raw = await connectedRaw(app.mqttPort);
    raw.write(announce(PUBLISH_HEADER, MiB));
    expect(await raw.closedWithin(3_000)).toBe(true);
  });

  it('processes a PUBLISH up to maxDeviceMessageBytes + 1 KiB and drops the connection above it', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    const limit = app.config.maxDeviceMessageBytes;
    // A body just at the kp1 limit is stored (it is one telemetry sample).
    const body = JSON.stringify({ blob: 'b'.repeat(limit - 20) });
    expect(Buffer.byteLength(body)).toBeLessThanOrEqual(limit);
    expect((await device.request(kp1Topic(fx, 'dcx', 'json'), body)).kind).toBe('status');
    // A packet over the cap is not answered with 413: the connection is closed.
    device.client.publish(kp1Topic(fx, 'dcx', 'json/1'), Buffer.alloc(limit + 2048, 0x20), { qos: 0 });
    await waitFor(() => device.closed, 5_000, () => 'the connection survived an oversized PUBLISH');
  });

  it('five sockets streaming oversized packets slowly are closed at once and do not grow memory', async () => {
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    const perSocket = 20 * MiB; // 100 MB in all, which the server would buffer without the cap
    const before = retainedMemory();
    const streams = await Promise.all(
      Array.from({ length: 5 }, async (_, i) => {
        // Two before CONNECT (a huge CONNECT), three after it (a huge PUBLISH).
        const raw = i < 2 ? await RawMqtt.open(app.mqttPort) : await connectedRaw(app.mqttPort);
        raw.write(announce(i < 2 ? CONNECT_HEADER : PUBLISH_HEADER, 200 * MiB));
        let offered = 0;
        const deadline = Date.now() + 2_000;
        while (!raw.closed && offered < perSocket && Date.now() < deadline) {
          raw.write(chunk);
          offered += chunk.length;
          await sleep(10);
        }
        return { raw, offered, closed: await raw.closedWithin(3_000) };
      }),
    );
    // Measured while the sockets would still be open without the cap (the server would hold
    // what they sent).
    const after = retainedMemory();
    for (const { raw } of streams) raw.destroy();
    expect(streams.map((s) => s.closed)).toEqual([true, true, true, true, true]);
    // Closed from the header on: the senders got only a few chunks out before the close.
    for (const s of streams) expect(s.offered).toBeLessThan(perSocket / 2);
    expect((after.arrayBuffers - before.arrayBuffers) / MiB).toBeLessThan(16);
    expect((after.rss - before.rss) / MiB).toBeLessThan(48);
    // And the broker keeps serving.
    expect(await connackOf(app.mqttPort)).toBe(0);
  });
});

describe('keepalive and publish rate', () => {
  let limited: App;
  beforeAll(async () => {
    limited = await startApp({ mqtt: { ...testConfig().mqtt, maxPublishesPerSecond: 10, maxKeepaliveSeconds: 60 } });
  });
  afterAll(() => limited?.stop());

  it('refuses a keepalive above maxKeepaliveSeconds before CONNACK; the limit itself is accepted', async () => {
    expect(await connackOf(limited.mqttPort, { keepalive: 61 })).toBe('closed');
    expect(await connackOf(limited.mqttPort, { keepalive: 65535 })).toBe('closed');
    expect(await connackOf(limited.mqttPort, { keepalive: 60 })).toBe(0);
    // mqtt.js's default keepalive is 60: a real client with 3600 is refused.
    expect(await mqttJsConnect(limited, { keepalive: 3600 })).toBe('closed');
    expect(await mqttJsConnect(limited, { keepalive: 60 })).toBe('connected');
  });

  it('disconnects a connection publishing above the rate while a polite one stays', async () => {
    const fx = await createEndpoint(limited);
    const polite = await connectDevice(limited, { keepalive: 60 });
    const flooder = await connectDevice(limited, { keepalive: 60 });
    await bindDevice(polite, fx);

    // The polite one keeps to ~8 publishes per second for longer than a burst (2 × 10) lasts ...
    const politeRun = (async () => {
      for (let i = 0; i < 30; i++) {
        await polite.publish(`polite/${i}`, 'x');
        await sleep(120);
      }
    })();
    // ... while the flooder sends 100 at once.
    for (let i = 0; i < 100; i++) flooder.client.publish(`flood/${i}`, 'x', { qos: 0 });
    await waitFor(() => flooder.closed, 5_000, () => 'the flooder is still connected');
    await politeRun;
    expect(polite.closed).toBe(false);
    await pushedTo(polite, limited, fx, 'probe');
  });

  it('the same 100 publishes are fine under the default rate (the refusal above is the rate limit)', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    for (let i = 0; i < 100; i++) device.client.publish(`flood/${i}`, 'x', { qos: 0 });
    await bindDevice(device, fx);
    expect(device.closed).toBe(false);
  });

  // Every SUBSCRIBE filter pinned to a token costs a database lookup: SUBSCRIBE takes from the
  // same bucket as PUBLISH.
  it('disconnects a connection sending SUBSCRIBEs above the rate', async () => {
    const fx = await createEndpoint(limited);
    const device = await connectDevice(limited, { keepalive: 60 });
    const filter = kp1Topic(fx, 'cex', 'command/x/status');
    for (let i = 0; i < 100; i++) device.client.subscribe(filter, { qos: 0 });
    await waitFor(() => device.closed, 3_000, () => 'the SUBSCRIBE flooder is still connected');
  });
});

describe('connections per source address', () => {
  let capped: App;
  beforeAll(async () => {
    capped = await startApp({ mqtt: { ...testConfig().mqtt, maxConnectionsPerAddress: 5 } });
  });
  afterAll(() => capped?.stop());

  it('with a limit of 5, the sixth connection from 127.0.0.1 is closed while the first five work', async () => {
    const fx = await createEndpoint(capped);
    const devices: Device[] = [];
    for (let i = 0; i < 5; i++) devices.push(await connectDevice(capped));
    for (const device of devices) {
      const reply = await device.request(kp1Topic(fx, 'cex', 'command/x'), '{}');
      expect(reply.kind).toBe('status');
    }
    // Closed before any MQTT is read: no CONNACK.
    expect(await connackOf(capped.mqttPort)).toBe('closed');
    expect(await mqttJsConnect(capped, {})).toBe('closed');
    for (const device of devices) expect(device.closed).toBe(false);

    // A slot frees when a connection closes (the count is not a one-way ratchet).
    await devices[0]!.close();
    await waitFor(async () => (await connackOf(capped.mqttPort)) === 0, 5_000);
  });
});

describe('keepalive 0', () => {
  let strict: App;
  beforeAll(async () => {
    strict = await startApp({ mqtt: { ...testConfig().mqtt, maxKeepaliveSeconds: 1 } });
  });
  afterAll(() => strict?.stop());

  it('a silent connection with keepalive 1 is dropped after 1.5 s (aedes), as the limit intends', async () => {
    const raw = await connectedRaw(strict.mqttPort, { keepalive: 1 });
    expect(await raw.closedWithin(4_000)).toBe(true);
  });

  // Keepalive 0 means "no keepalive" [MQTT-3.1.2-24]; the server holds such a connection to
  // 1.5 × maxKeepaliveSeconds of silence anyway (accepted, so devices that ask for 0 still work).
  it('a connection asking for keepalive 0 is accepted, and dropped when silent beyond the limit', async () => {
    const raw = await connectedRaw(strict.mqttPort, { keepalive: 0 });
    const dropped = await raw.closedWithin(3_500);
    raw.destroy();
    expect(dropped).toBe(true);
  });
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
          app.services.commands.invoke(ADMIN, { endpointId: b.endpointId, commandType: 'x', payload: { n: i + j } }),
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
    expect((await httpKp1(app, fx, 'command/poll', '{}', { ...creds, password: 'wrong password' })).status).toBe(401);
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
  // bound; it must not survive the change with its login still counting for the endpoint.
  it('a connection authenticated with the old password but not yet bound loses access when the password changes', async () => {
    const fx = await createEndpoint(app);
    const username = unique('user');
    await setEndpointCredentials(app, fx, username, 'first-password');
    const stale = await connectDevice(app, { username, password: 'first-password' });

    await setEndpointCredentials(app, fx, username, 'second-password');
    const closed = await waitFor(() => stale.closed, 3_000).then(
      () => true,
      () => false,
    );
    if (!closed) {
      const reply = await stale.request(kp1Topic(fx, 'cex', 'command/x'), '{}');
      expect(reply.json).toMatchObject({ statusCode: 401 });
    }
  });
});

describe('connect timeout', () => {
  it('closes sockets that send nothing, or half a CONNECT, after the 10 s connect timeout', { timeout: 30_000 }, async () => {
    for (const raw of [silent, partial]) {
      await raw.closedWithin(Math.max(0, raw.openedAt + 16_000 - Date.now()));
      expect(raw.closed, 'the socket is still open 16 s after it was opened').toBe(true);
      const after = raw.closedAt! - raw.openedAt;
      // Not closed early by something else, and well before aedes' default of 30 s.
      expect(after).toBeGreaterThanOrEqual(9_000);
      expect(after).toBeLessThan(16_000);
      expect(raw.packets).toEqual([]);
    }
  });
});
