// What the MQTT listener keeps per connection goes with the connection: sessions of a socket that
// closed, however the close and the connection's pending requests interleave.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint } from './support/api.ts';
import { startApp, waitFor } from './support/app.ts';
import { kp1Topic } from './support/mqtt.ts';
import { connectedRaw, sleep } from './support/security.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

describe('connection state', () => {
  it('a connection that closes while its subscription is checked is not left bound', async () => {
    const { sessions } = app.mqtt;
    // A fresh token each, so the lookup goes to the database. On PostgreSQL it ends after the reset
    // is read (the race this is about); in-process PGlite answers before the server reads it.
    const endpoints = await Promise.all(Array.from({ length: 8 }, () => createEndpoint(app)));
    const raws = await Promise.all(endpoints.map(() => connectedRaw(app.mqttPort)));
    const bound = sessions.connectionCount;
    endpoints.forEach((fx, i) => {
      const raw = raws[i]!;
      raw.write({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: kp1Topic(fx, 'cex', 'command/zero/status'), qos: 1 }] });
      // A reset reaches the server at once: aedes reads a FIN only after the SUBSCRIBE is handled.
      raw.socket.resetAndDestroy();
    });
    await waitFor(() => raws.every((raw) => raw.closed));
    // The lookups end after the closes; give them time to bind anything they would.
    await sleep(1_000);
    expect(sessions.connectionCount).toBe(bound);
    expect(endpoints.filter((fx) => [...sessions.bindingsOf(fx.endpointId)].length > 0)).toEqual([]);
  });

  it('a bound connection is forgotten when it closes, and its endpoint with it', async () => {
    const { sessions } = app.mqtt;
    const fx = await createEndpoint(app);
    const raw = await connectedRaw(app.mqttPort);
    raw.write({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: kp1Topic(fx, 'cex', 'command/zero/status'), qos: 1 }] });
    expect((await raw.next('suback'))?.granted).toEqual([1]);
    expect([...sessions.bindingsOf(fx.endpointId)]).toHaveLength(1);
    raw.destroy();
    await waitFor(() => [...sessions.bindingsOf(fx.endpointId)].length === 0);
  });
});
