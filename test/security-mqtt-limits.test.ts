// MQTT listener limits: packet size cap, keepalive, publish and subscribe rate, connections per address, connect timeout.
import mqttPacket from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint } from './support/api.ts';
import { startApp, testConfig, waitFor } from './support/app.ts';
import { bindDevice, closeDevices, connectDevice, kp1Topic, pushedTo, type Device } from './support/mqtt.ts';
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
import { BAD_USERNAME_OR_PASSWORD, mqttJsConnect } from './support/security-mqtt.ts';

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
    // Buffered socket data is in arrayBuffers. (Not the RSS: this worker runs other test files'
    // servers too, and their allocations would be counted against the cap.)
    expect((after.arrayBuffers - before.arrayBuffers) / MiB).toBeLessThan(16);
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
