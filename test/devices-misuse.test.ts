// Device misuse (kp1.md §4): retain and Will refused, bad input changes nothing and the server keeps serving, tokens never logged.
import { connect as tcpConnect } from 'node:net';
import { Writable } from 'node:stream';
import mqtt from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.ts';
import { createLogger } from '../src/logger.ts';
import { createEndpoint, invokeCommand, telemetry } from './support/api.ts';
import { sharedPglite, startApp, testConfig, unique, waitFor } from './support/app.ts';
import { commandStatus, rawQuery } from './support/db.ts';
import { bindDevice, closeDevices, connectDevice, idsReceived, kp1Topic, pushedTo } from './support/mqtt.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterEach(() => closeDevices());
afterAll(() => app?.stop());

async function sampleCount(endpointId: string): Promise<number> {
  const [row] = await rawQuery<{ n: number }>('select count(*)::int as n from telemetry_samples where endpoint_id = $1', [endpointId]);
  return Number(row!.n);
}

describe('refused misuse', () => {
  it('retain=true on a kp1 topic is refused with 400, nothing is stored and nothing is replayed', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    await bindDevice(device, fx);
    const c = await invokeCommand(app, fx.endpointId, 'x');
    const result = JSON.stringify([{ id: Number(c.id), statusCode: 200 }]);
    const reply = await device.request(kp1Topic(fx, 'cex', 'result/x'), result, { retain: true });
    expect(reply.kind).toBe('error');
    expect(reply.json).toMatchObject({ statusCode: 400 });
    expect(await commandStatus(c.id)).toBe('PENDING');
    const dcx = await device.request(kp1Topic(fx, 'dcx', 'json'), '{"t":1}', { retain: true });
    expect(dcx.json).toMatchObject({ statusCode: 400 });
    expect(await sampleCount(fx.endpointId)).toBe(0);

    // A later subscriber of the same topics gets no retained message.
    const later = await connectDevice(app);
    expect(await later.subscribe(kp1Topic(fx, 'cex', '#'))).toBe(1);
    expect(await later.subscribe(kp1Topic(fx, 'dcx', '#'))).toBe(1);
    await pushedTo(later, app, fx, 'barrier');
    expect(later.messages.filter((m) => m.retain)).toEqual([]);
    // The same result without retain is accepted.
    expect((await device.request(kp1Topic(fx, 'cex', 'result/x'), result)).kind).toBe('status');
    expect(await commandStatus(c.id)).toBe('EXECUTED');
  });

  it('a CONNECT with a Will on a kp1 topic is refused; a Will elsewhere is not', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'x');
    const will = {
      topic: kp1Topic(fx, 'cex', 'result/x'),
      payload: Buffer.from(JSON.stringify([{ id: Number(c.id), statusCode: 200 }])),
      qos: 1 as const,
      retain: false,
    };
    const refused = await mqtt
      .connectAsync(app.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, will }, false)
      .then(
        async (client) => {
          await client.endAsync(true);
          return false;
        },
        () => true,
      );
    expect(refused, 'the connection with a kp1 Will was accepted').toBe(true);

    const other = await connectDevice(app, { will: { ...will, topic: 'devices/gone' } });
    expect(other.closed).toBe(false);
    // Ending it uncleanly publishes its Will, which reaches nobody and changes nothing.
    other.client.stream.destroy();
    await waitFor(() => other.closed);
    expect(await commandStatus(c.id)).toBe('PENDING');
  });
});

