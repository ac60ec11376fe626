// The delivery timeline (issue 13): deliveredAt is the first proven delivery (an HTTP poll
// answer fully written, the PUBACK of an MQTT push), set once; deliveryCount counts them all;
// Command.events tells the story in order with who or what caused each step; the history
// filters PENDING commands by delivered / not delivered. Real devices over MQTT and HTTP.
import { connect } from 'node:net';
import postgres from 'postgres';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { graphql } from '../src/graphql/typed.ts';
import { createEndpoint, invokeCommand, type Fixture } from './support/api.ts';
import { gqlData, startApp, testConfig, unique, usingPostgres, waitFor } from './support/app.ts';
import { waitForStatus } from './support/commands.ts';
import { closeDevices, connectDevice, kp1Topic } from './support/mqtt.ts';

const Timeline = graphql(`
  query Timeline($id: ID!) {
    command(id: $id) {
      id
      status
      deliveredAt
      deliveryCount
      lastDeliveredVia
      expiredAt
      canceledAt
      events { type at cause { kind via invoker { name } endpoint { id } } }
    }
  }
`);
const Cancel = graphql(`mutation CancelForTimeline($id: ID!) { cancelCommand(id: $id) { id } }`);
const History = graphql(`
  query DeliveredHistory($endpointId: ID!, $delivered: Boolean) {
    commandHistory(endpointId: $endpointId, delivered: $delivered, first: 100) { edges { node { id } } }
  }
`);
const Fleet = graphql(`
  query DeliveredFleet($filter: CommandFilter) { commands(filter: $filter, first: 100) { edges { node { id } } } }
`);

// Big enough that a reply cannot fit in the sockets' buffers when the device stops reading.
const BIG_PAYLOAD_BYTES = 1_500_000;

let app: App;
beforeAll(async () => {
  const { graphql: limits } = testConfig();
  app = await startApp({
    maxCommandPayloadBytes: 2 * BIG_PAYLOAD_BYTES,
    graphql: { ...limits, maxRequestBytes: 4 * BIG_PAYLOAD_BYTES },
  });
});
afterEach(() => closeDevices());
afterAll(() => app?.stop());

const timeline = async (id: string) => (await gqlData(app, Timeline, { id })).command!;

/** Waits until the command has been delivered `count` times (deliveries are written off the device's path). */
const deliveredTimes = (id: string, count: number) =>
  waitFor(
    async () => {
      const c = await timeline(id);
      return c.deliveryCount >= count ? c : undefined;
    },
    10_000,
    () => `command ${id} was not delivered ${count} times`,
  );

async function poll(fx: Fixture, type: string): Promise<unknown[]> {
  const res = await fetch(`${app.url}/kp1/${fx.appVersion}/cex/${fx.token}/command/${type}`, { method: 'POST', body: '{}' });
  expect(res.status).toBe(200);
  return (await res.json()) as unknown[];
}

async function report(fx: Fixture, type: string, id: string): Promise<void> {
  const res = await fetch(`${app.url}/kp1/${fx.appVersion}/cex/${fx.token}/result/${type}`, {
    method: 'POST',
    body: JSON.stringify([{ id: Number(id), statusCode: 200, reasonPhrase: 'OK' }]),
  });
  expect(res.status).toBe(200);
}

/**
 * A marker: a poll of another endpoint, delivered. Deliveries are written in arrival order, so
 * once the marker's is stored, any delivery recorded before it is too.
 */
async function deliveredMarker(): Promise<void> {
  const fx = await createEndpoint(app);
  const c = await invokeCommand(app, fx.endpointId, 'marker');
  await poll(fx, 'marker');
  await deliveredTimes(c.id, 1);
}

