// Kaa's CEX REST API, invoking: POST /cex/api/v1/endpoints/{endpointId}/commands/{commandType}
// with a plain HTTP client and real MQTT devices (docs/kaa-rest.md).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import type { App } from '../src/app.ts';
import { createApiKey, createEndpoint, setCommandSchema } from './support/api.ts';
import { connect } from 'node:net';
import { ADMIN_KEY, collect, startApp, untilSubscribed, waitFor, wsClient } from './support/app.ts';
import { historyIds, ms } from './support/commands.ts';
import { CommandStatusChanged } from './support/documents.ts';
import { lightControllerSchema } from './support/fixtures.ts';
import { bindDevice, closeDevices, connectDevice } from './support/mqtt.ts';
import { REST, answerCommands, rest } from './support/rest.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterEach(() => closeDevices());
afterAll(() => app?.stop());

const invokePath = (endpointId: string, type: string, query = '') => `/endpoints/${endpointId}/commands/${type}${query}`;

describe('invoke', () => {
  it('answers 200 with the result payload when the device reports within awaitTimeout', async () => {
    const fx = await createEndpoint(app);
    const device = await connectDevice(app);
    await bindDevice(device, fx);
    answerCommands(device, fx, 'dim', (payload) => ({ statusCode: 200, reasonPhrase: 'OK', payload: { echoed: payload } }));

    const res = await rest(app, 'POST', invokePath(fx.endpointId, 'dim', '?awaitTimeout=10'), { body: { level: 40 } });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ echoed: { level: 40 } });
    const location = res.headers.get('location')!;
    expect(location).toMatch(new RegExp(`^${REST}/endpoints/${fx.endpointId}/commands/dim/[1-9][0-9]*$`));
    const stored = await rest(app, 'GET', location);
    expect(stored.body).toMatchObject({ status: 'EXECUTED', statusCode: 200, reasonPhrase: 'OK', payload: { level: 40 } });
  });

  it('answers 202 with a Location that GETs the PENDING command when no device reports', async () => {
    const fx = await createEndpoint(app);
    const started = Date.now();
    const res = await rest(app, 'POST', invokePath(fx.endpointId, 'reboot', '?awaitTimeout=1'), { body: { delay: 3 } });
    expect(res.status).toBe(202);
    expect(Date.now() - started).toBeGreaterThanOrEqual(900);
    const location = res.headers.get('location')!;
    expect(res.body).toMatchObject({ status: 'PENDING', commandType: 'reboot', endpointId: fx.endpointId });
    const got = await rest(app, 'GET', location);
    expect(got.status).toBe(200);
    expect(got.body).toEqual({
      id: res.body.id,
      endpointId: fx.endpointId,
      commandType: 'reboot',
      payload: { delay: 3 },
      status: 'PENDING',
      statusCode: null,
      reasonPhrase: null,
      resultPayload: null,
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
      expiresAt: expect.any(String),
      executedAt: null,
      canceledAt: null,
    });
    expect(await historyIds(app, fx.endpointId)).toEqual([res.body.id]);
  });

  it('answers 202 at once with awaitTimeout=0, and takes text/plain as a string payload', async () => {
    const fx = await createEndpoint(app);
    const res = await rest(app, 'POST', invokePath(fx.endpointId, 'say', '?awaitTimeout=0'), { raw: 'hello', contentType: 'text/plain' });
    expect(res.status).toBe(202);
    expect(res.body.payload).toBe('hello');
  });

  it('maps commandTtl (ms) to the retention, rounded up to whole seconds, within the GraphQL bounds', async () => {
    const fx = await createEndpoint(app);
    const res = await rest(app, 'POST', invokePath(fx.endpointId, 'ttl', '?awaitTimeout=0&commandTtl=1500'), { body: null });
    expect(res.status).toBe(202);
    expect(ms(res.body.expiresAt) - ms(res.body.createdAt)).toBe(2000);
    const defaulted = await rest(app, 'POST', invokePath(fx.endpointId, 'ttl', '?awaitTimeout=0'));
    expect(ms(defaulted.body.expiresAt) - ms(defaulted.body.createdAt)).toBe(app.config.defaultRetentionSeconds * 1000);
    for (const bad of ['0', '-5', '1.5', 'x', String(app.config.maxRetentionSeconds * 1000 + 1)]) {
      const refused = await rest(app, 'POST', invokePath(fx.endpointId, 'ttl', `?commandTtl=${bad}`), { body: {} });
      expect(refused.status, bad).toBe(400);
      expect(refused.body.message).toContain('commandTtl');
    }
    expect(await historyIds(app, fx.endpointId)).toHaveLength(2);
  });

  it('refuses an awaitTimeout outside 0..60 with 400', async () => {
    const fx = await createEndpoint(app);
    for (const bad of ['61', '-1', 'soon']) {
      const res = await rest(app, 'POST', invokePath(fx.endpointId, 't', `?awaitTimeout=${bad}`), { body: {} });
      expect(res.status, bad).toBe(400);
      expect(res.body).toMatchObject({ status: 400, error: 'Bad Request', message: expect.stringContaining('awaitTimeout') });
    }
    expect(await historyIds(app, fx.endpointId)).toEqual([]);
  });

  it('checks the payload against the command schema: 400 with the faults by path, nothing stored', async () => {
    const fx = await createEndpoint(app);
    await setCommandSchema(app, fx.appVersion, 'light', lightControllerSchema);
    const res = await rest(app, 'POST', invokePath(fx.endpointId, 'light'), { body: { output_mode: 'sparkle', dimming: 300 } });
    expect(res.status).toBe(400);
    const paths = (res.body.validationErrors as { path: string }[]).map((e) => e.path);
    expect(paths).toEqual(expect.arrayContaining(['/output_mode', '/dimming']));
    expect(await historyIds(app, fx.endpointId)).toEqual([]);

    const ok = await rest(app, 'POST', invokePath(fx.endpointId, 'light', '?awaitTimeout=0'), { body: { output_mode: 'on', dimming: 50 } });
    expect(ok.status).toBe(202);
    // Filled in by the schema's defaults and constants, as invokeCommand does.
    expect(ok.body.payload).toMatchObject({ f_port: 60, priority: 'LOW', output_mode: 'on', dimming: 50 });
  });
});

