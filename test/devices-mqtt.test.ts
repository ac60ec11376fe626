// kp1 over MQTT 3.1.1 (kp1.md §1-§3) with real mqtt.js clients over TCP against the app's broker:
// the Kaa tutorial flow, push semantics (observe, backlog, binding), replies and errors, and
// "results stored before PUBACK".
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { commandById, createApplicationVersion, createEndpoint, invokeCommand, telemetry } from './support/api.ts';
import { startApp, unique, waitFor } from './support/app.ts';
import { commandStatus, rawQuery } from './support/db.ts';
import { closeDevices, commandsIn, connectDevice, idsReceived, kp1Topic, type Device } from './support/mqtt.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterEach(() => closeDevices());
afterAll(() => app?.stop());


/** A barrier: a request with an id on the same connection; everything sent before it was delivered. */
async function roundTrip(device: Device, topic: string): Promise<void> {
  const reply = await device.request(topic, '[]');
  expect(reply.kind, reply.text).toBe('status');
}

describe('the Kaa tutorial flow over MQTT', () => {
  it('observe, push of zero and of an unsubscribed reboot, result, telemetry', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app, { clientId: unique('tutorial') });
    const zeroStatus = kp1Topic(fx, 'cex', 'command/zero/status');
    const rebootStatus = kp1Topic(fx, 'cex', 'command/reboot/status');

    // Never subscribes: publishes {"observe":true} with request id 1 and gets [] on /status.
    await device.publish(kp1Topic(fx, 'cex', 'command/zero/1'), '{"observe":true}');
    const first = await device.next(kp1Topic(fx, 'cex', 'command/zero/1/status'));
    expect(first.text).toBe('[]');
    expect(first.retain).toBe(false);

    const zero = await invokeCommand(app, fx.endpointId, 'zero', { value: 0 });
    const pushed = await device.next(zeroStatus);
    expect(JSON.parse(pushed.text)).toStrictEqual([{ id: Number(zero.id), payload: { value: 0 } }]);
    // Pushes use QoS 1 and are never retained (kp1.md §2).
    expect(pushed.qos).toBe(1);
    expect(pushed.retain).toBe(false);

    const reboot = await invokeCommand(app, fx.endpointId, 'reboot');
    const rebootPush = await device.next(rebootStatus);
    expect(JSON.parse(rebootPush.text)).toStrictEqual([{ id: Number(reboot.id) }]);

    await device.publish(
      kp1Topic(fx, 'cex', 'result/zero/2'),
      JSON.stringify([{ id: Number(zero.id), statusCode: 200, reasonPhrase: 'OK', payload: 'done' }]),
    );
    const ack = await device.next(kp1Topic(fx, 'cex', 'result/zero/2/status'));
    expect(ack.text).toBe('');
    expect(await commandById(app, zero.id)).toMatchObject({
      status: 'EXECUTED',
      statusCode: 200,
      reasonPhrase: 'OK',
      resultPayload: 'done',
    });
    expect(await commandStatus(reboot.id)).toBe('PENDING');

    await device.publish(kp1Topic(fx, 'dcx', 'json/3'), JSON.stringify({ temperature: 21.5, humidity: 40 }));
    const dcx = await device.next(kp1Topic(fx, 'dcx', 'json/3/status'));
    expect(dcx.text).toBe('');
    expect((await telemetry(app, fx.endpointId)).map((s) => s.data)).toEqual([{ temperature: 21.5, humidity: 40 }]);

    // Nothing on an /error topic during the whole flow.
    expect(device.messages.filter((m) => m.topic.endsWith('/error'))).toEqual([]);
  });

  it('pushes under the app version the device last used (another version of its application)', async () => {
    const fx = await createEndpoint(app);
    const v2 = unique('v2');
    await createApplicationVersion(app, fx.application, v2);
    const viaV2 = { ...fx, appVersion: v2 };
    const device = await connectDevice(app);
    expect((await device.request(kp1Topic(viaV2, 'cex', 'command/zero'), '{"observe":true}')).json).toEqual([]);
    const c = await invokeCommand(app, fx.endpointId, 'zero');
    const pushed = await device.next(kp1Topic(viaV2, 'cex', 'command/zero/status'));
    expect(commandsIn(pushed.text)).toStrictEqual([{ id: Number(c.id) }]);
  });
});

