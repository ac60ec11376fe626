// The device simulator as a new user runs it next to a server: it finds the server through the
// same PORT / MQTT_PORT the server reads (DEVICE_*_URL and the flags override them, as --help
// says), and a server it cannot reach is one line on stderr and exit 1, not a stack trace.
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { startApp, waitFor } from './support/app.ts';
import { spawnLines, type Proc } from './support/process.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const running: Proc[] = [];

function sim(env: Record<string, string>, args: string[] = []): Proc {
  const proc = spawnLines(process.execPath, ['--import', 'tsx', 'scripts/device.ts', '--app-version', 'sim-v', '--token', 'sim-token', ...args], {
    cwd: ROOT,
    env: { ...process.env, DEVICE_MQTT_URL: undefined, DEVICE_HTTP_URL: undefined, PORT: undefined, MQTT_PORT: undefined, ...env },
  });
  running.push(proc);
  return proc;
}

/** A port nothing listens on. */
function closedPort(): Promise<number> {
  return new Promise((resolve) => {
    const server = createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

describe('device simulator configuration', () => {
  let app: App;
  beforeAll(async () => {
    app = await startApp();
  });
  afterAll(async () => {
    for (const p of running) p.child.kill('SIGKILL');
    await app?.stop();
  });

  it('documents DEVICE_MQTT_URL, DEVICE_HTTP_URL, PORT and MQTT_PORT in --help', async () => {
    const help = sim({}, ['--help']);
    expect(await help.exited).toBe(0);
    const text = help.lines.join('\n');
    for (const name of ['DEVICE_MQTT_URL', 'DEVICE_HTTP_URL', '$PORT', '$MQTT_PORT']) expect(text).toContain(name);
  });

  it('connects over MQTT to the port in MQTT_PORT', async () => {
    const proc = sim({ MQTT_PORT: String(app.mqttPort), PORT: '1' });
    await waitFor(() => proc.lines.some((l) => l.includes(`connected to mqtt://127.0.0.1:${app.mqttPort}`)), 20_000, () => proc.stderr());
  });

  it('polls over HTTP on the port in PORT', async () => {
    const proc = sim({ PORT: String(app.httpPort), MQTT_PORT: '1' }, ['--http']);
    await waitFor(() => proc.lines.some((l) => l.includes(`polling http://127.0.0.1:${app.httpPort}`)), 20_000, () => proc.stderr());
    // The server answers (the simulator's token is not registered): it was reached.
    await waitFor(() => proc.lines.some((l) => l.includes('poll reboot failed: 401')), 20_000, () => proc.lines.join('\n'));
  });

  for (const transport of ['mqtt', 'http'] as const) {
    it(`a server it cannot reach over ${transport} is one line and exit 1`, async () => {
      const port = await closedPort();
      const proc = sim({ PORT: String(port), MQTT_PORT: String(port) }, transport === 'http' ? ['--http'] : []);
      expect(await proc.exited).toBe(1);
      expect(proc.stderr()).toBe(`cannot connect to ${transport}://127.0.0.1:${port}: connect ECONNREFUSED 127.0.0.1:${port}\n`);
    });
  }
});
