// Client errors are logged at info, server faults at error; every HTTP response carries an
// x-request-id that the log lines written while handling the request carry as reqId.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createApiKey, createEndpoint } from './support/api.ts';
import { ADMIN_KEY } from './support/app.ts';
import { startLoggedApp, type LoggedApp } from './support/security.ts';

let logged: LoggedApp;
let app: App;
beforeAll(async () => {
  logged = await startLoggedApp({}, 'info');
  app = logged.app;
});
afterAll(() => app.stop());

interface LogLine {
  level: number;
  msg: string;
  reqId?: string;
  code?: string;
}
const ERROR = 50;
const INFO = 30;

function linesOf(reqId: string): LogLine[] {
  return logged
    .text()
    .split('\n')
    .filter(Boolean)
    .map((l) => JSON.parse(l) as LogLine)
    .filter((l) => l.reqId === reqId);
}

async function post(query: string, key: string | null, headers: Record<string, string> = {}) {
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}), ...headers },
    body: JSON.stringify({ query }),
  });
  const body = (await res.json()) as { errors?: { extensions?: { code?: string } }[] };
  const reqId = res.headers.get('x-request-id');
  expect(reqId).toBeTruthy();
  return { code: body.errors?.[0]?.extensions?.code, reqId: reqId! };
}

describe('log levels of GraphQL errors', () => {
  it('logs UNAUTHENTICATED, FORBIDDEN and validation errors at info, with the request id, never at error', async () => {
    const viewer = await createApiKey(app, 'VIEWER');
    const cases = [
      { query: '{ apiKeys { id } }', key: 'cex_not-a-key-at-all-0123456789', code: 'UNAUTHENTICATED' },
      { query: 'mutation { createApplication(name: "x") { name } }', key: viewer.secret, code: 'FORBIDDEN' },
      { query: 'mutation { createApplication(name: "") { name } }', key: ADMIN_KEY, code: 'BAD_USER_INPUT' },
      { query: '{ endpoint(id: "not-a-uuid") { id } }', key: ADMIN_KEY, code: undefined },
      { query: '{ nope }', key: ADMIN_KEY, code: 'GRAPHQL_VALIDATION_FAILED' },
    ];
    for (const c of cases) {
      const res = await post(c.query, c.key);
      if (c.code) expect(res.code).toBe(c.code);
      await new Promise((r) => setTimeout(r, 20));
      const lines = linesOf(res.reqId);
      expect(lines.filter((l) => l.level >= ERROR), `${c.query}: ${JSON.stringify(lines)}`).toEqual([]);
      if (res.code && res.code !== 'GRAPHQL_VALIDATION_FAILED') {
        expect(lines.some((l) => l.level === INFO && l.code === res.code)).toBe(true);
      }
    }
  });
});

describe('x-request-id', () => {
  it('is on every HTTP response: GraphQL, kp1, console, health, 404', async () => {
    const fx = await createEndpoint(app);
    const ids = new Set<string>();
    for (const [path, init] of [
      ['/healthz', {}],
      ['/', {}],
      ['/nothing-here', { method: 'POST' }],
      [`/kp1/${fx.appVersion}/cex/${fx.token}/command/x`, { method: 'POST', body: '{}' }],
      [`/kp1/${fx.appVersion}/cex/no-such-token/command/x`, { method: 'POST', body: '{}' }],
      ['/graphql', { method: 'POST', body: '{}' }],
    ] as const) {
      const res = await fetch(`${app.url}${path}`, init);
      await res.arrayBuffer();
      const id = res.headers.get('x-request-id');
      expect(id, path).toMatch(/^[0-9a-f-]{36}$/);
      ids.add(id!);
    }
    expect(ids.size).toBe(6);
  });

  it('keeps a plain incoming id and replaces one that is not', async () => {
    expect((await post('{ viewer { role } }', ADMIN_KEY, { 'x-request-id': 'lb-42.abc:7' })).reqId).toBe('lb-42.abc:7');
    for (const bad of ['x'.repeat(65), 'a b', '"}{"level":60']) {
      const { reqId } = await post('{ viewer { role } }', ADMIN_KEY, { 'x-request-id': bad });
      expect(reqId).toMatch(/^[0-9a-f-]{36}$/);
    }
  });

  it('names the request in the log lines written while handling it', async () => {
    const { reqId } = await post('{ apiKeys { id } }', 'cex_not-a-key-at-all-0123456789');
    await new Promise((r) => setTimeout(r, 20));
    expect(linesOf(reqId).length).toBeGreaterThan(0);
  });
});
