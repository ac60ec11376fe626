// Two server processes on one database (here: two apps in one test process, each with its own
// pool, LISTEN connection, broker and HTTP server; with PGlite they share the worker's instance).
// A command invoked on one reaches a device connected to the other, and the device's result
// reaches an operator subscribed on the first.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { commandById, createEndpoint, invokeCommand, revokeEndpoint, setEndpointCredentials, type Command } from './support/api.ts';
import { collect, startApp, unique, untilSubscribed, waitFor, wsClient } from './support/app.ts';
import { CommandStatusChanged } from './support/documents.ts';
import { closeDevices, commandsIn, connectDevice, kp1Topic } from './support/mqtt.ts';

let appA: App;
let appB: App;
beforeAll(async () => {
  appA = await startApp();
  appB = await startApp();
});
afterEach(() => closeDevices());
afterAll(async () => {
  await appB?.stop();
  await appA?.stop();
});

describe('two processes on one database', () => {
  it('a device on B gets a command invoked on A; its result reaches a subscriber on A as EXECUTED', async () => {
    expect(appA.mqttPort).not.toBe(appB.mqttPort);
    const fx = await createEndpoint(appA);
    const device = await connectDevice(appB);
    const reply = await device.request(kp1Topic(fx, 'cex', 'command/reboot'), '{"observe":true}');
    expect(reply.json).toEqual([]);

    const ws = wsClient(appA);
    try {
      const sub = collect(ws, CommandStatusChanged, { endpointId: fx.endpointId });
      // Invoking on A is also the poke that proves the subscription is live.
      const invoked: Command[] = [];
      await untilSubscribed(sub, async () => invoked.push(await invokeCommand(appA, fx.endpointId, 'reboot', { n: invoked.length })));

      // Every command invoked on A reached the device on B, pushed without a new request.
      const ids = invoked.map((c) => Number(c.id));
      await device.until(() => {
        const pushed = device.on(kp1Topic(fx, 'cex', 'command/reboot/status')).flatMap((m) => commandsIn(m.text).map((c) => c.id));
        return ids.every((id) => pushed.includes(id));
      });
      const first = invoked[0]!;
      const pushed = device.on(kp1Topic(fx, 'cex', 'command/reboot/status'));
      expect(commandsIn(pushed[0]!.text)).toStrictEqual([{ id: Number(first.id), payload: { n: 0 } }]);

      const results = ids.map((id) => ({ id, statusCode: 200, reasonPhrase: 'OK', payload: 'Success' }));
      expect((await device.request(kp1Topic(fx, 'cex', 'result/reboot'), JSON.stringify(results))).kind).toBe('status');

      const events = await sub.waitFor((es) => ids.every((id) => es.some((e) => e.commandStatusChanged.id === String(id) && e.commandStatusChanged.status === 'EXECUTED')));
      const executed = events.find((e) => e.commandStatusChanged.id === String(first.id) && e.commandStatusChanged.status === 'EXECUTED');
      expect(executed?.commandStatusChanged).toEqual(
        expect.objectContaining({
          id: String(first.id),
          status: 'EXECUTED',
          statusCode: 200,
          reasonPhrase: 'OK',
          resultPayload: 'Success',
        }),
      );
      expect(sub.errors).toEqual([]);
      sub.dispose();

      // Both processes read the same state.
      expect((await commandById(appB, first.id)).status).toBe('EXECUTED');
    } finally {
      await ws.dispose();
    }
  });

  it('a device connected to both processes for one endpoint gets the command on each connection', async () => {
    const fx = await createEndpoint(appA);
    const onA = await connectDevice(appA);
    const onB = await connectDevice(appB);
    await onA.request(kp1Topic(fx, 'cex', 'command/zero'), '{}');
    await onB.request(kp1Topic(fx, 'cex', 'command/zero'), '{}');
    const c = await invokeCommand(appB, fx.endpointId, 'zero', { where: 'B' });
    for (const device of [onA, onB]) {
      const push = await device.next(kp1Topic(fx, 'cex', 'command/zero/status'));
      expect(commandsIn(push.text)).toStrictEqual([{ id: Number(c.id), payload: { where: 'B' } }]);
    }
  });

  it('revoking an endpoint on A closes its MQTT sessions on B, bound or only logged in', async () => {
    const fx = await createEndpoint(appA);
    const username = unique('user');
    await setEndpointCredentials(appA, fx, username, 'the-password');
    const bound = await connectDevice(appB, { username, password: 'the-password' });
    expect((await bound.request(kp1Topic(fx, 'cex', 'command/x'), '{}')).kind).toBe('status');
    const loggedIn = await connectDevice(appB, { username, password: 'the-password' });
    const other = await createEndpoint(appA, { appVersion: fx.appVersion });
    const unaffected = await connectDevice(appB);
    expect((await unaffected.request(kp1Topic(other, 'cex', 'command/x'), '{}')).kind).toBe('status');

    await revokeEndpoint(appA, fx.endpointId);
    await waitFor(() => bound.closed && loggedIn.closed, 5_000);
    // The other endpoint's session on B is still served.
    expect((await unaffected.request(kp1Topic(other, 'cex', 'command/x'), '{}')).kind).toBe('status');
    expect(unaffected.closed).toBe(false);
  });
});
