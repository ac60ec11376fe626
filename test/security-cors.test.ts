// One allow-list of browser origins (GRAPHQL_ALLOWED_ORIGINS) for HTTP, SSE and websockets;
// without it no other origin than the server's own may use the API from a browser.
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { ADMIN_KEY, startApp, testConfig } from './support/app.ts';
import { RawWs } from './support/security.ts';

const ALLOWED = 'https://console.example';
const EVIL = 'https://evil.example';

interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
}

/** One request with exactly these headers (fetch would add or refuse some); the body is not read. */
function send(app: App, method: string, path: string, headers: Record<string, string>, body?: string): Promise<RawResponse> {
  return new Promise((resolve, reject) => {
    const req = request(`${app.url}${path}`, { method, headers: body ? { ...headers, 'content-length': String(Buffer.byteLength(body)) } : headers }, (res) => {
      resolve({ status: res.statusCode ?? 0, headers: res.headers });
      res.destroy();
    });
    req.on('error', reject);
    req.end(body);
  });
}

const query = JSON.stringify({ query: '{ viewer { role } }' });
const post = (app: App, origin: string) =>
  send(app, 'POST', '/graphql', { origin, 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` }, query);
const preflight = (app: App, origin: string) =>
  send(app, 'OPTIONS', '/graphql', {
    origin,
    'access-control-request-method': 'POST',
    'access-control-request-headers': 'authorization,content-type',
  });
const sse = (app: App, origin: string) =>
  send(app, 'GET', `/graphql?query=${encodeURIComponent('subscription { commandEvents { kind } }')}`, {
    origin,
    accept: 'text/event-stream',
    authorization: `Bearer ${ADMIN_KEY}`,
  });

function expectNoCors(res: RawResponse): void {
  expect(res.headers['access-control-allow-origin']).toBeUndefined();
  expect(res.headers['access-control-allow-credentials']).toBeUndefined();
}

describe('without GRAPHQL_ALLOWED_ORIGINS', () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(() => app.stop());

  it('gives another origin no CORS headers: POST, preflight and SSE', async () => {
    for (const res of [await post(app, EVIL), await preflight(app, EVIL), await sse(app, EVIL)]) expectNoCors(res);
  });

  it('refuses a websocket from another origin; its own origin and no origin work', async () => {
    const evil = new RawWs(app, { origin: EVIL });
    expect(await evil.opened).toBe(false);
    for (const origin of [`http://127.0.0.1:${app.httpPort}`, undefined]) {
      const ws = new RawWs(app, { origin });
      expect(await ws.opened).toBe(true);
      ws.end();
    }
  });
});

describe('with GRAPHQL_ALLOWED_ORIGINS', () => {
  let app: App;
  beforeAll(async () => {
    const base = testConfig();
    app = await startApp({ graphql: { ...base.graphql, allowedOrigins: [ALLOWED, 'https://other.example'] } });
  });
  afterAll(() => app.stop());

  it('answers a listed origin with its own name, and no credentials mode', async () => {
    const pre = await preflight(app, ALLOWED);
    expect(pre.status).toBe(204);
    expect(pre.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(pre.headers['access-control-allow-methods']).toContain('POST');
    expect(pre.headers['access-control-allow-headers']).toContain('authorization');
    expect(pre.headers['access-control-allow-credentials']).toBeUndefined();
    const res = await post(app, ALLOWED);
    expect(res.status).toBe(200);
    expect(res.headers['access-control-allow-origin']).toBe(ALLOWED);
    expect(res.headers['access-control-expose-headers']).toContain('x-request-id');
    expect((await sse(app, ALLOWED)).headers['access-control-allow-origin']).toBe(ALLOWED);
  });

  it('still gives an unlisted origin nothing', async () => {
    for (const res of [await post(app, EVIL), await preflight(app, EVIL), await sse(app, EVIL)]) expectNoCors(res);
  });
});
