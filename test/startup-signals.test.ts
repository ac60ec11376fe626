// `npm start` is what Docker, systemd and users run. A SIGTERM or SIGINT sent to the npm process
// alone (not its process group) must drain and stop the server like a signal to node itself: a
// long poll in flight is answered, npm exits 0, and nothing keeps serving afterwards.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEndpoints, kp1Http } from './faults/support/api.ts';
import { ADMIN_KEY, buildServer, killGroup, startServer, tempDir, type Started } from './support/built-server.ts';
import { usingPostgres } from './support/app.ts';

const database = () =>
  usingPostgres ? { DATABASE_URL: process.env['TEST_DATABASE_URL'] } : { DATA_DIR: tempDir('cex-signals-') };

describe('npm start and signals', () => {
  let dataEnv: Record<string, string | undefined>;
  beforeAll(() => {
    buildServer();
    dataEnv = database();
  });
  const started: Started[] = [];
  afterAll(() => started.forEach((s) => killGroup(s.child)));

  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    it(`${signal} to the npm process alone answers the long poll in flight and exits 0`, async () => {
      const npm = startServer({ ...dataEnv, ADMIN_API_KEY: ADMIN_KEY }, ['npm', 'start', '--silent']);
      started.push(npm);
      const server = await npm.ready();
      const [ep] = await createEndpoints(server, 1);
      const poll = kp1Http(server, ep!, 'cex', 'command/reboot?wait=30', {}, 40_000);
      // The poll is held by the server before the signal is sent.
      await new Promise((r) => setTimeout(r, 500));
      const signalledAt = Date.now();
      npm.child.kill(signal);

      const answered = await poll;
      expect(answered.status).toBe(200);
      expect(Date.now() - signalledAt).toBeLessThan(10_000);
      expect(await npm.exited).toEqual({ code: 0, signal: null });
      expect(npm.logs.some((l) => l.msg === 'shutting down' && l['signal'] === signal)).toBe(true);
      expect(npm.logs.some((l) => l.msg === 'stopped')).toBe(true);
      await expect(fetch(`${server.url}/livez`)).rejects.toThrow();
    }, 120_000);
  }
});
