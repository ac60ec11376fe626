// kp1 over HTTP (kp1.md §1 "HTTP binding", §2, §4) with real HTTP requests against a real server
// and database: the Kaa tutorial's curl flow, the error mapping, result rules and long polling.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import {
  commandById,
  commandHistory,
  createApplicationVersion,
  createEndpoint,
  type Fixture,
  invokeCommand,
} from './support/api.ts';
import { gqlData, startApp, unique, waitFor } from './support/app.ts';
import { commandStatus, rawQuery } from './support/db.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

const FORM = { 'content-type': 'application/x-www-form-urlencoded' };

interface HttpReply {
  status: number;
  text: string;
  headers: Headers;
  json: () => any;
}

function kp1Path(fx: Pick<Fixture, 'appVersion' | 'token'>, extension: 'cex' | 'dcx', resource: string): string {
  return `/kp1/${fx.appVersion}/${extension}/${encodeURIComponent(fx.token)}/${resource}`;
}

async function post(
  path: string,
  body: string | undefined,
  headers: Record<string, string> = FORM,
  target: App = app,
  method = 'POST',
): Promise<HttpReply> {
  const res = await fetch(`${target.url}${path}`, { method, headers, body });
  const text = await res.text();
  return { status: res.status, text, headers: res.headers, json: () => JSON.parse(text) };
}

/** kp1.md §1: failures use the HTTP status equal to statusCode, body exactly {statusCode, reasonPhrase}. */
function expectKp1Error(res: HttpReply, statusCode: number): void {
  expect(res.status, res.text).toBe(statusCode);
  const body = res.json();
  expect(Object.keys(body).sort()).toEqual(['reasonPhrase', 'statusCode']);
  expect(body.statusCode).toBe(statusCode);
  expect(typeof body.reasonPhrase).toBe('string');
  expect(body.reasonPhrase.length).toBeGreaterThan(0);
}

async function poll(fx: Fixture, type: string, query = ''): Promise<HttpReply> {
  return post(`${kp1Path(fx, 'cex', `command/${type}`)}${query}`, '{}');
}

/**
 * Waits until the endpoint's lastSeenAt is set: a long poll listens for commands before its
 * request is identified (which sets lastSeenAt), so from then on it cannot miss one.
 */
async function pollListening(fx: Fixture): Promise<void> {
  const seen = `query($id: ID!) { endpoint(id: $id) { lastSeenAt } }`;
  await waitFor(async () => (await gqlData<{ endpoint: { lastSeenAt: string | null } }>(app, seen, { id: fx.endpointId })).endpoint.lastSeenAt !== null, 5_000);
}