describe('refusals', () => {
  it('401 without a key or with a bad one, 403 for a VIEWER invoking; a VIEWER may read', async () => {
    const fx = await createEndpoint(app);
    for (const key of [null, 'not-a-key']) {
      const res = await rest(app, 'POST', invokePath(fx.endpointId, 't'), { body: {}, key });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toBe('Bearer');
    }
    const viewer = await createApiKey(app, 'VIEWER');
    const refused = await rest(app, 'POST', invokePath(fx.endpointId, 't'), { body: {}, key: viewer.secret });
    expect(refused.status).toBe(403);
    expect(refused.body.message).toContain('OPERATOR');
    expect(await historyIds(app, fx.endpointId)).toEqual([]);

    const operator = await createApiKey(app, 'OPERATOR');
    const invoked = await rest(app, 'POST', invokePath(fx.endpointId, 't', '?awaitTimeout=0'), { body: {}, key: operator.secret });
    expect(invoked.status).toBe(202);
    const read = await rest(app, 'GET', invoked.headers.get('location')!, { key: viewer.secret });
    expect(read.status).toBe(200);
  });

  it('404 for an unknown endpoint, 400 for an invalid command type', async () => {
    for (const id of ['00000000-0000-4000-8000-000000000000', 'not-a-uuid']) {
      const res = await rest(app, 'POST', invokePath(id, 't'), { body: {} });
      expect(res.status, id).toBe(404);
      expect(res.body.message).toContain(id);
    }
    const fx = await createEndpoint(app);
    const res = await rest(app, 'POST', invokePath(fx.endpointId, 'bad%20type'), { body: {} });
    expect(res.status).toBe(400);
    expect(res.body.message).toContain('bad type');
  });

  it('400 for bad JSON, 415 for another content type, 413 for a body over the limit', async () => {
    const fx = await createEndpoint(app);
    const path = invokePath(fx.endpointId, 't');
    expect((await rest(app, 'POST', path, { raw: '{"a":' })).status).toBe(400);
    expect((await rest(app, 'POST', path, { raw: 'a=1', contentType: 'application/x-www-form-urlencoded' })).status).toBe(415);
    const big = JSON.stringify({ blob: 'x'.repeat(app.config.graphql.maxRequestBytes) });
    const res = await rest(app, 'POST', path, { raw: big });
    expect(res.status).toBe(413);
    expect(await historyIds(app, fx.endpointId)).toEqual([]);
  });

  it('413 for a chunked body once it passes the limit', async () => {
    const fx = await createEndpoint(app);
    const chunk = new TextEncoder().encode(' '.repeat(64 * 1024));
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        // Endless whitespace: only the server's limit ends it.
        if ((sent += chunk.length) > app.config.graphql.maxRequestBytes * 4) controller.close();
        else controller.enqueue(chunk);
      },
    });
    const res = await fetch(`${app.url}${REST}${invokePath(fx.endpointId, 't')}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_KEY}`, 'content-type': 'application/json' },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(res.status).toBe(413);
    expect(await historyIds(app, fx.endpointId)).toEqual([]);
  });

  it('413 at once for a declared Content-Length over the limit, before any of the body arrives', async () => {
    const fx = await createEndpoint(app);
    const socket = connect(app.httpPort, '127.0.0.1');
    const reply = new Promise<string>((resolve) => socket.once('data', (data) => resolve(data.toString('utf8'))));
    socket.write(
      `POST ${REST}${invokePath(fx.endpointId, 't')} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${ADMIN_KEY}\r\n` +
        `Content-Type: application/json\r\nContent-Length: ${app.config.graphql.maxRequestBytes + 1}\r\n\r\n{`,
    );
    const timeout = new Promise<string>((resolve) => setTimeout(() => resolve('no answer'), 3_000));
    expect(await Promise.race([reply, timeout])).toMatch(/^HTTP\/1\.1 413/);
    socket.destroy();
  });

  it('limits invokes per API key like GraphQL mutations: 429 with Retry-After', async () => {
    const limited = await startApp({ graphql: { ...app.config.graphql, mutationsPerMinute: 2 } });
    try {
      // The apps share the database; the limited one's own key budget is for the invokes.
      const fx = await createEndpoint(app);
      const statuses: number[] = [];
      for (let i = 0; i < 3; i++) {
        statuses.push((await rest(limited, 'POST', invokePath(fx.endpointId, 't', '?awaitTimeout=0'), { body: {} })).status);
      }
      expect(statuses).toEqual([202, 202, 429]);
      const res = await rest(limited, 'POST', invokePath(fx.endpointId, 't'), { body: {} });
      expect(Number(res.headers.get('retry-after'))).toBeGreaterThan(0);
    } finally {
      await limited.stop();
    }
  });
});