describe('observe', () => {
  it('{"observe":false} stops pushes of that type (requests still answer), {"observe":true} resumes', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    const zeroStatus = kp1Topic(fx, 'cex', 'command/zero/status');
    const rebootStatus = kp1Topic(fx, 'cex', 'command/reboot/status');
    expect((await device.request(kp1Topic(fx, 'cex', 'command/zero'), '{"observe":true}')).json).toEqual([]);

    const before = await invokeCommand(app, fx.endpointId, 'zero');
    await device.next(zeroStatus);

    const optOut = await device.request(kp1Topic(fx, 'cex', 'command/zero'), '{"observe":false}');
    expect(optOut.json).toStrictEqual([{ id: Number(before.id) }]);

    const mark = device.mark;
    const silent = await invokeCommand(app, fx.endpointId, 'zero', { n: 1 });
    // Pushes go out in event order on one connection: once the reboot arrives, a zero push
    // (if any) would already be here.
    const barrier = await invokeCommand(app, fx.endpointId, 'reboot');
    const rebootPush = await device.next(rebootStatus, mark);
    expect(commandsIn(rebootPush.text)).toStrictEqual([{ id: Number(barrier.id) }]);
    expect(device.on(zeroStatus, mark)).toEqual([]);

    // The request still returns every outstanding command of the type.
    const listed = await device.request(kp1Topic(fx, 'cex', 'command/zero'), '{}');
    expect(listed.json.map((c: { id: number }) => c.id)).toEqual([Number(before.id), Number(silent.id)]);
    // {} does not change the choice.
    const mark2 = device.mark;
    await invokeCommand(app, fx.endpointId, 'zero');
    const barrier2 = await invokeCommand(app, fx.endpointId, 'reboot');
    await device.until((ms) => ms.some((m) => m.seq >= mark2 && m.topic === rebootStatus && m.text.includes(String(barrier2.id))));
    expect(device.on(zeroStatus, mark2)).toEqual([]);

    const optIn = await device.request(kp1Topic(fx, 'cex', 'command/zero'), '{"observe":true}');
    expect(optIn.json).toHaveLength(3);
    const mark3 = device.mark;
    const resumed = await invokeCommand(app, fx.endpointId, 'zero', { n: 3 });
    const push = await device.next(zeroStatus, mark3);
    expect(commandsIn(push.text)).toStrictEqual([{ id: Number(resumed.id), payload: { n: 3 } }]);
  });
});

describe('backlog on binding', () => {
  it('pushes commands invoked while offline, each type on its own topic, except the requested type (its reply carries them)', async () => {
    const fx = await createEndpoint(app);
    const z1 = await invokeCommand(app, fx.endpointId, 'zero', { n: 1 });
    const z2 = await invokeCommand(app, fx.endpointId, 'zero', { n: 2 });
    const r1 = await invokeCommand(app, fx.endpointId, 'reboot');
    const c1 = await invokeCommand(app, fx.endpointId, 'config', { a: 1 });
    const c2 = await invokeCommand(app, fx.endpointId, 'config', { a: 2 });
    const done = await invokeCommand(app, fx.endpointId, 'config', { a: 0 });
    await fetch(`${app.url}/kp1/${fx.appVersion}/cex/${fx.token}/result/config`, {
      method: 'POST',
      body: JSON.stringify([{ id: Number(done.id), statusCode: 200 }]),
    });

    const device = await connectDevice(app);
    const reply = await device.request(kp1Topic(fx, 'cex', 'command/zero'), '{"observe":true}');
    expect(reply.json).toStrictEqual([
      { id: Number(z1.id), payload: { n: 1 } },
      { id: Number(z2.id), payload: { n: 2 } },
    ]);
    const reboot = await device.next(kp1Topic(fx, 'cex', 'command/reboot/status'));
    expect(commandsIn(reboot.text)).toStrictEqual([{ id: Number(r1.id) }]);
    const config = await device.next(kp1Topic(fx, 'cex', 'command/config/status'));
    // Oldest first; the executed one is not outstanding.
    expect(commandsIn(config.text)).toStrictEqual([
      { id: Number(c1.id), payload: { a: 1 } },
      { id: Number(c2.id), payload: { a: 2 } },
    ]);
    // The backlog is pushed in one go, so any zero push would be here by now.
    expect(device.on(kp1Topic(fx, 'cex', 'command/zero/status'))).toEqual([]);
    // Binding happens once: a second request pushes no backlog again.
    const mark = device.mark;
    await device.request(kp1Topic(fx, 'cex', 'command/zero'), '{}');
    await roundTrip(device, kp1Topic(fx, 'cex', 'result/zero'));
    expect(device.messages.filter((m) => m.seq >= mark && m.topic.includes('/command/') && m.topic.endsWith('/status'))).toHaveLength(1);
  });

  it('a binding made by a result or telemetry request pushes every outstanding type', async () => {
    const fx = await createEndpoint(app);
    const z = await invokeCommand(app, fx.endpointId, 'zero');
    const r = await invokeCommand(app, fx.endpointId, 'reboot');
    const device = await connectDevice(app);
    const reply = await device.request(kp1Topic(fx, 'dcx', 'json'), '{"v":1}');
    expect(reply.kind).toBe('status');
    expect(commandsIn((await device.next(kp1Topic(fx, 'cex', 'command/zero/status'))).text)).toStrictEqual([{ id: Number(z.id) }]);
    expect(commandsIn((await device.next(kp1Topic(fx, 'cex', 'command/reboot/status'))).text)).toStrictEqual([{ id: Number(r.id) }]);
  });

  it('after reconnecting, a device gets what was invoked while it was away', async () => {
    const fx = await createEndpoint(app);
    const first = await connectDevice(app);
    await first.request(kp1Topic(fx, 'cex', 'command/zero'), '{"observe":true}');
    await first.close();
    const missed = await invokeCommand(app, fx.endpointId, 'reboot', { while: 'away' });
    const second = await connectDevice(app);
    await second.request(kp1Topic(fx, 'cex', 'command/zero'), '{"observe":true}');
    const push = await second.next(kp1Topic(fx, 'cex', 'command/reboot/status'));
    expect(commandsIn(push.text)).toStrictEqual([{ id: Number(missed.id), payload: { while: 'away' } }]);
  });
});