describe('the Kaa tutorial curl flow', () => {
  it('polls outstanding commands oldest first, reports a result, and the command is EXECUTED', async () => {
    const fx = await createEndpoint(app);
    const first = await invokeCommand(app, fx.endpointId, 'reboot', { delay: 5, reason: 'update' });
    const second = await invokeCommand(app, fx.endpointId, 'reboot');
    await invokeCommand(app, fx.endpointId, 'zero', { other: true });

    const res = await poll(fx, 'reboot');
    expect(res.status, res.text).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    // payload omitted (not null) for a command without payload; ids are JSON numbers.
    expect(res.json()).toStrictEqual([
      { id: Number(first.id), payload: { delay: 5, reason: 'update' } },
      { id: Number(second.id) },
    ]);
    expect(res.text).not.toContain('null');

    // Every request returns all outstanding commands again until a result arrives.
    expect((await poll(fx, 'reboot')).json()).toHaveLength(2);

    const result = await post(
      kp1Path(fx, 'cex', 'result/reboot'),
      JSON.stringify([{ id: Number(first.id), statusCode: 200, reasonPhrase: 'OK', payload: 'Success' }]),
    );
    expect(result.status, result.text).toBe(200);
    expect(result.text).toBe('');

    expect((await poll(fx, 'reboot')).json()).toStrictEqual([{ id: Number(second.id) }]);
    await post(kp1Path(fx, 'cex', 'result/reboot'), JSON.stringify({ id: Number(second.id), statusCode: 204 }));
    const empty = await poll(fx, 'reboot');
    expect(empty.status).toBe(200);
    expect(empty.text).toBe('[]');

    const history = await commandHistory(app, fx.endpointId, { commandTypes: ['reboot'] });
    const byId = new Map(history.edges.map((e) => [e.node.id, e.node]));
    expect(byId.get(String(first.id))).toMatchObject({ status: 'EXECUTED', statusCode: 200, reasonPhrase: 'OK', resultPayload: 'Success' });
    expect(byId.get(String(second.id))).toMatchObject({ status: 'EXECUTED', statusCode: 204, reasonPhrase: null });
    // The other type was never touched.
    expect((await poll(fx, 'zero')).json()).toHaveLength(1);
  });

  it.each([
    ['application/x-www-form-urlencoded'],
    ['text/plain'],
    ['application/json'],
  ])('parses the body as JSON whatever the content-type says (%s)', async (contentType) => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot', [1, 2]);
    const res = await post(kp1Path(fx, 'cex', 'command/reboot'), '{"observe":true}', { 'content-type': contentType });
    expect(res.json()).toStrictEqual([{ id: Number(c.id), payload: [1, 2] }]);
    const bad = await post(kp1Path(fx, 'cex', 'command/reboot'), 'observe=true', { 'content-type': contentType });
    expectKp1Error(bad, 400);
  });

  it('lets an endpoint use any version name of its own application', async () => {
    const fx = await createEndpoint(app);
    const v2 = unique('v2');
    await createApplicationVersion(app, fx.application, v2);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    const viaV2 = { ...fx, appVersion: v2 };
    expect((await poll(viaV2, 'reboot')).json()).toStrictEqual([{ id: Number(c.id) }]);
    expect((await poll(fx, 'reboot')).json()).toStrictEqual([{ id: Number(c.id) }]);
    const res = await post(kp1Path(viaV2, 'cex', 'result/reboot'), JSON.stringify([{ id: Number(c.id), statusCode: 200 }]));
    expect(res.status, res.text).toBe(200);
    expect(await commandStatus(c.id)).toBe('EXECUTED');
  });
});