describe('bad input', () => {
  it('malformed JSON and wrong shapes get an error reply and change nothing', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    await bindDevice(device, fx);
    const c = await invokeCommand(app, fx.endpointId, 'x');
    const cases: [string, string | Buffer][] = [
      [kp1Topic(fx, 'cex', 'result/x'), '{'],
      [kp1Topic(fx, 'cex', 'result/x'), Buffer.from([0xff, 0xfe, 0x00])],
      [kp1Topic(fx, 'cex', 'result/x'), `[{"id":${c.id},"statusCode":"200"}]`],
      [kp1Topic(fx, 'cex', 'result/x'), `[{"id":${c.id},"statusCode":200},{"id":${c.id}}]`],
      [kp1Topic(fx, 'cex', 'result/x'), `{"id":${c.id},"statusCode":200,"extra":true}`],
      [kp1Topic(fx, 'cex', 'command/x'), '{"observe":"false"}'],
      [kp1Topic(fx, 'cex', 'command/x'), 'null'],
      [kp1Topic(fx, 'dcx', 'json'), ''],
      [kp1Topic(fx, 'dcx', 'json'), '[{"a":1},'],
    ];
    for (const [topic, payload] of cases) {
      const reply = await device.request(topic, payload);
      expect(reply.kind, `${topic} ${String(payload)}`).toBe('error');
      expect(reply.json.statusCode, `${topic} ${String(payload)}`).toBe(400);
    }
    expect(await commandStatus(c.id)).toBe('PENDING');
    expect(await sampleCount(fx.endpointId)).toBe(0);
    // observe stayed on: a new command is still pushed.
    await pushedTo(device, app, fx, 'x');
  });

  it('unknown tokens and unknown app versions get an error reply and change nothing', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'x');
    const device = await connectDevice(app);
    const result = JSON.stringify([{ id: Number(c.id), statusCode: 200 }]);
    const unknownToken = await device.request(kp1Topic({ ...fx, token: unique('nobody') }, 'cex', 'result/x'), result, { ms: 3_000 });
    expect(unknownToken.json).toMatchObject({ statusCode: 401 });
    const unknownVersion = await device.request(kp1Topic({ ...fx, appVersion: unique('nover') }, 'cex', 'result/x'), result, { ms: 3_000 });
    expect(unknownVersion.json).toMatchObject({ statusCode: 404 });
    expect(await commandStatus(c.id)).toBe('PENDING');
  });

  it('keeps serving other devices whatever one device sends', async () => {
    const fx = await createEndpoint(app);
    const watcher = await connectDevice(app);
    await bindDevice(watcher, fx);
    const c = await invokeCommand(app, fx.endpointId, 'x');
    const result = JSON.stringify([{ id: Number(c.id), statusCode: 200 }]);

    const vandal = await connectDevice(app);
    const garbage: [string, string | Buffer][] = [
      [kp1Topic(fx, 'cex', 'result/x'), '{{{'],
      [kp1Topic(fx, 'cex', 'result/x'), Buffer.alloc(2048, 0xff)],
      [kp1Topic({ ...fx, token: unique('nobody') }, 'cex', 'result/x'), result],
      [kp1Topic({ ...fx, appVersion: unique('nover') }, 'cex', 'result/x'), result],
      [kp1Topic({ ...fx, appVersion: 'UPPER' }, 'cex', 'result/x'), result],
      [`kp1/${fx.appVersion}//cex/${fx.token}/result/x`, result],
      [`kp1/${fx.appVersion}/cex/${fx.token}/result/x/`, result],
      [`kp1/${fx.appVersion}/cex/${fx.token}`, result],
      ['kp1', result],
      [`kp1/${fx.appVersion}/cex/${fx.token}/result/x/99999999999`, result],
      [`kp1/${fx.appVersion}/cex/${fx.token}/result/${'y'.repeat(500)}`, result],
      [`${kp1Topic(fx, 'cex', 'result/x')}/1/2/3/4/5/6/7/8/9`, result],
      ['not/kp1/at/all', result],
    ];
    for (const [topic, payload] of garbage) await vandal.publish(topic, payload, { qos: 1 });
    await vandal.publish(kp1Topic(fx, 'cex', 'result/x'), '{"id":', { qos: 2 });
    await vandal.publish(kp1Topic(fx, 'cex', 'result/x'), '{"id":', { qos: 0 });
    expect(vandal.closed).toBe(false);

    // Not MQTT at all.
    await new Promise<void>((resolve) => {
      const socket = tcpConnect(app.mqttPort, '127.0.0.1', () => socket.end(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n')));
      socket.on('error', () => resolve());
      socket.on('close', () => resolve());
      socket.resume();
    });
    // MQTT 5 is not served, and that is all.
    const v5 = await mqtt
      .connectAsync(app.mqttUrl, { protocolVersion: 5, reconnectPeriod: 0, connectTimeout: 5_000 }, false)
      .then(
        async (client) => {
          await client.endAsync(true);
          return 'connected';
        },
        () => 'refused',
      );
    expect(v5).toBe('refused');

    expect(await commandStatus(c.id)).toBe('PENDING');
    await pushedTo(watcher, app, fx, 'barrier');
    const again = await connectDevice(app);
    expect((await again.request(kp1Topic(fx, 'cex', 'result/x'), result)).kind).toBe('status');
    expect(await commandStatus(c.id)).toBe('EXECUTED');
    const health = await fetch(`${app.url}/healthz`);
    expect(health.status).toBe(200);
  });
});