describe('replies and errors', () => {
  it('a request without request id gets no /status reply', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    // Bind first (with an id), so later command requests change no binding.
    await device.request(kp1Topic(fx, 'cex', 'command/zero'), '{"observe":true}');
    const c = await invokeCommand(app, fx.endpointId, 'zero');
    await device.next(kp1Topic(fx, 'cex', 'command/zero/status'));
    const mark = device.mark;

    await device.publish(kp1Topic(fx, 'cex', 'command/zero'), '{}');
    await device.publish(kp1Topic(fx, 'dcx', 'json'), '{"t":1}');
    await device.publish(kp1Topic(fx, 'cex', 'result/zero'), JSON.stringify([{ id: Number(c.id), statusCode: 200 }]));
    await roundTrip(device, kp1Topic(fx, 'cex', 'result/reboot'));
    const after = device.messages.filter((m) => m.seq >= mark);
    expect(after.map((m) => m.topic)).toEqual([expect.stringMatching(/\/result\/reboot\/\d+\/status$/)]);
    // ... but the requests were served.
    expect(await commandStatus(c.id)).toBe('EXECUTED');
    const [row] = await rawQuery<{ n: number }>('select count(*)::int as n from telemetry_samples where endpoint_id = $1', [fx.endpointId]);
    expect(Number(row!.n)).toBe(1);
  });

  // [1/KP] "If Request ID is not present in MQTT topic, response SHOULD NOT be published."
  it('an error without request id is not published, unless KP1_ERRORS_WITHOUT_REQUEST_ID=publish', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    await device.request(kp1Topic(fx, 'cex', 'command/zero'), '{}');
    const topic = kp1Topic(fx, 'cex', 'result/zero');
    const mark = device.mark;
    await device.publish(topic, '{not json');
    await device.publish(kp1Topic(fx, 'cex', 'result/bad.type'), '[]');
    // A barrier: the requests before it were handled, in order.
    await roundTrip(device, kp1Topic(fx, 'cex', 'result/zero'));
    expect(device.messages.filter((m) => m.seq >= mark && m.topic.endsWith('/error'))).toEqual([]);

    const debugging = await startApp({ kp1: { errorsWithoutRequestId: 'publish', dcxTimestampField: 'timestamp' } });
    try {
      const fx2 = await createEndpoint(debugging);
      const verbose = await connectDevice(debugging);
      const topic2 = kp1Topic(fx2, 'cex', 'result/zero');
      await verbose.publish(topic2, '{not json');
      const error = await verbose.next(`${topic2}/error`);
      const body = JSON.parse(error.text);
      expect(Object.keys(body).sort()).toEqual(['reasonPhrase', 'statusCode']);
      expect(body.statusCode).toBe(400);
      expect(verbose.on(`${topic2}/status`)).toEqual([]);
    } finally {
      await debugging.stop();
    }
  });

  it('errors with a request id go to <topic>/<id>/error with the kp1 error object', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    await device.request(kp1Topic(fx, 'cex', 'command/zero'), '{}');
    const c = await invokeCommand(app, fx.endpointId, 'zero');

    const cases: [string, string, number][] = [
      [kp1Topic(fx, 'cex', 'result/zero'), '{"id":', 400],
      [kp1Topic(fx, 'cex', 'command/zero'), '{"observe":1}', 400],
      [kp1Topic(fx, 'cex', 'command/zero'), '{"observe":true,"x":1}', 400],
      [kp1Topic(fx, 'cex', 'result/zero'), '[{"id":1}]', 400],
      [kp1Topic(fx, 'cex', 'result/zero'), JSON.stringify([{ id: 987_654_321, statusCode: 200 }]), 404],
      [kp1Topic(fx, 'cex', 'result/zero'), JSON.stringify([{ id: Number(c.id), statusCode: 200 }, { id: 987_654_321, statusCode: 200 }]), 404],
      [kp1Topic(fx, 'cex', 'result/reboot'), JSON.stringify([{ id: Number(c.id), statusCode: 200 }]), 404],
      [kp1Topic(fx, 'dcx', 'json'), '{"v":', 400],
      [kp1Topic(fx, 'cex', 'command/bad.type'), '{}', 400],
    ];
    for (const [topic, payload, statusCode] of cases) {
      const reply = await device.request(topic, payload);
      expect(reply.kind, `${topic} ${payload}: ${reply.text}`).toBe('error');
      expect(Object.keys(reply.json).sort()).toEqual(['reasonPhrase', 'statusCode']);
      expect(reply.json.statusCode, `${topic} ${payload}`).toBe(statusCode);
      expect(reply.json.reasonPhrase.length).toBeGreaterThan(0);
    }
    // A malformed request id, an unknown resource: replies on the topic as received.
    const badId = kp1Topic(fx, 'cex', 'command/zero/12345678901');
    await device.publish(badId, '{}');
    expect(JSON.parse((await device.next(`${badId}/error`)).text)).toMatchObject({ statusCode: 400 });
    const unknownResource = kp1Topic(fx, 'cex', 'status/zero/5');
    await device.publish(unknownResource, '{}');
    expect(JSON.parse((await device.next(`${unknownResource}/error`)).text)).toMatchObject({ statusCode: 404 });

    // Nothing changed.
    expect(await commandStatus(c.id)).toBe('PENDING');
    const [row] = await rawQuery<{ n: number }>('select count(*)::int as n from telemetry_samples where endpoint_id = $1', [fx.endpointId]);
    expect(Number(row!.n)).toBe(0);
  });

  // kp1.md §1: an error response goes to the requester (with a request id). The device that sent
  // the request gets the error whatever token its topic names, bound or not: 401 for an unknown
  // token, 403 for another application's, 404 for an unknown version, and 400 for a first
  // message that is malformed.
  it('error replies reach a connection that is not bound to the topic token', async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const fresh = await connectDevice(app);
    const malformed = await fresh.request(kp1Topic(fx, 'cex', 'result/zero'), '{"id":', { ms: 3_000 });
    expect(malformed.json).toMatchObject({ statusCode: 400 });

    const bound = await connectDevice(app);
    await bound.request(kp1Topic(fx, 'cex', 'command/zero'), '{}');
    const cases: [string, number][] = [
      [kp1Topic({ ...fx, token: unique('nobody') }, 'cex', 'command/zero'), 401],
      [kp1Topic({ ...fx, token: other.token }, 'cex', 'command/zero'), 403],
      [kp1Topic({ ...fx, appVersion: unique('nover') }, 'cex', 'command/zero'), 404],
    ];
    for (const [topic, statusCode] of cases) {
      const reply = await bound.request(topic, '{}', { ms: 3_000 });
      expect(reply.kind).toBe('error');
      expect(reply.json.statusCode, topic).toBe(statusCode);
    }
  });

  it('413 for a payload above maxDeviceMessageBytes', async () => {
    const small = await startApp({ maxDeviceMessageBytes: 1024 });
    try {
      const fx = await createEndpoint(small);
      const c = await invokeCommand(small, fx.endpointId, 'zero');
      const device = await connectDevice(small);
      await device.request(kp1Topic(fx, 'cex', 'command/zero'), '{}');
      const big = JSON.stringify([{ id: Number(c.id), statusCode: 200, payload: 'x'.repeat(1100) }]);
      const reply = await device.request(kp1Topic(fx, 'cex', 'result/zero'), big);
      expect(reply.kind).toBe('error');
      expect(reply.json.statusCode).toBe(413);
      const [row] = await rawQuery<{ status: string }>('select status from commands where id = $1', [Number(c.id)]);
      expect(row!.status).toBe('PENDING');
      // The connection is still served.
      const ok = await device.request(kp1Topic(fx, 'cex', 'result/zero'), JSON.stringify([{ id: Number(c.id), statusCode: 200 }]));
      expect(ok.kind).toBe('status');
      await device.close();
    } finally {
      await closeDevices();
      await small.stop();
    }
  });
});

