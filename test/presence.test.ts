// Endpoint.connected and Endpoint.lastSeenAt across server processes: two apps on one database
// (each with its own broker, pool and presence heartbeat), as two processes behind a load
// balancer. Heartbeats are fast here so that a dead process's sessions go within the test.
import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint, endpointById, type Fixture } from './support/api.ts';
import { startApp, waitFor } from './support/app.ts';
import { rawQuery } from './support/db.ts';
import { bindDevice, closeDevices, connectDevice } from './support/mqtt.ts';

const presence = { heartbeatMs: 100, staleAfterMs: 1_000, lastSeenThrottleMs: 30_000, flushMs: 20 };
let a: App;
let b: App;
beforeAll(async () => {
  [a, b] = await Promise.all([startApp({ presence }), startApp({ presence })]);
});
afterEach(() => closeDevices());
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

async function presenceOf(on: App, fx: Fixture): Promise<{ connected: boolean; lastSeenAt: string | null }> {
  const endpoint = await endpointById(on, fx.endpointId);
  if (!endpoint) throw new Error(`No endpoint ${fx.endpointId}`);
  return { connected: endpoint.connected, lastSeenAt: endpoint.lastSeenAt };
}

const connectedOn = async (fx: Fixture, expected: boolean, apps: App[] = [a, b]) => {
  for (const app of apps) {
    await waitFor(async () => (await presenceOf(app, fx)).connected === expected, 5_000, () => `connected should be ${expected}`);
  }
};

const poll = (app: App, fx: Fixture) =>
  fetch(`${app.url}/kp1/${fx.appVersion}/cex/${fx.token}/command/x`, { method: 'POST', body: '{}' }).then((r) => r.status);

describe('Endpoint.connected', () => {
  it('is true in every process while any process holds an MQTT session for the endpoint', async () => {
    const fx = await createEndpoint(a);
    expect(await presenceOf(b, fx)).toEqual({ connected: false, lastSeenAt: null });

    const onA = await connectDevice(a);
    await bindDevice(onA, fx);
    await connectedOn(fx, true);
    const onB = await connectDevice(b);
    await bindDevice(onB, fx);

    await onA.close();
    // B still holds a session: connected stays true everywhere.
    await new Promise((r) => setTimeout(r, 200));
    expect((await presenceOf(a, fx)).connected).toBe(true);
    await onB.close();
    await connectedOn(fx, false);
  });

  it('is false for an endpoint whose only device speaks HTTP, and for a connection bound to another endpoint', async () => {
    const fx = await createEndpoint(a);
    const other = await createEndpoint(a, { appVersion: fx.appVersion });
    expect(await poll(a, fx)).toBe(200);
    const device = await connectDevice(b);
    await bindDevice(device, other);
    await connectedOn(other, true, [a]);
    expect((await presenceOf(a, fx)).connected).toBe(false);
  });

  it("goes false when the process holding the session stops, and a crashed process's sessions expire", async () => {
    const third = await startApp({ presence });
    const fx = await createEndpoint(a);
    try {
      const device = await connectDevice(third);
      await bindDevice(device, fx);
      await connectedOn(fx, true, [a]);
    } finally {
      await third.stop();
    }
    // Stopped cleanly: its rows are gone at once, not after the heartbeat goes stale.
    expect((await presenceOf(a, fx)).connected).toBe(false);

    // A process that crashed: its instance row stays with a heartbeat nobody refreshes.
    const crashed = randomUUID();
    await rawQuery('insert into server_instances (id) values ($1)', [crashed]);
    await rawQuery('insert into endpoint_sessions (instance_id, endpoint_id) values ($1, $2)', [crashed, fx.endpointId]);
    expect((await presenceOf(b, fx)).connected).toBe(true);
    await connectedOn(fx, false);
    // …and the live processes remove its rows.
    await waitFor(async () => (await rawQuery('select 1 from server_instances where id = $1', [crashed])).length === 0, 5_000);
    expect(await rawQuery('select 1 from endpoint_sessions where instance_id = $1', [crashed])).toEqual([]);
  });

  it('comes back when a live process was taken for dead (its rows removed) while it held sessions', async () => {
    // Its own process with a slow heartbeat: the one check of the gap (sessions gone with the
    // instance row) runs well inside a heartbeat, which would put them back, even on a busy machine.
    const slow = await startApp({ presence: { ...presence, heartbeatMs: 2_000, staleAfterMs: 20_000 } });
    try {
      const fx = await createEndpoint(a);
      const device = await connectDevice(slow);
      await bindDevice(device, fx);
      await connectedOn(fx, true, [a]);
      const id = slow.services.presence.instanceId;
      await rawQuery('delete from server_instances where id = $1', [id]);
      expect(await rawQuery('select 1 from endpoint_sessions where instance_id = $1', [id])).toHaveLength(0);
      await connectedOn(fx, true, [a]);
    } finally {
      await slow.stop();
    }
  });
});

describe('Endpoint.lastSeenAt', () => {
  it('is set by kp1 requests over HTTP and MQTT and by binding, at most once per throttle period', async () => {
    const fx = await createEndpoint(a);
    const before = Date.now();
    expect(await poll(a, fx)).toBe(200);
    const first = await waitFor(async () => (await presenceOf(b, fx)).lastSeenAt ?? undefined, 5_000);
    expect(Date.parse(first)).toBeGreaterThanOrEqual(before - 1_000);
    expect(Date.parse(first)).toBeLessThanOrEqual(Date.now() + 1_000);

    // More requests within 30 s, through both processes and MQTT, write nothing.
    expect(await poll(b, fx)).toBe(200);
    const device = await connectDevice(a);
    await bindDevice(device, fx);
    await connectedOn(fx, true, [b]);
    await new Promise((r) => setTimeout(r, 200));
    expect((await presenceOf(a, fx)).lastSeenAt).toBe(first);

    // An MQTT request alone sets it too.
    const mqttOnly = await createEndpoint(a, { appVersion: fx.appVersion });
    const other = await connectDevice(b);
    await bindDevice(other, mqttOnly);
    await waitFor(async () => (await presenceOf(a, mqttOnly)).lastSeenAt !== null, 5_000);
  });

  it('is moved forward once the throttle period has passed', async () => {
    const fast = await startApp({ presence: { ...presence, lastSeenThrottleMs: 300 } });
    try {
      const fx = await createEndpoint(fast);
      expect(await poll(fast, fx)).toBe(200);
      const first = await waitFor(async () => (await presenceOf(fast, fx)).lastSeenAt ?? undefined, 5_000);
      await new Promise((r) => setTimeout(r, 400));
      expect(await poll(fast, fx)).toBe(200);
      const second = await waitFor(async () => {
        const seen = (await presenceOf(fast, fx)).lastSeenAt;
        return seen !== first ? seen : undefined;
      }, 5_000);
      expect(Date.parse(second!) - Date.parse(first)).toBeGreaterThanOrEqual(300);
    } finally {
      await fast.stop();
    }
  });
});