describe('errors', () => {
  it('400 for a body that is not JSON, with nothing changed', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    expectKp1Error(await post(kp1Path(fx, 'cex', 'command/reboot'), '{'), 400);
    expectKp1Error(await post(kp1Path(fx, 'cex', 'result/reboot'), `[{"id":${c.id},"statusCode":200}`), 400);
    expectKp1Error(await post(kp1Path(fx, 'dcx', 'json'), 'not json'), 400);
    expectKp1Error(await post(kp1Path(fx, 'cex', 'result/reboot'), ''), 400);
    expect(await commandStatus(c.id)).toBe('PENDING');
  });

  it.each([
    ['command', '{"observe":"yes"}'],
    ['command', '{"observe":true,"extra":1}'],
    ['command', '[]'],
    ['command', '"hello"'],
    ['result', '{"id":"1","statusCode":200}'],
    ['result', '[{"statusCode":200}]'],
    ['result', '[{"id":1}]'],
    ['result', '[{"id":1,"statusCode":200,"reasonphrase":"typo"}]'],
    ['result', '[{"id":1,"statusCode":2147483648}]'],
    ['result', '[{"id":1,"statusCode":200,"reasonPhrase":7}]'],
    ['result', '42'],
  ])('400 for a %s body of the wrong shape: %s', async (kind, body) => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    // Point any result at the real command, so only the shape is wrong.
    const text = body.replace('"id":1,', `"id":${c.id},`);
    expectKp1Error(await post(kp1Path(fx, 'cex', `${kind}/reboot`), text), 400);
    expect(await commandStatus(c.id)).toBe('PENDING');
  });

  it('401 for an unknown token', async () => {
    const fx = await createEndpoint(app);
    const unknown = { ...fx, token: unique('no-such-token') };
    expectKp1Error(await poll(unknown, 'reboot'), 401);
    expectKp1Error(await post(kp1Path(unknown, 'cex', 'result/reboot'), '[]'), 401);
    expectKp1Error(await post(kp1Path(unknown, 'dcx', 'json'), '{"t":1}'), 401);
  });

  it("403 for the token of another application's endpoint under this app version", async () => {
    const mine = await createEndpoint(app);
    const theirs = await createEndpoint(app);
    const c = await invokeCommand(app, theirs.endpointId, 'reboot');
    const crossed = { appVersion: mine.appVersion, token: theirs.token };
    expectKp1Error(await post(kp1Path(crossed, 'cex', 'command/reboot'), '{}'), 403);
    expectKp1Error(await post(kp1Path(crossed, 'cex', 'result/reboot'), JSON.stringify([{ id: Number(c.id), statusCode: 200 }])), 403);
    expectKp1Error(await post(kp1Path(crossed, 'dcx', 'json'), '{"t":1}'), 403);
    expect(await commandStatus(c.id)).toBe('PENDING');
    const [row] = await rawQuery<{ n: number }>('select count(*)::int as n from telemetry_samples where endpoint_id = $1', [theirs.endpointId]);
    expect(Number(row!.n)).toBe(0);
  });

  it('404 for an unknown application version', async () => {
    const fx = await createEndpoint(app);
    expectKp1Error(await poll({ ...fx, appVersion: unique('no-such-version') }, 'reboot'), 404);
  });

  it('404 for an unknown command id in a result, and nothing of the batch changes', async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    const zero = await invokeCommand(app, fx.endpointId, 'zero');
    const foreign = await invokeCommand(app, other.endpointId, 'reboot');
    const result = (id: number) => ({ id, statusCode: 200 });
    const path = kp1Path(fx, 'cex', 'result/reboot');
    expectKp1Error(await post(path, JSON.stringify([result(Number(c.id)), result(999_999_999)])), 404);
    // An id of another command type, or of another endpoint, is unknown here too (kp1.md §2).
    expectKp1Error(await post(path, JSON.stringify([result(Number(c.id)), result(Number(zero.id))])), 404);
    expectKp1Error(await post(path, JSON.stringify([result(Number(foreign.id)), result(Number(c.id))])), 404);
    expect(await commandStatus(c.id)).toBe('PENDING');
    expect(await commandStatus(zero.id)).toBe('PENDING');
    expect(await commandStatus(foreign.id)).toBe('PENDING');
    expect((await poll(fx, 'reboot')).json()).toStrictEqual([{ id: Number(c.id) }]);
  });

  it.each([
    ['an unknown extension', (fx: Fixture) => kp1Path(fx, 'cex', 'command/reboot').replace('/cex/', '/xyz/')],
    ['an unknown cex resource', (fx: Fixture) => kp1Path(fx, 'cex', 'status/reboot')],
    ['an unknown dcx resource', (fx: Fixture) => kp1Path(fx, 'dcx', 'xml')],
    ['a resource too short', (fx: Fixture) => kp1Path(fx, 'cex', 'result')],
  ])('404 for %s', async (_name, path) => {
    const fx = await createEndpoint(app);
    expectKp1Error(await post(path(fx), '{}'), 404);
  });

  it('405 for GET (and other methods than POST)', async () => {
    const fx = await createEndpoint(app);
    const res = await post(kp1Path(fx, 'cex', 'command/reboot'), undefined, {}, app, 'GET');
    expectKp1Error(res, 405);
    expect(res.headers.get('allow')).toBe('POST');
    expectKp1Error(await post(kp1Path(fx, 'cex', 'command/reboot'), '{}', FORM, app, 'PUT'), 405);
  });

  describe('with a small maxDeviceMessageBytes', () => {
    let small: App;
    beforeAll(async () => {
      small = await startApp({ maxDeviceMessageBytes: 1024 });
    });
    afterAll(() => small?.stop());

    it('413 for a body above the limit, with nothing stored; at the limit it is accepted', async () => {
      const fx = await createEndpoint(small);
      const c = await invokeCommand(small, fx.endpointId, 'reboot');
      const padded = (bytes: number) => {
        const base = JSON.stringify([{ id: Number(c.id), statusCode: 200, reasonPhrase: 'OK', payload: '' }]);
        return base.replace('"payload":""', `"payload":"${'x'.repeat(bytes - base.length)}"`);
      };
      const tooBig = padded(1025);
      expect(Buffer.byteLength(tooBig)).toBe(1025);
      expectKp1Error(await post(kp1Path(fx, 'cex', 'result/reboot'), tooBig, FORM, small), 413);
      expectKp1Error(await post(kp1Path(fx, 'dcx', 'json'), JSON.stringify({ blob: 'y'.repeat(2000) }), FORM, small), 413);
      expect(await commandStatus(c.id)).toBe('PENDING');

      const atLimit = padded(1024);
      expect(Buffer.byteLength(atLimit)).toBe(1024);
      const ok = await post(kp1Path(fx, 'cex', 'result/reboot'), atLimit, FORM, small);
      expect(ok.status, ok.text).toBe(200);
      expect(await commandStatus(c.id)).toBe('EXECUTED');
    });

    it('413 for a chunked body that grows above the limit', async () => {
      const fx = await createEndpoint(small);
      const path = kp1Path(fx, 'dcx', 'json');
      const { status, body } = await new Promise<{ status: number; body: string }>((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port: small.httpPort, path, method: 'POST', headers: { 'transfer-encoding': 'chunked' } },
          (res) => {
            let text = '';
            res.on('data', (chunk: Buffer) => (text += chunk.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
            res.on('error', reject);
          },
        );
        req.on('error', () => {}); // the server may close while we still write
        req.write(`{"blob":"${'z'.repeat(800)}`);
        req.write('z'.repeat(800));
        req.end('"}');
      });
      expect(status, body).toBe(413);
      expect(JSON.parse(body)).toMatchObject({ statusCode: 413 });
      const [row] = await rawQuery<{ n: number }>('select count(*)::int as n from telemetry_samples where endpoint_id = $1', [fx.endpointId]);
      expect(Number(row!.n)).toBe(0);
    });
  });
});

