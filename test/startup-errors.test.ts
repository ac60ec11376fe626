// Start-up as a new user meets it, with the compiled server (`node dist/server/main.js`) as a real
// child process: every failure is one line on stderr naming the setting and the cause (no stack
// trace, never the database password), within seconds, and a busy port is found before the first
// ADMIN key is created, so the key printed by the next, successful start is the one that exists.
import { createServer, type Server } from 'node:net';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildServer, killGroup, startServer, tempDir, type Started } from './support/built-server.ts';
import { usingPostgres } from './support/app.ts';

const started: Started[] = [];
function start(env: Record<string, string | undefined>): Started {
  const s = startServer(env);
  started.push(s);
  return s;
}
afterAll(() => started.forEach((s) => killGroup(s.child)));
beforeAll(() => buildServer());

/** Exits with `code` within `ms`, having written exactly one line to stderr; returns the line. */
async function failsWithOneLine(s: Started, code: number, ms = 30_000): Promise<string> {
  const t = Date.now();
  const exit = await s.exited;
  expect(Date.now() - t).toBeLessThan(ms);
  expect(exit.code, s.stderr()).toBe(code);
  const lines = s.stderr().trimEnd().split('\n');
  expect(lines, s.stderr()).toHaveLength(1);
  expect(s.stderr()).not.toMatch(/\bat .*:\d+:\d+|Error:|TypeError/);
  return lines[0]!;
}

function holdPort(): Promise<Server> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}
const portOf = (server: Server) => (server.address() as { port: number }).port;

describe('DATABASE_URL problems', () => {
  it('an unparsable URL is a configuration error (exit 2), not a TypeError, and does not echo the URL', async () => {
    const s = start({ DATABASE_URL: 'postgres://:bad url' });
    expect((await s.exited).code).toBe(2);
    expect(s.stderr()).toBe(
      'Invalid configuration:\n  - DATABASE_URL is not a valid URL (percent-encode special characters in the user name and password)\n',
    );
  });

  it('an unreachable server is one line naming DATABASE_URL and the cause, without the password', async () => {
    const line = await failsWithOneLine(start({ DATABASE_URL: 'postgres://someone:s3cr3t-pw@127.0.0.1:1/cex' }), 1);
    expect(line).toMatch(/^cex could not start: cannot use the database at DATABASE_URL \(127\.0\.0\.1:1\/cex\): .*ECONNREFUSED/);
    expect(line).not.toContain('s3cr3t-pw');
  });

  it.runIf(usingPostgres)('a refused login is one line with PostgreSQL\'s reason', async () => {
    const url = new URL(process.env['TEST_DATABASE_URL']!);
    url.username = 'no_such_role';
    url.password = 'pw-not-shown';
    const line = await failsWithOneLine(start({ DATABASE_URL: url.href }), 1);
    expect(line).toMatch(/DATABASE_URL .*role "no_such_role" does not exist/);
    expect(line).not.toContain('pw-not-shown');
  });
});

describe.skipIf(usingPostgres)('DATA_DIR problems', () => {
  it('a path that cannot be a directory says so (it hung on /proc/x)', async () => {
    const line = await failsWithOneLine(start({ DATA_DIR: '/proc/x' }), 1, 10_000);
    expect(line).toMatch(/^cex could not start: DATA_DIR \/proc\/x cannot be used as the database directory: ENOENT/);
  });

  it('a file where the directory should be says so', async () => {
    const file = join(tempDir('cex-file-'), 'not-a-dir');
    writeFileSync(file, 'x');
    const line = await failsWithOneLine(start({ DATA_DIR: join(file, 'data') }), 1, 10_000);
    expect(line).toMatch(/DATA_DIR .*not-a-dir\/data cannot be used as the database directory: ENOTDIR/);
  });

  it('a directory that holds something else than a database says so', async () => {
    const dir = tempDir('cex-junk-');
    writeFileSync(join(dir, 'PG_VERSION'), 'not a version\n');
    const line = await failsWithOneLine(start({ DATA_DIR: dir }), 1);
    expect(line).toMatch(/^cex could not start: DATA_DIR .* holds no usable database/);
  });
});

describe.skipIf(usingPostgres)('ports and the first ADMIN key', () => {
  let dataDir: string;
  let held: Server;
  beforeAll(async () => {
    dataDir = tempDir('cex-ports-');
    held = await holdPort();
  });
  afterAll(() => held?.close());

  it('the first start prints progress at once while it creates the database', async () => {
    const s = start({ DATA_DIR: dataDir, PORT: String(portOf(held)) });
    const first = await s.waitForLog(() => true, 10_000);
    expect(first.msg).toMatch(/creating a new database in DATA_DIR/);
    await failsWithOneLine(s, 1, 120_000);
    expect(s.logs.map((l) => l.msg)).toContain('database ready');
  }, 150_000);

  for (const [what, variable] of [['HTTP', 'PORT'], ['MQTT', 'MQTT_PORT']] as const) {
    it(`a busy ${what} port is one line, and no key was created`, async () => {
      const s = start({ DATA_DIR: dataDir, [variable]: String(portOf(held)) });
      const line = await failsWithOneLine(s, 1);
      expect(line).toBe(`cex could not start: ${what} port ${portOf(held)} on 127.0.0.1 is already in use; stop what holds it or set ${variable} to another port`);
      expect(s.stderr()).not.toMatch(/cex_/);
    }, 60_000);
  }

  it('the next start on free ports prints the key, and the key works', async () => {
    const s = start({ DATA_DIR: dataDir });
    const { url } = await s.ready();
    // Printed once both listeners are up, right after their log lines.
    for (let i = 0; i < 100 && !/\bcex_/.test(s.stderr()); i++) await new Promise((r) => setTimeout(r, 100));
    const key = /\b(cex_[\w-]+)/.exec(s.stderr())?.[1];
    expect(key, s.stderr()).toBeDefined();
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
      body: JSON.stringify({ query: '{ applications { name } }' }),
    });
    expect(await res.json()).toEqual({ data: { applications: [] } });
    s.child.kill('SIGTERM');
    expect((await s.exited).code).toBe(0);
  }, 60_000);
});