describe('durability and delivery', () => {
  it('a QoS 1 result is stored before the PUBACK', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    const commands = [];
    for (let i = 0; i < 10; i++) commands.push(await invokeCommand(app, fx.endpointId, 'zero', { i }));
    for (const c of commands) {
      // No request id, no waiting: the PUBACK is the only signal.
      await device.publish(kp1Topic(fx, 'cex', 'result/zero'), JSON.stringify([{ id: Number(c.id), statusCode: 200 }]), { qos: 1 });
      const [row] = await rawQuery<{ status: string; status_code: number }>(
        'select status, status_code from commands where id = $1',
        [Number(c.id)],
      );
      expect(row, `command ${c.id} right after the PUBACK`).toEqual({ status: 'EXECUTED', status_code: 200 });
    }
    // The same holds for telemetry.
    await device.publish(kp1Topic(fx, 'dcx', 'json'), '[{"a":1},{"a":2}]', { qos: 1 });
    const [row] = await rawQuery<{ n: number }>('select count(*)::int as n from telemetry_samples where endpoint_id = $1', [fx.endpointId]);
    expect(Number(row!.n)).toBe(2);
  });

  it('a QoS 2 result is stored and acknowledged', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    const c = await invokeCommand(app, fx.endpointId, 'zero');
    await device.publish(kp1Topic(fx, 'cex', 'result/zero'), JSON.stringify([{ id: Number(c.id), statusCode: 201 }]), { qos: 2 });
    expect(await commandStatus(c.id)).toBe('EXECUTED');
  });

  it('pushes keep working after many requests', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    for (let i = 0; i < 100; i++) {
      const reply = await device.request(kp1Topic(fx, 'cex', i % 2 ? 'command/zero' : 'result/zero'), i % 2 ? '{"observe":true}' : '[]');
      expect(reply.kind).toBe('status');
    }
    // Fire-and-forget requests too (no request id).
    await Promise.all(Array.from({ length: 100 }, () => device.publish(kp1Topic(fx, 'cex', 'command/zero'), '{}')));
    const c = await invokeCommand(app, fx.endpointId, 'zero', { last: true });
    await device.until((ms) => ms.some((m) => m.topic === kp1Topic(fx, 'cex', 'command/zero/status') && m.text.includes(`"id":${c.id}`)));
    expect(device.closed).toBe(false);
   }, 60_000);

  it('a command for endpoint B is never pushed to a connection bound to A, and a gateway bound to both gets both', async () => {
    const a = await createEndpoint(app);
    const b = await createEndpoint(app, { appVersion: a.appVersion });
    const deviceA = await connectDevice(app);
    const deviceB = await connectDevice(app);
    const gateway = await connectDevice(app);
    await deviceA.request(kp1Topic(a, 'cex', 'command/zero'), '{"observe":true}');
    await deviceB.request(kp1Topic(b, 'cex', 'command/zero'), '{"observe":true}');
    await gateway.request(kp1Topic(a, 'cex', 'command/zero'), '{"observe":true}');
    await gateway.request(kp1Topic(b, 'cex', 'command/zero'), '{"observe":true}');

    const forB = await invokeCommand(app, b.endpointId, 'zero');
    const forA = await invokeCommand(app, a.endpointId, 'zero');
    await deviceA.until(() => idsReceived(deviceA, a, 'zero').has(Number(forA.id)));
    await deviceB.until(() => idsReceived(deviceB, b, 'zero').has(Number(forB.id)));
    await gateway.until(() => idsReceived(gateway, a, 'zero').has(Number(forA.id)) && idsReceived(gateway, b, 'zero').has(Number(forB.id)));
    // forB was invoked before forA, so it would have reached A already.
    expect(deviceA.messages.filter((m) => m.topic.includes(b.token) || m.text.includes(`"id":${forB.id}`))).toEqual([]);
    // forA came after forB: B's barrier is a later command of its own.
    const laterForB = await invokeCommand(app, b.endpointId, 'zero');
    await deviceB.until(() => idsReceived(deviceB, b, 'zero').has(Number(laterForB.id)));
    expect(deviceB.messages.filter((m) => m.topic.includes(a.token) || m.text.includes(`"id":${forA.id}`))).toEqual([]);
  });
});