describe('results', () => {
  it('a non-2xx result is still EXECUTED, with its code and phrase', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'book-slot', { slot: 3 });
    const res = await post(
      kp1Path(fx, 'cex', 'result/book-slot'),
      JSON.stringify([{ id: Number(c.id), statusCode: 409, reasonPhrase: 'slot taken', payload: { by: 'other' } }]),
    );
    expect(res.status, res.text).toBe(200);
    expect(await commandById(app, c.id)).toMatchObject({
      status: 'EXECUTED',
      statusCode: 409,
      reasonPhrase: 'slot taken',
      resultPayload: { by: 'other' },
    });
    expect((await poll(fx, 'book-slot')).json()).toEqual([]);
  });

  it('a duplicate result is acknowledged and the first result stays', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    const path = kp1Path(fx, 'cex', 'result/reboot');
    await post(path, JSON.stringify([{ id: Number(c.id), statusCode: 200, reasonPhrase: 'OK', payload: 'first' }]));
    const before = await commandById(app, c.id);
    const again = await post(path, JSON.stringify([{ id: Number(c.id), statusCode: 500, reasonPhrase: 'again', payload: 'second' }]));
    expect(again.status, again.text).toBe(200);
    expect(again.text).toBe('');
    const after = await commandById(app, c.id);
    expect(after).toMatchObject({ status: 'EXECUTED', statusCode: 200, reasonPhrase: 'OK', resultPayload: 'first' });
    expect(after.executedAt).toBe(before.executedAt);
  });

  it('an empty array is a valid no-op', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    const res = await post(kp1Path(fx, 'cex', 'result/reboot'), '[]');
    expect(res.status, res.text).toBe(200);
    expect(res.text).toBe('');
    expect(await commandStatus(c.id)).toBe('PENDING');
  });

  it('a result after expiry lands (EXECUTED after expiresAt); the expired command is no longer polled', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot', null, 1);
    await waitFor(async () => (await commandStatus(c.id)) === 'EXPIRED', 10_000, () => `command ${c.id} did not expire`);
    expect((await poll(fx, 'reboot')).json()).toEqual([]);
    const res = await post(
      kp1Path(fx, 'cex', 'result/reboot'),
      JSON.stringify([{ id: Number(c.id), statusCode: 200, reasonPhrase: 'late' }]),
    );
    expect(res.status, res.text).toBe(200);
    const after = await commandById(app, c.id);
    expect(after).toMatchObject({ status: 'EXECUTED', statusCode: 200, reasonPhrase: 'late' });
    expect(Date.parse(after.executedAt!)).toBeGreaterThanOrEqual(Date.parse(after.expiresAt));
  });
});