describe('tokens in logs', () => {
  let logged: App;
  const chunks: string[] = [];
  const logText = () => chunks.join('');

  beforeAll(async () => {
    const config = testConfig({ logLevel: 'debug', maxDeviceMessageBytes: 1024 });
    const stream = new Writable({
      write(chunk: Buffer | string, _encoding, callback) {
        chunks.push(chunk.toString());
        callback();
      },
    });
    logged = createApp(config, {
      pglite: config.database.kind === 'pglite' ? await sharedPglite() : undefined,
      logger: createLogger('debug', stream),
    });
    await logged.start();
  });
  afterAll(() => logged?.stop());

  it('never writes a device token to the log during an MQTT and HTTP session with errors', async () => {
    const fx = await createEndpoint(logged);
    const other = await createEndpoint(logged);
    const http = (path: string, body?: string, method = 'POST') =>
      fetch(`${logged.url}/kp1/${fx.appVersion}/${path}`, { method, body }).then(async (r) => ({ status: r.status, text: await r.text() }));

    // MQTT: the tutorial flow plus errors and refusals.
    const device = await connectDevice(logged, { clientId: unique('logged-device') });
    expect((await device.request(kp1Topic(fx, 'cex', 'command/reboot'), '{"observe":true}')).kind).toBe('status');
    const c = await invokeCommand(logged, fx.endpointId, 'reboot', { delay: 1 });
    await device.until(() => idsReceived(device, fx, 'reboot').has(Number(c.id)));
    expect(await device.subscribe(kp1Topic(fx, 'cex', '#'))).toBe(1);
    expect(await device.subscribe('#')).toBe(0x80);
    expect(await device.subscribe(kp1Topic({ ...fx, token: other.token }, 'cex', '#'))).toBe(0x80);
    expect((await device.request(kp1Topic(fx, 'cex', 'result/reboot'), '{bad')).kind).toBe('error');
    expect((await device.request(kp1Topic(fx, 'cex', 'result/reboot'), '[{"id":987654321,"statusCode":200}]')).kind).toBe('error');
    // Above maxDeviceMessageBytes but below the MQTT packet cap (which would disconnect).
    expect((await device.request(kp1Topic(fx, 'cex', 'result/reboot'), 'x'.repeat(1500))).json).toMatchObject({ statusCode: 413 });
    expect((await device.request(kp1Topic(fx, 'cex', 'result/reboot'), '[]', { retain: true })).kind).toBe('error');
    await device.publish(kp1Topic({ ...fx, appVersion: unique('nover') }, 'cex', 'result/reboot'), '[]');
    await device.publish(kp1Topic({ ...fx, token: other.token }, 'cex', 'result/reboot'), '[]');
    expect((await device.request(kp1Topic(fx, 'dcx', 'json'), '{"t":1}')).kind).toBe('status');
    expect(
      (await device.request(kp1Topic(fx, 'cex', 'result/reboot'), JSON.stringify([{ id: Number(c.id), statusCode: 200, reasonPhrase: 'OK' }]))).kind,
    ).toBe('status');
    const offender = await connectDevice(logged);
    await offender.request(kp1Topic(fx, 'cex', 'command/reboot'), '{}');
    offender.client.publish('$SYS/x', 'boom');
    await waitFor(() => offender.closed);
    await mqtt
      .connectAsync(
        logged.mqttUrl,
        { reconnectPeriod: 0, will: { topic: kp1Topic(fx, 'cex', 'result/reboot'), payload: Buffer.from('[]'), qos: 0, retain: false } },
        false,
      )
      .then((client) => client.endAsync(true), () => {});
    await device.close();

    // HTTP: the curl flow plus every error status.
    const c2 = await invokeCommand(logged, fx.endpointId, 'zero');
    expect((await http(`cex/${fx.token}/command/zero`, '{}')).status).toBe(200);
    expect((await http(`cex/${fx.token}/result/zero`, JSON.stringify([{ id: Number(c2.id), statusCode: 200 }]))).status).toBe(200);
    expect((await http(`dcx/${fx.token}/json`, '[{"t":1},{"t":2}]')).status).toBe(200);
    expect((await http(`cex/${fx.token}/command/zero?wait=1`, '{}')).status).toBe(200);
    expect((await http(`cex/${fx.token}/command/zero?wait=999`, '{}')).status).toBe(400);
    expect((await http(`cex/${fx.token}/result/zero`, '{')).status).toBe(400);
    expect((await http(`cex/${fx.token}/result/zero`, '[{"id":987654321,"statusCode":200}]')).status).toBe(404);
    expect((await http(`cex/${fx.token}/result/zero`, 'x'.repeat(2000))).status).toBe(413);
    expect((await http(`cex/${fx.token}/command/zero`, undefined, 'GET')).status).toBe(405);
    expect((await http(`xyz/${fx.token}/command/zero`, '{}')).status).toBe(404);
    const cross = await fetch(`${logged.url}/kp1/${fx.appVersion}/cex/${other.token}/command/zero`, { method: 'POST', body: '{}' });
    expect(cross.status).toBe(403);
    const version = await fetch(`${logged.url}/kp1/${unique('nover')}/cex/${fx.token}/command/zero`, { method: 'POST', body: '{}' });
    expect(version.status).toBe(404);

    expect(await telemetry(logged, fx.endpointId)).toHaveLength(3);

    // The log saw the session (so the check below is not vacuous) ...
    await waitFor(() => logText().includes('command executed') && logText().includes('mqtt client error'));
    expect(logText()).toContain(fx.endpointId);
    // ... and no token.
    expect(logText()).not.toContain(fx.token);
    expect(logText()).not.toContain(other.token);
  });

  it('never writes a device token to the log when the device aborts an HTTP upload', async () => {
    const fx = await createEndpoint(logged);
    const before = chunks.length;
    await new Promise<void>((resolve, reject) => {
      const socket = tcpConnect(logged.httpPort, '127.0.0.1', () => {
        socket.write(
          `POST /kp1/${fx.appVersion}/cex/${fx.token}/result/zero HTTP/1.1\r\nHost: device\r\nContent-Length: 500\r\n\r\n[{"id":1,`,
          () => setTimeout(() => socket.destroy(), 200),
        );
      });
      socket.on('close', () => resolve());
      socket.on('error', reject);
    });
    // The server logs the abort (at debug level): the check below reads that line, not an empty log.
    await waitFor(() => chunks.slice(before).join('').includes('device HTTP request aborted'), 5_000);
    const health = await fetch(`${logged.url}/healthz`);
    expect(health.status).toBe(200);
    expect(chunks.slice(before).join('')).not.toContain(fx.token);
  });
});
