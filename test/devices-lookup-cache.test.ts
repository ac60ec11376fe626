// Endpoint lookups cached per server: a new endpoint, a revocation or new credentials on one server reach another's cache at once.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint, type Fixture, invokeCommand, revokeEndpoint, setEndpointCredentials } from './support/api.ts';
import { startApp, unique, waitFor } from './support/app.ts';
import { kp1, rows } from './support/devices-concurrency.ts';
import { commandsIn } from './support/mqtt.ts';

let a: App;
let b: App;
beforeAll(async () => {
  [a, b] = await Promise.all([startApp(), startApp()]);
});
afterAll(async () => {
  await Promise.all([a?.stop(), b?.stop()]);
});

/** How long an endpoint lookup may be reused (LOOKUP_TTL_MS in src/domain/registry.ts). */
const LOOKUP_TTL_MS = 2_000;

describe('endpoint lookups cached per server', () => {
  /**
   * Runs `scenario` until it shows `refused` at server A sooner than A's cache entry could have
   * expired by itself (at most 3 tries, for a loaded machine). `scenario` returns when A first
   * served the endpoint (so its entry was loaded no earlier) and when A first refused it.
   */
  async function refusedBeforeTtl(scenario: () => Promise<{ servedAt: number; refusedAt: number }>): Promise<void> {
    const spans: number[] = [];
    for (let attempt = 0; attempt < 3; attempt++) {
      const { servedAt, refusedAt } = await scenario();
      spans.push(refusedAt - servedAt);
      if (refusedAt - servedAt < LOOKUP_TTL_MS) return;
    }
    throw new Error(`server A kept serving for ${spans.join(', ')} ms: no sooner than its cache TTL (${LOOKUP_TTL_MS} ms)`);
  }

  /** Polls server A with the token alone until it refuses it (401, never anything else); returns when. */
  async function refusedOnA(fx: Fixture, stillServed: string): Promise<number> {
    let refusedAt = 0;
    await waitFor(
      async () => {
        const reply = await kp1(a, fx, 'command/x', {});
        if (reply.status === 200) return false;
        expect(reply.status, reply.text).toBe(401);
        refusedAt = Date.now();
        return true;
      },
      10_000,
      () => stillServed,
    );
    return refusedAt;
  }

  it('a token a device used before its endpoint existed works at once once the endpoint is created, on either server', async () => {
    const version = await createEndpoint(a);
    const token = unique('provisioned');
    const early = { appVersion: version.appVersion, token };
    // Tried on both servers before the endpoint exists: unknown.
    for (const target of [a, b]) expect((await kp1(target, early, 'command/x', {})).status).toBe(401);
    const fx = await createEndpoint(b, { appVersion: version.appVersion, token });
    const c = await invokeCommand(b, fx.endpointId, 'x', { after: 'creation' });
    const t = Date.now();
    for (const target of [a, b]) {
      const reply = await kp1(target, early, 'command/x', {});
      expect(reply.status, reply.text).toBe(200);
      expect(commandsIn(reply.text).map((x) => x.id)).toEqual([Number(c.id)]);
    }
    // Well within the cache's lifetime: the miss before was not remembered.
    expect(Date.now() - t).toBeLessThan(LOOKUP_TTL_MS);
  });

  it('revoking an endpoint on server B makes its token refused on server A, which had just served it, at once', async () => {
    await refusedBeforeTtl(async () => {
      const fx = await createEndpoint(b);
      const c = await invokeCommand(b, fx.endpointId, 'x', { before: 'revocation' });
      const servedAt = Date.now();
      const served = await kp1(a, fx, 'command/x', {});
      expect(served.status, served.text).toBe(200);
      expect(commandsIn(served.text).map((x) => x.id)).toEqual([Number(c.id)]);
      // Served again (from A's cache, or not: either way it is still valid).
      expect((await kp1(a, fx, 'command/x', {})).status).toBe(200);
      expect((await kp1(b, fx, 'command/x', {})).status).toBe(200);

      await revokeEndpoint(b, fx.endpointId);
      // The server that revoked refuses at once.
      const onB = await kp1(b, fx, 'command/x', {});
      expect(onB.status, onB.text).toBe(401);

      const refusedAt = await refusedOnA(fx, 'server A still serves the revoked token');
      // Refused for good, on both, for polls and results, and the result changed nothing.
      for (const target of [a, b]) {
        expect((await kp1(target, fx, 'command/x', {})).status).toBe(401);
        expect((await kp1(target, fx, 'result/x', [{ id: Number(c.id), statusCode: 200 }])).status).toBe(401);
      }
      expect((await rows([c.id])).get(String(c.id))).toMatchObject({ status: 'PENDING', status_code: null });
      return { servedAt, refusedAt };
    });
  });

  it('after setEndpointCredentials on server B, server A requires them over HTTP Basic, though it had just served the token alone', async () => {
    let last: Fixture | undefined;
    let lastCreds: { username: string; password: string } | undefined;
    await refusedBeforeTtl(async () => {
      const fx = await createEndpoint(b);
      const creds = { username: unique('user'), password: `pw-${unique('secret')}` };
      const servedAt = Date.now();
      expect((await kp1(a, fx, 'command/x', {})).status).toBe(200);
      expect((await kp1(a, fx, 'command/x', {})).status).toBe(200);

      await setEndpointCredentials(b, fx, creds.username, creds.password);
      expect((await kp1(b, fx, 'command/x', {})).status).toBe(401);

      const refusedAt = await refusedOnA(fx, 'server A still accepts the token alone');
      last = fx;
      lastCreds = creds;
      return { servedAt, refusedAt };
    });

    const fx = last!;
    const creds = lastCreds!;
    const c = await invokeCommand(b, fx.endpointId, 'x', { with: 'credentials' });
    for (const target of [a, b]) {
      // The token alone, and wrong credentials: refused.
      expect((await kp1(target, fx, 'command/x', {})).status).toBe(401);
      expect((await kp1(target, fx, 'command/x', {}, { ...creds, password: 'wrong password' })).status).toBe(401);
      expect((await kp1(target, fx, 'command/x', {}, { ...creds, username: unique('nobody') })).status).toBe(401);
      // The credentials with the token: served.
      const polled = await kp1(target, fx, 'command/x', {}, creds);
      expect(polled.status, polled.text).toBe(200);
      expect(commandsIn(polled.text).map((x) => x.id)).toContain(Number(c.id));
    }
    expect((await kp1(a, fx, 'result/x', [{ id: Number(c.id), statusCode: 200 }])).status).toBe(401);
    expect((await rows([c.id])).get(String(c.id))?.status).toBe('PENDING');
    expect((await kp1(a, fx, 'result/x', [{ id: Number(c.id), statusCode: 200 }], creds)).status).toBe(200);
    expect((await rows([c.id])).get(String(c.id))?.status).toBe('EXECUTED');
  });
});