describe('long polling', () => {
  it('?wait=5 with nothing outstanding returns the command as soon as it is invoked', async () => {
    const fx = await createEndpoint(app);
    const started = Date.now();
    let settled = false;
    const pending = poll(fx, 'reboot', '?wait=5').finally(() => (settled = true));
    await pollListening(fx);
    expect(settled, 'the poll returned before any command existed').toBe(false);
    const c = await invokeCommand(app, fx.endpointId, 'reboot', { now: true });
    const res = await pending;
    const elapsed = Date.now() - started;
    expect(res.status, res.text).toBe(200);
    expect(res.json()).toStrictEqual([{ id: Number(c.id), payload: { now: true } }]);
    // Without the wake-up it would return at 5 s (and with []).
    expect(elapsed).toBeLessThan(4_500);
  });

  it('?wait=1 with nothing outstanding returns [] after about a second', async () => {
    const fx = await createEndpoint(app);
    const started = Date.now();
    const res = await poll(fx, 'reboot', '?wait=1');
    const elapsed = Date.now() - started;
    expect(res.status).toBe(200);
    expect(res.text).toBe('[]');
    expect(elapsed).toBeGreaterThanOrEqual(900);
    expect(elapsed).toBeLessThan(4_000);
  });

  it('is not woken by commands of another type or another endpoint', async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const started = Date.now();
    const pending = poll(fx, 'reboot', '?wait=2');
    await pollListening(fx);
    await invokeCommand(app, fx.endpointId, 'zero');
    await invokeCommand(app, other.endpointId, 'reboot');
    const res = await pending;
    expect(res.text).toBe('[]');
    expect(Date.now() - started).toBeGreaterThanOrEqual(1_900);
  });

  it('returns outstanding commands at once, without waiting', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    const started = Date.now();
    const res = await poll(fx, 'reboot', '?wait=30');
    expect(res.json()).toStrictEqual([{ id: Number(c.id) }]);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it.each(['?wait=999', '?wait=61', '?wait=-1', '?wait=abc', '?wait=1.5'])('400 for %s', async (query) => {
    const fx = await createEndpoint(app);
    expectKp1Error(await poll(fx, 'reboot', query), 400);
  });

  it('still reports errors at once with a wait (unknown token)', async () => {
    const fx = await createEndpoint(app);
    const started = Date.now();
    expectKp1Error(await poll({ ...fx, token: unique('nobody') }, 'reboot', '?wait=5'), 401);
    expect(Date.now() - started).toBeLessThan(2_000);
  });
});
