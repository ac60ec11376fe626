// One token flooding the MQTT listener, reconnecting whenever it is dropped, must neither get
// more than its budget stored nor slow down the other devices (issue 12, item 6).
import { connect as tcpConnect } from 'node:net';
import { MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint, invokeCommand, type Fixture } from './support/api.ts';
import { startApp, testConfig, unique, waitFor } from './support/app.ts';
import { Device, closeDevices, connectDevice, kp1Topic } from './support/mqtt.ts';
import { sleep } from './support/security.ts';

/**
 * An mqtt.js client from `localAddress` (any 127.x address is this host) that publishes QoS 0
 * telemetry and results on its token as fast as the socket takes them, and reconnects at once
 * whenever the server drops it.
 */
function startFlooder(app: App, fx: Fixture, commandId: number, localAddress = '127.0.0.1') {
  const client = new MqttClient(() => tcpConnect({ port: app.mqttPort, host: '127.0.0.1', localAddress }), {
    protocolVersion: 4,
    clientId: unique('flooder'),
    reconnectPeriod: 10,
    connectTimeout: 5_000,
  });
  client.on('error', () => {});
  const stats = { sent: 0, connects: 0 };
  client.on('connect', () => stats.connects++);
  let stopped = false;
  const telemetry = kp1Topic(fx, 'dcx', 'json');
  const result = kp1Topic(fx, 'cex', 'result/flood');
  const resultBody = JSON.stringify([{ id: commandId, statusCode: 200 }]);
  const loop = (async () => {
    while (!stopped) {
      const stream = client.stream as { writableNeedDrain?: boolean } | undefined;
      if (client.connected && !stream?.writableNeedDrain) {
        for (let i = 0; i < 50; i++, stats.sent++) {
          if (i % 2) client.publish(result, resultBody, { qos: 0 });
          else client.publish(telemetry, `{"n":${stats.sent}}`, { qos: 0 });
        }
      }
      // Yields to the server and the honest devices in this process, as little as possible.
      await new Promise((resolve) => setImmediate(resolve));
    }
  })();
  return {
    stats,
    async stop() {
      stopped = true;
      await loop;
      await client.endAsync(true);
    },
  };
}

/** Publishes one result per command, one every `gapMs`, and returns each PUBACK's round trip. */
async function reportResults(device: Device, fx: Fixture, ids: number[], gapMs: number): Promise<number[]> {
  const rtts: number[] = [];
  for (const id of ids) {
    const started = performance.now();
    await device.publish(kp1Topic(fx, 'cex', 'result/work'), JSON.stringify([{ id, statusCode: 200 }]));
    rtts.push(performance.now() - started);
    await sleep(gapMs);
  }
  return rtts;
}

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterEach(() => closeDevices());
afterAll(() => app?.stop());

describe('one token flooding', () => {
  it("stores no more than the token's budget across reconnects, and other devices' PUBACKs stay fast", async () => {
    const calm = 20;
    const flooded = 40;
    const flooderFx = await createEndpoint(app);
    const floodCommand = Number((await invokeCommand(app, flooderFx.endpointId, 'flood')).id);
    const honest = await Promise.all(
      Array.from({ length: 4 }, async () => {
        const fx = await createEndpoint(app);
        const invoked = await Promise.all(Array.from({ length: 1 + 2 * calm + flooded }, () => invokeCommand(app, fx.endpointId, 'work')));
        return { fx, ids: invoked.map((c) => Number(c.id)), device: await connectDevice(app) };
      }),
    );
    const measure = async (count: number) =>
      (await Promise.all(honest.map(({ device, fx, ids }) => reportResults(device, fx, ids.splice(0, count), 40)))).flat();
    // Warm-up, then the round trips without a flood, before and after it: this machine's own
    // pace, whatever else runs on it meanwhile.
    await measure(1);
    const before = percentile(await measure(calm), 99);

    const flooder = startFlooder(app, flooderFx, floodCommand);
    const started = Date.now();
    const rtts = await measure(flooded);
    const seconds = (Date.now() - started) / 1000;
    await flooder.stop();
    const baseline = Math.max(before, percentile(await measure(calm), 99));

    const stored = (await app.services.telemetry.latest(flooderFx.endpointId, 1000)).length;
    const p99 = percentile(rtts, 99);
    const report =
      `PUBACK p99 ${baseline.toFixed(1)} ms calm, ${p99.toFixed(1)} ms flooded (p50 ${percentile(rtts, 50).toFixed(1)}, ` +
      `${rtts.length} PUBACKs); the flooder sent ${flooder.stats.sent} in ${seconds.toFixed(1)} s over ` +
      `${flooder.stats.connects} connections, ${stored} samples stored`;
    console.info(report);
    // The flood went on for the whole measurement.
    expect(flooder.stats.sent, report).toBeGreaterThan(1_000);
    // Half the flood is telemetry: no more is stored than the token's burst (2 × rate) and its
    // rate over the time, whatever the reconnects.
    const { maxPublishesPerTokenPerSecond: rate } = app.config.mqtt;
    expect(stored, report).toBeLessThanOrEqual(2 * rate + rate * (seconds + 1));
    // Without the fix the flood costs the others seconds (2,000+ ms, 15 × calm). The 50 ms goal is
    // a timing goal (printed above; tens of ms on a quiet machine); the bound here is generous
    // so a loaded CI box does not fail it, and still far below what the flood did before.
    expect(p99, report).toBeLessThan(Math.max(250, 4 * baseline));
  }, 120_000);
});