describe('MQTT: delivered on the PUBACK of the push', () => {
  it('an offline device shows no deliveredAt; connecting and acknowledging sets it once, a second push only counts', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot', { delay: 5 });
    expect(await timeline(c.id)).toMatchObject({ deliveredAt: null, deliveryCount: 0, lastDeliveredVia: null });

    // Binding the connection pushes the backlog; mqtt.js answers the QoS 1 push with a PUBACK.
    const first = await connectDevice(app, { clientId: unique('timeline') });
    await first.subscribe(kp1Topic(fx, 'cex', 'command/reboot/status'));
    await first.next(kp1Topic(fx, 'cex', 'command/reboot/status'));
    const once = await deliveredTimes(c.id, 1);
    expect(once).toMatchObject({ deliveryCount: 1, lastDeliveredVia: 'MQTT', status: 'PENDING' });
    expect(once.deliveredAt).not.toBeNull();
    await first.close();

    // Pushed again on the next connection: counted, and deliveredAt stays the first one.
    const second = await connectDevice(app, { clientId: unique('timeline') });
    await second.subscribe(kp1Topic(fx, 'cex', 'command/reboot/status'));
    await second.next(kp1Topic(fx, 'cex', 'command/reboot/status'));
    const twice = await deliveredTimes(c.id, 2);
    expect(twice.deliveryCount).toBe(2);
    expect(twice.deliveredAt).toBe(once.deliveredAt);
    const delivered = twice.events.filter((e) => e.type === 'DELIVERED');
    expect(delivered.map((e) => e.cause)).toEqual([
      { kind: 'TRANSPORT', via: 'MQTT', invoker: null, endpoint: null },
      { kind: 'TRANSPORT', via: 'MQTT', invoker: null, endpoint: null },
    ]);
    expect(delivered[0]!.at).toBe(once.deliveredAt);
  });

  it('a push the device never acknowledges is not a delivery', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    // mqtt.js sends the PUBACK when handleMessage calls back; this one never does.
    device.client.handleMessage = () => {};
    await device.subscribe(kp1Topic(fx, 'cex', 'command/reboot/status'));
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    await device.next(kp1Topic(fx, 'cex', 'command/reboot/status'));
    await deliveredMarker();
    expect(await timeline(c.id)).toMatchObject({ deliveredAt: null, deliveryCount: 0 });
  });
});

describe('HTTP: delivered when the poll answer is fully written', () => {
  it('a poll sets deliveredAt via HTTP; the next poll counts and keeps it', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    expect(await poll(fx, 'reboot')).toHaveLength(1);
    const once = await deliveredTimes(c.id, 1);
    expect(once).toMatchObject({ deliveryCount: 1, lastDeliveredVia: 'HTTP' });
    expect(await poll(fx, 'reboot')).toHaveLength(1);
    const twice = await deliveredTimes(c.id, 2);
    expect(twice.deliveredAt).toBe(once.deliveredAt);
  });

  it('a poll whose answer the device stops reading and aborts is not a delivery', async () => {
    const fx = await createEndpoint(app);
    const ids: string[] = [];
    for (let i = 0; i < 8; i++) ids.push((await invokeCommand(app, fx.endpointId, 'firmware', { blob: 'x'.repeat(BIG_PAYLOAD_BYTES) })).id);
    // About 12 MB of answer: the device reads the first bytes, stops, and goes away.
    await new Promise<void>((resolve, reject) => {
      const socket = connect(app.httpPort, '127.0.0.1', () => {
        const path = `/kp1/${fx.appVersion}/cex/${fx.token}/command/firmware`;
        socket.write(`POST ${path} HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}`);
      });
      socket.once('data', (chunk) => {
        expect(chunk.toString('latin1')).toMatch(/^HTTP\/1\.1 200/);
        socket.pause();
        socket.destroy();
        resolve();
      });
      socket.once('error', reject);
    });
    await deliveredMarker();
    for (const id of ids) expect(await timeline(id)).toMatchObject({ deliveredAt: null, deliveryCount: 0 });
  });
});

describe('deliveries and results on the same rows', () => {
  it.skipIf(!usingPostgres)('a delivery never waits for a row another transaction holds; it lands once the row is free', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    const sql = postgres(process.env['TEST_DATABASE_URL']!, { max: 1, onnotice: () => {} });
    try {
      let release!: () => void;
      const held = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      const holder = sql.begin(async (tx) => {
        await tx`select id from commands where id = ${Number(c.id)} for no key update`;
        locked();
        await held;
      });
      await isLocked;
      await poll(fx, 'reboot');
      // Other deliveries go on meanwhile (the batch skipped the held row instead of waiting).
      await deliveredMarker();
      expect((await timeline(c.id)).deliveryCount).toBe(0);
      release();
      await holder;
      const once = await deliveredTimes(c.id, 1);
      expect(once).toMatchObject({ deliveryCount: 1, lastDeliveredVia: 'HTTP' });
      expect(once.events.filter((e) => e.type === 'DELIVERED')).toHaveLength(1);
    } finally {
      await sql.end();
    }
  });
});

