// What src/devices/mqtt/aedes-internals.ts relies on in aedes and mqtt-packet, checked on a bare
// aedes broker with real sockets: if an upgrade changes it, these fail rather than the limits
// silently going away.
import { createServer, type AddressInfo, type Server } from 'node:net';
import { PassThrough } from 'node:stream';
import { Aedes } from 'aedes';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { capPacketSize, dropClientPublishes } from '../src/devices/mqtt/aedes-internals.ts';
import { CONNECT_HEADER, PUBLISH_HEADER, RawMqtt, announce, connectedRaw, sleep } from './support/security.ts';

const limits = { maxPacketBytes: 2_000, maxConnectPacketBytes: 500 };

async function listen(broker: Aedes, onClient: (client: ReturnType<Aedes['handle']>) => void): Promise<Server> {
  const server = createServer((socket) => onClient(broker.handle(socket)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}
const portOf = (server: Server) => (server.address() as AddressInfo).port;

describe('capPacketSize', () => {
  let broker: Aedes;
  let server: Server;
  beforeAll(async () => {
    broker = await Aedes.createBroker();
    server = await listen(broker, (client) => capPacketSize(client, limits));
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it('finds the length parser on every client aedes creates', () => {
    const client = broker.handle(new PassThrough() as never);
    const parser = (client as unknown as { _parser?: { _parseLength?: unknown } })._parser;
    expect(typeof parser?._parseLength).toBe('function');
    client.close();
  });

  it('closes a connection as soon as a CONNECT announces more than the CONNECT limit', async () => {
    const raw = await RawMqtt.open(portOf(server));
    raw.write(announce(CONNECT_HEADER, limits.maxConnectPacketBytes + 1));
    expect(await raw.closedWithin(2_000)).toBe(true);
  });

  it('lets a small CONNECT through, then closes on a PUBLISH that announces more than the packet limit', async () => {
    const raw = await connectedRaw(portOf(server));
    raw.write({ cmd: 'publish', topic: 'a', payload: Buffer.alloc(limits.maxConnectPacketBytes * 2), qos: 0, dup: false, retain: false });
    raw.write({ cmd: 'pingreq' });
    expect(await raw.next('pingresp')).toBeDefined();
    raw.write(announce(PUBLISH_HEADER, limits.maxPacketBytes + 1));
    expect(await raw.closedWithin(2_000)).toBe(true);
  });
});

describe('dropClientPublishes', () => {
  let broker: Aedes;
  let server: Server;
  beforeAll(async () => {
    broker = await Aedes.createBroker();
    dropClientPublishes(broker);
    server = await listen(broker, () => {});
  });
  afterAll(async () => {
    await new Promise<void>((resolve) => broker.close(() => resolve()));
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("acknowledges a client's messages but neither relays nor retains them; the broker's own still go out", async () => {
    const url = `mqtt://127.0.0.1:${portOf(server)}`;
    const listener = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    const publisher = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
    try {
      const received: string[] = [];
      listener.on('message', (_topic, payload) => received.push(payload.toString()));
      await listener.subscribeAsync('news', { qos: 1 });

      await publisher.publishAsync('news', 'from a client', { qos: 1, retain: true });
      await publisher.publishAsync('news', 'from a client, qos 0', { qos: 0 });
      await new Promise<void>((resolve, reject) =>
        broker.publish({ cmd: 'publish', topic: 'news', payload: Buffer.from('from the broker'), qos: 0, dup: false, retain: false }, (e) =>
          e ? reject(e) : resolve(),
        ),
      );
      await sleep(200);
      expect(received).toEqual(['from the broker']);

      const late = await mqtt.connectAsync(url, { reconnectPeriod: 0 });
      const retained: string[] = [];
      late.on('message', (_topic, payload) => retained.push(payload.toString()));
      await late.subscribeAsync('news', { qos: 1 });
      await sleep(200);
      await late.endAsync();
      expect(retained).toEqual([]);
    } finally {
      await listener.endAsync();
      await publisher.endAsync();
    }
  });
});
