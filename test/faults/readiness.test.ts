// Readiness follows the database: /readyz (and /healthz) go 503 naming the failed checks while a
// private PostgreSQL is stopped, /livez stays 200 (the process is fine; restarting it would not
// help), and /readyz is 200 again once PostgreSQL is back and the event listener has reconnected.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitFor } from '../support/app.ts';
import { openBackend, type Backend } from './support/backend.ts';
import { killAllServers, type ServerProcess } from './support/server.ts';

interface Probe {
  status: number;
  body: { status: string; failed?: string[]; checks?: Record<string, string> };
}

describe('readiness while PostgreSQL is stopped and started', () => {
  let backend: Backend;
  let server: ServerProcess;
  beforeAll(async () => {
    backend = await openBackend('postgres');
    server = backend.server('cex-ready');
    await server.start();
  });
  afterAll(async () => {
    await killAllServers();
    await backend?.destroy();
  });

  const probe = async (path: string): Promise<Probe> => {
    const res = await fetch(`${server.url}${path}`, { signal: AbortSignal.timeout(8_000) });
    return { status: res.status, body: (await res.json()) as Probe['body'] };
  };

  it('503 with the failed checks while it is down, 200 again when it is back', async () => {
    expect((await probe('/readyz')).status).toBe(200);
    await backend.pg!.stop('fast');

    const down = await waitFor(async () => {
      const p = await probe('/readyz');
      return p.status === 503 && p.body.failed?.includes('eventListener') ? p : undefined;
    }, 15_000);
    expect(down.body.status).toBe('unavailable');
    expect(down.body.failed).toEqual(expect.arrayContaining(['database', 'eventListener']));
    expect(down.body.checks?.database).toMatch(/^unreachable: /);
    expect((await probe('/healthz')).status).toBe(503);
    expect(await probe('/livez')).toEqual({ status: 200, body: { status: 'ok' } });

    await backend.pg!.start();
    const up = await waitFor(async () => {
      const p = await probe('/readyz');
      return p.status === 200 ? p : undefined;
    }, 15_000);
    expect(up.body).toEqual({ status: 'ok' });
  });
});