describe('Command.events', () => {
  it('created by the invoker, delivered by the transport, executed by the device', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    await poll(fx, 'reboot');
    await deliveredTimes(c.id, 1);
    await report(fx, 'reboot', c.id);
    const t = await timeline(c.id);
    expect(t.events.map((e) => [e.type, e.cause.kind])).toEqual([
      ['CREATED', 'OPERATOR'],
      ['DELIVERED', 'TRANSPORT'],
      ['EXECUTED', 'DEVICE'],
    ]);
    expect(t.events[0]!.cause.invoker).not.toBeNull();
    expect(t.events[2]!.cause.endpoint).toEqual({ id: fx.endpointId });
    const times = t.events.map((e) => Date.parse(e.at));
    expect([...times].sort((x, y) => x - y)).toEqual(times);
  });

  it('a result after cancel is a LATE_RESULT after the CANCELED of the key that canceled', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    await poll(fx, 'reboot');
    await deliveredTimes(c.id, 1);
    await gqlData(app, Cancel, { id: c.id });
    await report(fx, 'reboot', c.id);
    const t = await timeline(c.id);
    expect(t.status).toBe('EXECUTED');
    expect(t.events.map((e) => [e.type, e.cause.kind])).toEqual([
      ['CREATED', 'OPERATOR'],
      ['DELIVERED', 'TRANSPORT'],
      ['CANCELED', 'OPERATOR'],
      ['LATE_RESULT', 'DEVICE'],
    ]);
    expect(t.events[2]!.cause.invoker).toEqual(t.events[0]!.cause.invoker);
  });

  it('a result after expiry keeps the expiry time: EXPIRED by the server, then LATE_RESULT', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot', null, 1);
    await waitForStatus(app, c.id, 'EXPIRED');
    await report(fx, 'reboot', c.id);
    const t = await timeline(c.id);
    expect(t.status).toBe('EXECUTED');
    expect(t.expiredAt).not.toBeNull();
    expect(t.events.map((e) => [e.type, e.cause.kind])).toEqual([
      ['CREATED', 'OPERATOR'],
      ['EXPIRED', 'SERVER'],
      ['LATE_RESULT', 'DEVICE'],
    ]);
    expect(t.events[1]!.at).toBe(t.expiredAt);
  });
});

describe('the history filter by delivery', () => {
  it('delivered: true / false picks the PENDING commands that were / were not delivered, per endpoint and fleet-wide', async () => {
    const fx = await createEndpoint(app);
    const done = await invokeCommand(app, fx.endpointId, 'a');
    await poll(fx, 'a');
    await report(fx, 'a', done.id);
    const delivered = await invokeCommand(app, fx.endpointId, 'b');
    await poll(fx, 'b');
    await deliveredTimes(delivered.id, 1);
    const waiting = await invokeCommand(app, fx.endpointId, 'c');

    const ids = async (value: boolean | null) =>
      (await gqlData(app, History, { endpointId: fx.endpointId, delivered: value })).commandHistory.edges.map((e) => e.node.id);
    expect(await ids(true)).toEqual([delivered.id]);
    expect(await ids(false)).toEqual([waiting.id]);
    expect(await ids(null)).toEqual([waiting.id, delivered.id, done.id]);

    const fleet = async (filter: Record<string, unknown>) =>
      (await gqlData(app, Fleet, { filter: { application: fx.application, ...filter } })).commands.edges.map((e) => e.node.id);
    expect(await fleet({ delivered: true })).toEqual([delivered.id]);
    expect(await fleet({ delivered: false })).toEqual([waiting.id]);
    expect(await fleet({ endpointId: fx.endpointId, delivered: false })).toEqual([waiting.id]);
  });
});
