// kp1 clauses of issue 17, each against the real servers with real mqtt.js and HTTP clients:
// request ids on HTTP paths, any 1-10 digit request id echoed as sent, replies at the request's
// QoS, any 32-bit result statusCode, and the all-types command resource (kp1.md §1-§2).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { commandById, createEndpoint, invokeCommand, type Fixture } from './support/api.ts';
import { startApp } from './support/app.ts';
import { closeDevices, connectDevice, kp1Topic, type Device } from './support/mqtt.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterEach(() => closeDevices());
afterAll(() => app?.stop());

async function post(path: string, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${app.url}/${path}`, { method: 'POST', body });
  return { status: res.status, text: await res.text() };
}

/** Publishes at `qos` and waits for the reply on `<topic>/status` or `<topic>/error`. */
async function ask(device: Device, topic: string, payload: string, qos: 0 | 1 | 2 = 1) {
  const since = device.mark;
  await device.publish(topic, payload, { qos });
  return device.until((messages) =>
    messages.some((m) => m.seq >= since && (m.topic === `${topic}/status` || m.topic === `${topic}/error`)),
  ).then((messages) => messages.find((m) => m.seq >= since && (m.topic === `${topic}/status` || m.topic === `${topic}/error`))!);
}

describe('HTTP request ids (Kaa HTTP device API)', () => {
  it('accepts a trailing request id on command, result and dcx paths; replies are unchanged', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot', { delay: 1 });
    const commands = await post(kp1Topic(fx, 'cex', 'command/reboot/17'), '{}');
    expect(commands.status).toBe(200);
    expect(JSON.parse(commands.text)).toStrictEqual([{ id: Number(c.id), payload: { delay: 1 } }]);
    const result = await post(kp1Topic(fx, 'cex', 'result/reboot/18'), JSON.stringify([{ id: Number(c.id), statusCode: 200 }]));
    expect(result).toEqual({ status: 200, text: '' });
    expect(await commandById(app, c.id)).toMatchObject({ status: 'EXECUTED', statusCode: 200 });
    expect(await post(kp1Topic(fx, 'dcx', 'json/0'), '{"v":1}')).toEqual({ status: 200, text: '' });
  });
});

describe('request ids', () => {
  it.each(['0', '007', '0000000000', '9999999999'])('%s is accepted and echoed exactly as sent', async (id) => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    const topic = kp1Topic(fx, 'cex', `command/reboot/${id}`);
    const reply = await ask(device, topic, '{}');
    expect(reply.topic).toBe(`${topic}/status`);
    expect(reply.text).toBe('[]');
  });

  it('more than 10 digits is a 400 on the topic as sent', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    const topic = kp1Topic(fx, 'dcx', 'json/12345678901');
    const reply = await ask(device, topic, '{}');
    expect(reply.topic).toBe(`${topic}/error`);
    expect(JSON.parse(reply.text)).toMatchObject({ statusCode: 400 });
  });
});

describe('reply QoS (1/KP: responses at the QoS of the request)', () => {
  it.each([0, 1, 2] as const)('a QoS %i request gets its /status and /error replies at the same QoS; pushes stay QoS 1', async (qos) => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    const ok = await ask(device, kp1Topic(fx, 'cex', 'command/zero/5'), '{"observe":true}', qos);
    expect(ok.topic.endsWith('/status')).toBe(true);
    expect(ok.qos).toBe(qos);
    const bad = await ask(device, kp1Topic(fx, 'cex', 'result/zero/6'), '{', qos);
    expect(bad.topic.endsWith('/error')).toBe(true);
    expect(bad.qos).toBe(qos);
    const unknownToken = await ask(device, kp1Topic({ ...fx, token: 'nobody-at-all' }, 'dcx', 'json/7'), '{}', qos);
    expect(JSON.parse(unknownToken.text)).toMatchObject({ statusCode: 401 });
    expect(unknownToken.qos).toBe(qos);

    await invokeCommand(app, fx.endpointId, 'zero');
    const pushed = await device.next(kp1Topic(fx, 'cex', 'command/zero/status'));
    expect(pushed.qos).toBe(1);
  });
});

describe('result statusCode', () => {
  it.each([-1, 0, 42, 1000, -2147483648, 2147483647])('%i is stored and shown as sent', async (statusCode) => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    const res = await post(kp1Topic(fx, 'cex', 'result/reboot'), JSON.stringify({ id: Number(c.id), statusCode }));
    expect(res.status).toBe(200);
    expect(await commandById(app, c.id)).toMatchObject({ status: 'EXECUTED', statusCode });
  });

  it('2^31 is refused with 400', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    const res = await post(kp1Topic(fx, 'cex', 'result/reboot'), JSON.stringify({ id: Number(c.id), statusCode: 2 ** 31 }));
    expect(res.status).toBe(400);
    expect(await commandById(app, c.id)).toMatchObject({ status: 'PENDING' });
  });
});

describe('the all-types command resource (11/CEP `command` without a type)', () => {
  async function twoCommands(fx: Fixture) {
    const a = await invokeCommand(app, fx.endpointId, 'reboot');
    const b = await invokeCommand(app, fx.endpointId, 'set-led', { on: true });
    return [
      { id: Number(a.id), type: 'reboot' },
      { id: Number(b.id), type: 'set-led', payload: { on: true } },
    ];
  }

  it('over HTTP: every outstanding command, oldest first, each with its type', async () => {
    const fx = await createEndpoint(app);
    expect(await post(kp1Topic(fx, 'cex', 'command'), '{}')).toEqual({ status: 200, text: '[]' });
    const expected = await twoCommands(fx);
    const res = await post(kp1Topic(fx, 'cex', 'command'), '{}');
    expect(JSON.parse(res.text)).toStrictEqual(expected);
    expect(JSON.parse((await post(kp1Topic(fx, 'cex', 'command/3'), '')).text)).toStrictEqual(expected);
  });

  it('over HTTP, a long poll ends on a command of any type', async () => {
    const fx = await createEndpoint(app);
    const started = Date.now();
    const held = post(`${kp1Topic(fx, 'cex', 'command')}?wait=10`, '{}');
    await new Promise((resolve) => setTimeout(resolve, 300));
    const c = await invokeCommand(app, fx.endpointId, 'anything');
    expect(JSON.parse((await held).text)).toStrictEqual([{ id: Number(c.id), type: 'anything' }]);
    expect(Date.now() - started).toBeLessThan(8_000);
  });

  it('over MQTT: the reply carries every type; observe moves pushes to command/status with the type; false stops them', async () => {
    const fx = await createEndpoint(app);
    const expected = await twoCommands(fx);
    const device = await connectDevice(app);
    const reply = await ask(device, kp1Topic(fx, 'cex', 'command/1'), '{"observe":true}');
    expect(reply.topic).toBe(`${kp1Topic(fx, 'cex', 'command/1')}/status`);
    expect(JSON.parse(reply.text)).toStrictEqual(expected);

    const allTopic = kp1Topic(fx, 'cex', 'command/status');
    const c = await invokeCommand(app, fx.endpointId, 'beep', 7);
    const pushed = await device.next(allTopic);
    expect(JSON.parse(pushed.text)).toStrictEqual([{ id: Number(c.id), type: 'beep', payload: 7 }]);
    expect(pushed.qos).toBe(1);
    // The reply carried the backlog: nothing was pushed per type.
    expect(device.messages.filter((m) => /\/command\/[^/]+\/status$/.test(m.topic) && m.topic !== reply.topic)).toEqual([]);

    await ask(device, kp1Topic(fx, 'cex', 'command/2'), '{"observe":false}');
    const mark = device.mark;
    const quiet = await invokeCommand(app, fx.endpointId, 'beep');
    // A barrier: a request answered after the command was created.
    await ask(device, kp1Topic(fx, 'cex', 'command/beep/3'), '{}');
    expect(device.messages.filter((m) => m.seq >= mark && m.text.includes(String(quiet.id)) && !m.topic.endsWith('/3/status'))).toEqual([]);
  });
});
