// Isolation between devices on the embedded broker (kp1.md §2 "Push", §4): granted SUBSCRIBE filters, nothing of one reaches another, no relaying.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint, invokeCommand } from './support/api.ts';
import { startApp, unique } from './support/app.ts';
import { commandStatus } from './support/db.ts';
import { bindDevice, closeDevices, commandsIn, connectDevice, idsReceived, kp1Topic, pushedTo } from './support/mqtt.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterEach(() => closeDevices());
afterAll(() => app?.stop());

/** How many commands are invoked for B while A listens as widely as it may. */
const COMMANDS_FOR_B = 200;

describe('subscriptions', () => {
  it('grants filters pinned to the own token and refuses everything else with 0x80', async () => {
    const a = await createEndpoint(app);
    const foreign = await createEndpoint(app);
    const device = await connectDevice(app);
    const v = a.appVersion;
    const granted = [
      `kp1/${v}/cex/${a.token}/#`,
      `kp1/${v}/cex/${a.token}/command/reboot/status`,
      `kp1/${v}/cex/${a.token}/command/+/status`,
      `kp1/${v}/cex/${a.token}/+/+/status`,
      `kp1/${v}/cex/${a.token}/+/#`,
      `kp1/${v}/dcx/${a.token}/json/+/status`,
      `kp1/${v}/dcx/${a.token}/#`,
    ];
    for (const filter of granted) expect(await device.subscribe(filter), filter).toBe(1);

    const refused = [
      '#',
      '+/#',
      '+',
      'kp1/#',
      'kp1/+/#',
      `kp1/${v}/#`,
      `kp1/${v}/cex/#`,
      'kp1/+/cex/+/command/+',
      `kp1/${v}/cex/+/command/reboot`,
      `kp1/${v}/+/${a.token}/#`,
      `kp1/+/cex/${a.token}/#`,
      `kp1/${v}/cex/${foreign.token}/#`, // another application's device
      `kp1/${v}/cex/${foreign.token}/command/+/status`,
      `kp1/${v}/cex/${unique('unknown-token')}/#`,
      `kp1/${v}/cex/${unique('unknown-token')}/command/reboot/status`,
      `kp1/${unique('unknown-version')}/cex/${a.token}/#`,
      `kp1/${v}/xyz/${a.token}/#`,
      '$SYS/#',
      '$SYS/+/clients/#',
      'foo/bar',
      'foo/#',
    ];
    for (const filter of refused) expect(await device.subscribe(filter), filter).toBe(0x80);

    // In one SUBSCRIBE, each filter is answered on its own.
    const suback = await new Promise<number[]>((resolve, reject) =>
      device.client.subscribe(
        { [`kp1/${v}/cex/${a.token}/result/+/status`]: { qos: 1 }, '#': { qos: 1 }, [`kp1/${v}/cex/${a.token}/command/#`]: { qos: 0 } },
        (error, _granted, packet) => (packet?.granted ? resolve(packet.granted as number[]) : reject(error)),
      ),
    );
    expect(suback).toEqual([1, 0x80, 0]);
    expect(device.closed).toBe(false);
  });

  it(`A receives nothing about B while ${COMMANDS_FOR_B} commands are invoked for B; B receives them all`, async () => {
    const a = await createEndpoint(app);
    const b = await createEndpoint(app, { appVersion: a.appVersion });
    const deviceA = await connectDevice(app);
    const deviceB = await connectDevice(app);
    await bindDevice(deviceA, a);
    await bindDevice(deviceB, b);
    // A listens as widely as the broker lets it.
    const v = a.appVersion;
    for (const filter of [`kp1/${v}/cex/${a.token}/#`, `kp1/${v}/dcx/${a.token}/#`]) expect(await deviceA.subscribe(filter)).toBe(1);
    for (const filter of ['#', '+/#', 'kp1/#', `kp1/${v}/cex/+/command/x/status`, 'kp1/+/cex/+/command/+/status', `kp1/${v}/+/+/#`]) {
      expect(await deviceA.subscribe(filter), filter).toBe(0x80);
    }

    const invoked: number[] = [];
    for (let i = 0; i < COMMANDS_FOR_B; i += 20) {
      const batch = await Promise.all(
        Array.from({ length: Math.min(20, COMMANDS_FOR_B - i) }, (_, j) => invokeCommand(app, b.endpointId, 'x', { n: i + j })),
      );
      invoked.push(...batch.map((c) => Number(c.id)));
    }
    await deviceB.until(() => idsReceived(deviceB, b, 'x').size >= COMMANDS_FOR_B, 30_000);
    expect([...idsReceived(deviceB, b, 'x')].sort((p, q) => p - q)).toEqual([...invoked].sort((p, q) => p - q));

    // Everything for B was pushed before this command for A: once A has it, A has all it will get.
    await pushedTo(deviceA, app, a, 'barrier');
    const aboutB = deviceA.messages.filter(
      (m) => m.topic.includes(b.token) || m.text.includes(b.token) || (m.text.startsWith('[') && commandsIn(m.text).some((c) => invoked.includes(c.id))),
    );
    expect(aboutB).toEqual([]);
    expect(deviceA.messages.every((m) => m.topic.startsWith(`kp1/${v}/cex/${a.token}/`))).toBe(true);
   }, 90_000);
});

describe('no relaying between connections', () => {
  it("a device's publishes on another device's topics never reach that device", async () => {
    const a = await createEndpoint(app);
    const b = await createEndpoint(app, { appVersion: a.appVersion });
    const deviceB = await connectDevice(app);
    await bindDevice(deviceB, b);
    expect(await deviceB.subscribe(kp1Topic(b, 'cex', '#'))).toBe(1);
    const mark = deviceB.mark;

    // A (which here happens to know B's token) forges a push and requests on B's topics.
    const deviceA = await connectDevice(app);
    await bindDevice(deviceA, a);
    await deviceA.publish(kp1Topic(b, 'cex', 'command/x/status'), '[{"id":999999999,"payload":"forged"}]');
    await deviceA.publish(kp1Topic(b, 'cex', 'command/x/error'), '{"statusCode":500,"reasonPhrase":"forged"}');
    await deviceA.publish(kp1Topic(a, 'cex', 'command/x'), '{}');
    await deviceA.publish('some/plain/topic', 'hello');

    await pushedTo(deviceB, app, b, 'barrier');
    const seen = deviceB.messages.filter((m) => m.seq >= mark);
    expect(seen.filter((m) => m.text.includes('forged') || m.text.includes('hello'))).toEqual([]);
    expect(seen.every((m) => m.topic.startsWith(kp1Topic(b, 'cex', 'command/barrier/')))).toBe(true);
  });

  it("A publishing a result with a wrong id on B's topic gets 404 and nothing of B changes", async () => {
    const a = await createEndpoint(app);
    const b = await createEndpoint(app, { appVersion: a.appVersion });
    const forB = await invokeCommand(app, b.endpointId, 'x');
    const deviceA = await connectDevice(app);
    await bindDevice(deviceA, a);
    const aCommand = await invokeCommand(app, a.endpointId, 'x');
    const reply = await deviceA.request(kp1Topic(b, 'cex', 'result/x'), JSON.stringify([{ id: Number(aCommand.id), statusCode: 200 }]));
    expect(reply.kind).toBe('error');
    expect(reply.json).toMatchObject({ statusCode: 404 });
    expect(await commandStatus(aCommand.id)).toBe('PENDING');
    expect(await commandStatus(forB.id)).toBe('PENDING');
  });
});