describe('lifecycle', () => {
  it('a graphql-ws commandStatusChanged subscriber sees a REST invoke and its result', async () => {
    const fx = await createEndpoint(app);
    const client: Client = wsClient(app);
    try {
      const sub = collect(client, CommandStatusChanged, { endpointId: fx.endpointId });
      await untilSubscribed(sub, () => rest(app, 'POST', invokePath(fx.endpointId, 'probe', '?awaitTimeout=0')));
      const device = await connectDevice(app);
      await bindDevice(device, fx);
      answerCommands(device, fx, 'go', () => ({ statusCode: 201, payload: 'done' }));
      const res = await rest(app, 'POST', invokePath(fx.endpointId, 'go', '?awaitTimeout=10'), { body: { n: 1 } });
      expect(res.status).toBe(200);
      const id = res.headers.get('location')!.split('/').at(-1)!;
      const seen = await sub.waitFor((events) => events.some((e) => e.commandStatusChanged.id === id && e.commandStatusChanged.status === 'EXECUTED'));
      const statuses = seen.filter((e) => e.commandStatusChanged.id === id).map((e) => e.commandStatusChanged.status);
      expect(statuses).toEqual(['PENDING', 'EXECUTED']);
      sub.dispose();
    } finally {
      await client.dispose();
    }
  });

  it('answers a waiting invoke 202 when the server shuts down', async () => {
    const own = await startApp();
    let stopped = false;
    try {
      const fx = await createEndpoint(own);
      const started = Date.now();
      const pending = rest(own, 'POST', invokePath(fx.endpointId, 'slow', '?awaitTimeout=30'), { body: {} });
      // The command exists once the invoke is waiting.
      await waitFor(async () => (await own.services.commands.outstanding(fx.endpointId, 'slow')).length > 0);
      const stopping = own.stop();
      stopped = true;
      const res = await pending;
      expect(res.status).toBe(202);
      expect(Date.now() - started).toBeLessThan(10_000);
      await stopping;
    } finally {
      if (!stopped) await own.stop();
    }
  });
});
