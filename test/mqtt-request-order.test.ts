// One connection's kp1 requests are handled one at a time in arrival order, so its replies and
// PUBACKs keep the order of its requests [MQTT-4.6.0-2]; and a connection with a long queue does
// not hold up the others. aedes hands over a whole socket read at once, so both are ours to keep
// (src/devices/mqtt/authorize-publish.ts).
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint, invokeCommand, type Fixture } from './support/api.ts';
import { startApp, testConfig, waitFor } from './support/app.ts';
import { closeDevices, connectDevice, kp1Topic } from './support/mqtt.ts';
import { connectedRaw, type RawMqtt } from './support/security.ts';

let app: App;
const raws: RawMqtt[] = [];
beforeAll(async () => {
  // Budgets far above what these tests send: the order is under test here, not the limits.
  const budget = 100_000;
  app = await startApp({
    mqtt: {
      ...testConfig().mqtt,
      maxPublishesPerSecond: budget,
      maxPublishesPerTokenPerSecond: budget,
      maxPublishesPerAddressPerSecond: budget,
    },
  });
});
afterEach(async () => {
  for (const raw of raws.splice(0)) raw.destroy();
  await closeDevices();
});
afterAll(() => app?.stop());

const raw = async () => {
  const connection = await connectedRaw(app.mqttPort);
  raws.push(connection);
  return connection;
};

/** QoS 1 PUBLISH packets with message ids from `firstId`, for one TCP write. */
function burst(requests: { topic: string; payload: string }[], firstId = 1): Buffer {
  return Buffer.concat(
    requests.map(({ topic, payload }, i) =>
      mqttPacket.generate({ cmd: 'publish', topic, payload, qos: 1, messageId: firstId + i, retain: false, dup: false }),
    ),
  );
}

const pubacks = (packets: Packet[]) => packets.flatMap((p) => (p.cmd === 'puback' ? [p.messageId] : []));
/** The request id of each reply, in arrival order: `…/{requestId}/status` or `/error` (pushes have none). */
const replies = (packets: Packet[]) =>
  packets.flatMap((p) => {
    const requestId = p.cmd === 'publish' ? /\/(\d+)\/(status|error)$/.exec(p.topic)?.[1] : undefined;
    return requestId ? [Number(requestId)] : [];
  });

describe('requests on one connection', () => {
  it('are acknowledged and answered in the order they were sent, though writes are slower than reads', async () => {
    const fx = await createEndpoint(app);
    const commands: { id: string }[] = [];
    for (let i = 0; i < 10; i++) commands.push(await invokeCommand(app, fx.endpointId, 'x'));
    // A result (a write through the group commit), a poll (one read), a sample (a write), …
    const requests = Array.from({ length: 30 }, (_, i) => {
      const requestId = i + 1;
      if (i % 3 === 0) {
        const id = Number(commands[i / 3]!.id);
        return { topic: `${kp1Topic(fx, 'cex', 'result/x')}/${requestId}`, payload: JSON.stringify([{ id, statusCode: 200 }]) };
      }
      if (i % 3 === 1) return { topic: `${kp1Topic(fx, 'cex', 'command/x')}/${requestId}`, payload: '{}' };
      return { topic: `${kp1Topic(fx, 'dcx', 'json')}/${requestId}`, payload: `{"n":${i}}` };
    });
    const device = await raw();
    device.write(burst(requests));
    const ids = requests.map((_, i) => i + 1);
    const answered = () => `${replies(device.packets).length} replies`;
    await waitFor(() => replies(device.packets).length >= ids.length || device.closed, 20_000, answered);
    expect(device.closed).toBe(false);
    expect(pubacks(device.packets)).toEqual(ids);
    expect(replies(device.packets)).toEqual(ids);
    // Each reply came after its own PUBACK (the PUBACK says the request is stored).
    const position = (what: (p: Packet) => boolean) => device.packets.findIndex(what);
    for (const id of ids) {
      const acked = position((p) => p.cmd === 'puback' && p.messageId === id);
      expect(acked).toBeLessThan(position((p) => replies([p])[0] === id));
    }
    // And each poll saw the results sent before it, and none sent after it.
    for (const [i, request] of requests.entries()) {
      if (i % 3 !== 1) continue;
      const answer = device.packets.find((p) => replies([p])[0] === i + 1) as IPublishPacket;
      const listed = (JSON.parse(answer.payload.toString()) as { id: number }[]).map((c) => c.id);
      expect(listed, request.topic).toEqual(commands.slice(Math.ceil(i / 3)).map((c) => Number(c.id)));
    }
  });

  it('a second burst after the first was answered is handled in order too', async () => {
    const fx = await createEndpoint(app);
    const device = await raw();
    const poll = (requestId: number) => ({ topic: `${kp1Topic(fx, 'cex', 'command/x')}/${requestId}`, payload: '{}' });
    device.write(burst([poll(1), poll(2), poll(3)]));
    await waitFor(() => replies(device.packets).length >= 3, 20_000, () => `${replies(device.packets).length} replies`);
    device.write(burst([poll(4), poll(5), poll(6)], 4));
    await waitFor(() => replies(device.packets).length >= 6, 20_000, () => `${replies(device.packets).length} replies`);
    expect(replies(device.packets)).toEqual([1, 2, 3, 4, 5, 6]);
  });
});

describe('a connection with a long queue', () => {
  it("does not hold up another connection's request until its queue drains", async () => {
    const flooded: Fixture = await createEndpoint(app);
    const other = await createEndpoint(app);
    const device = await connectDevice(app);
    const flooder = await raw();
    const total = 300;
    const poll = kp1Topic(flooded, 'cex', 'command/x');
    flooder.write(burst(Array.from({ length: total }, (_, i) => ({ topic: `${poll}/${i + 1}`, payload: '{}' }))));
    // Sent once the server has started on the queue (its first PUBACK is out): by then what
    // it read of the burst is queued.
    expect(await flooder.next('puback'), 'no PUBACK for the burst').toBeDefined();
    const reply = await device.request(kp1Topic(other, 'cex', 'command/x'), '{}');
    const answeredBefore = replies(flooder.packets).length;
    expect(reply.kind).toBe('status');
    const answered = () => `${replies(flooder.packets).length} of ${total} replies`;
    await waitFor(() => replies(flooder.packets).length >= total, 20_000, answered);
    // Served between the queued requests, not after all of them (PGlite's queries never leave
    // the microtask queue: without a yield between requests, the queue ran to its end first).
    expect(answeredBefore, `${answeredBefore} of the ${total} queued were answered first`).toBeLessThan(total / 2);
    expect(replies(flooder.packets)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
  });
});
