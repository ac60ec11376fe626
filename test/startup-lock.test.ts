// PGlite is single-process: a second server on the same DATA_DIR must refuse to start (one line
// naming the holder's pid) instead of silently keeping writes of its own; a lock left by a killed
// holder is taken over; of two starts at once exactly one serves. Real compiled servers.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_KEY, buildServer, killGroup, startServer, tempDir, type Started } from './support/built-server.ts';
import { usingPostgres } from './support/app.ts';

describe.skipIf(usingPostgres)('one server per DATA_DIR', () => {
  const started: Started[] = [];
  const start = (dataDir: string) => {
    const s = startServer({ DATA_DIR: dataDir, ADMIN_API_KEY: ADMIN_KEY });
    started.push(s);
    return s;
  };
  let dataDir: string;
  beforeAll(async () => {
    buildServer();
    dataDir = tempDir('cex-lock-');
    // Created once; each test starts from an existing directory (a few seconds, not an initdb).
    const first = start(dataDir);
    await first.ready();
    first.child.kill('SIGTERM');
    await first.exited;
  }, 150_000);
  afterAll(() => started.forEach((s) => killGroup(s.child)));

  it('a second server exits at once with one line naming the pid that holds the directory', async () => {
    const holder = start(dataDir);
    await holder.ready();
    const second = start(dataDir);
    const t = Date.now();
    expect((await second.exited).code).toBe(1);
    expect(Date.now() - t).toBeLessThan(10_000);
    expect(second.stderr()).toMatch(
      new RegExp(`^cex could not start: DATA_DIR ${dataDir} is in use by another cex server \\(pid ${holder.child.pid}, started [^)]+\\); stop it first or set another DATA_DIR \\(PGlite is single-process\\)\\n$`),
    );
    expect(second.logs.map((l) => l.msg)).not.toContain('database ready');
    // The holder is unharmed.
    expect((await fetch(`${(await holder.ready()).url}/readyz`)).status).toBe(200);
    holder.child.kill('SIGTERM');
    expect((await holder.exited).code).toBe(0);
  }, 60_000);

  it('the lock of a SIGKILLed server is taken over by the next start', async () => {
    const killed = start(dataDir);
    await killed.ready();
    killed.child.kill('SIGKILL');
    await killed.exited;
    const next = start(dataDir);
    const { url } = await next.ready();
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    next.child.kill('SIGTERM');
    expect((await next.exited).code).toBe(0);
  }, 60_000);

  it('of two starts at once over a stale lock, exactly one serves', async () => {
    const killed = start(dataDir);
    await killed.ready();
    killed.child.kill('SIGKILL');
    await killed.exited;
    const pair = [start(dataDir), start(dataDir)];
    const outcomes = await Promise.all(pair.map((s) => s.ready().then(() => 'serves', () => 'refused')));
    expect([...outcomes].sort()).toEqual(['refused', 'serves']);
    const loser = pair[outcomes.indexOf('refused')]!;
    const winner = pair[outcomes.indexOf('serves')]!;
    expect(loser.stderr()).toContain(`is in use by another cex server (pid ${winner.child.pid}`);
    expect((await fetch(`${(await winner.ready()).url}/readyz`)).status).toBe(200);
    winner.child.kill('SIGTERM');
    await winner.exited;
  }, 150_000);
});