describe('budgets that outlive connections', () => {
  let limited: App;
  const opened: Device[] = [];
  /** A device connecting from `localAddress`, as another host would. */
  const connectFrom = async (localAddress: string): Promise<Device> => {
    const client = new MqttClient(() => tcpConnect({ port: limited.mqttPort, host: '127.0.0.1', localAddress }), {
      protocolVersion: 4,
      clientId: unique('dev'),
      reconnectPeriod: 0,
    });
    await new Promise<void>((resolve, reject) => {
      client.once('connect', () => resolve());
      client.once('error', reject);
    });
    (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
    const device = new Device(client);
    opened.push(device);
    return device;
  };
  const publishAll = (device: Device, topics: string[], qos: 0 | 1 = 1) =>
    Promise.allSettled(topics.map((topic, i) => device.publish(topic, `{"i":${i}}`, { qos })));

  beforeAll(async () => {
    limited = await startApp({
      mqtt: { ...testConfig().mqtt, maxPublishesPerTokenPerSecond: 1, maxPublishesPerAddressPerSecond: 20 },
    });
  });
  afterEach(async () => {
    await Promise.all(opened.splice(0).map((d) => d.close().catch(() => {})));
  });
  afterAll(() => limited?.stop());

  const ackedOf = (outcomes: PromiseSettledResult<void>[]) => outcomes.filter((o) => o.status === 'fulfilled').length;

  it('a token over its budget is dropped, stays refused when it reconnects, and nothing past its budget is stored', async () => {
    const fx = await createEndpoint(limited);
    const other = await createEndpoint(limited);
    const telemetry = Array.from({ length: 20 }, () => kp1Topic(fx, 'dcx', 'json'));
    const { maxPublishesPerTokenPerSecond: rate } = limited.config.mqtt;

    // 20 samples at once against a burst of 2 × 1: the connection is dropped, and of what it
    // sent only what was acknowledged is stored (nothing queued behind the refusal).
    const started = Date.now();
    const first = await connectFrom('127.0.0.2');
    const acked = ackedOf(await publishAll(first, telemetry));
    await waitFor(() => first.closed, 5_000, () => 'the flooding connection is still open');
    expect(acked).toBeLessThanOrEqual(2 * rate);

    // A new connection does not get a new budget (per connection it would be 400): it gets only
    // what the token's bucket refilled since.
    const again = await connectFrom('127.0.0.2');
    const ackedAgain = ackedOf(await publishAll(again, telemetry));
    const seconds = (Date.now() - started) / 1000;
    await waitFor(() => again.closed, 5_000, () => 'the reconnected flooder is still open');
    expect(ackedAgain).toBeLessThanOrEqual(Math.floor(rate * seconds) + 1);
    expect((await limited.services.telemetry.latest(fx.endpointId, 1000)).length).toBe(acked + ackedAgain);

    // Another token from the same address has its own budget.
    const neighbour = await connectFrom('127.0.0.2');
    expect((await neighbour.request(kp1Topic(other, 'dcx', 'json'), '{"ok":1}')).kind).toBe('status');
    expect(neighbour.closed).toBe(false);
  });

  // Only a kp1 topic's token has a budget: a topic outside kp1 with a token at that level, or a
  // kp1 topic with a malformed token (any long text would be a key), spends no token's budget.
  it.each([
    ['outside kp1 naming a token where kp1 has it', (fx: Fixture) => `x/${fx.appVersion}/dcx/${fx.token}/json`],
    ['in kp1 with a malformed token', (fx: Fixture) => `kp1/${fx.appVersion}/dcx/not a token/json`],
  ])('publishes %s spend no token budget', async (_what, topicOf) => {
    const fx = await createEndpoint(limited);
    const { maxPublishesPerTokenPerSecond: rate } = limited.config.mqtt;
    const device = await connectFrom('127.0.0.5');
    const topics = Array.from({ length: 4 * rate }, () => topicOf(fx));
    expect(ackedOf(await publishAll(device, topics))).toBe(topics.length);
    // The device's own token still has its burst, on the same connection.
    for (let i = 0; i < 2 * rate; i++) expect((await device.request(kp1Topic(fx, 'dcx', 'json'), '{"ok":1}')).kind).toBe('status');
    expect(device.closed).toBe(false);
  });

  it("an address's budget is shared by its connections; other addresses keep theirs", async () => {
    const { maxPublishesPerAddressPerSecond: rate } = limited.config.mqtt;
    const topics = Array.from({ length: 3 * rate }, (_, i) => `not-kp1/${i}`);
    // 3 × rate publishes against a burst of 2 × rate from one address: dropped, though the
    // connection's own budget (burst 400) is far from spent.
    const started = Date.now();
    const flooder = await connectFrom('127.0.0.3');
    expect(ackedOf(await publishAll(flooder, topics))).toBeLessThanOrEqual(2 * rate);
    await waitFor(() => flooder.closed, 5_000, () => 'the flooding address is still served');

    // Reconnecting from there gets only what the address's bucket refilled since.
    const again = await connectFrom('127.0.0.3');
    const ackedAgain = ackedOf(await publishAll(again, topics));
    const seconds = (Date.now() - started) / 1000;
    await waitFor(() => again.closed, 5_000, () => 'the reconnected address is still served');
    expect(ackedAgain).toBeLessThanOrEqual(Math.floor(rate * seconds) + 1);

    // Another address is not affected.
    const elsewhere = await connectFrom('127.0.0.4');
    expect(ackedOf(await publishAll(elsewhere, topics.slice(0, rate)))).toBe(rate);
    expect(elsewhere.closed).toBe(false);
  });
});
