// Health endpoints: /livez answers while the process serves; /readyz (and /healthz, its alias)
// answers 200 only when the database answers, the migrations are applied, the event listener is
// connected and the server is not draining, and 503 with the failed checks otherwise.
import { connect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { startApp } from './support/app.ts';

describe('health endpoints', () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp({ shutdown: { drainMs: 10_000, exitAfterMs: 15_000 } });
  });
  afterAll(() => app?.stop());

  it('/livez, /readyz and /healthz answer 200 when all is well', async () => {
    for (const path of ['/livez', '/readyz', '/healthz']) {
      const res = await fetch(`${app.url}${path}`);
      expect([path, res.status, await res.json()]).toEqual([path, 200, { status: 'ok' }]);
    }
  });

  it('/readyz is 503 naming the "draining" check while the server drains', async () => {
    const port = app.httpPort;
    const open = () =>
      new Promise<Socket>((resolve) => {
        const s = connect(port, '127.0.0.1', () => resolve(s));
      });
    // A request in flight (its body half sent) keeps the server draining for up to drainMs.
    const busy = await open();
    busy.write('POST /graphql HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"qu');
    // A probe whose request has begun: the drain does not cut it as an idle connection.
    const probe = await open();
    probe.write('GET /readyz HTTP/1.1\r\nHost: x\r\n');
    await new Promise((r) => setTimeout(r, 200));
    const stopped = app.stop();
    await new Promise((r) => setTimeout(r, 200));
    let answer = '';
    probe.setEncoding('utf8');
    probe.on('data', (chunk: string) => (answer += chunk));
    const ended = new Promise((resolve) => probe.on('close', resolve));
    probe.write('Connection: close\r\n\r\n');
    await ended;
    busy.destroy();
    await stopped;
    expect(answer).toMatch(/^HTTP\/1\.1 503 /);
    const body = JSON.parse(answer.slice(answer.indexOf('\r\n\r\n') + 4)) as { status: string; failed: string[]; checks: Record<string, string> };
    expect(body.status).toBe('unavailable');
    expect(body.failed).toEqual(['draining']);
    expect(body.checks.database).toBe('ok');
  });
});
