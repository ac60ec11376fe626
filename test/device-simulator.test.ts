// The device simulator (scripts/device.ts, `npm run device`), run as a real child process against
// a server on port 0: over MQTT it gets pushed commands (and the backlog), over HTTP it long-polls;
// either way it prints each command, answers it with the configured status code and reason
// phrase, and sends telemetry. The outcome is checked through GraphQL.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { type Command, commandById, createEndpoint, type Fixture, invokeCommand, telemetry } from './support/api.ts';
import { startApp, waitFor } from './support/app.ts';
import { spawnLines, type Proc } from './support/process.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const SCRIPT = 'scripts/device.ts';
/** Generous: the machine may be busy (a benchmark may run beside the tests). */
const WAIT_MS = 30_000;

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

interface Sim extends Proc {
  describe: () => string;
}

const running = new Set<Sim>();

async function stop(sim: Sim): Promise<void> {
  const child = sim.child;
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), 10_000)));
  const outcome = await Promise.race([sim.exited, late]);
  clearTimeout(timer);
  if (outcome === 'late') {
    child.kill('SIGKILL');
    await sim.exited;
  }
}

afterEach(async () => {
  const sims = [...running];
  running.clear();
  await Promise.all(sims.map(stop));
});
// In case a test ended without afterEach running (it always runs, but no orphans either way).
afterAll(async () => {
  await Promise.all([...running].map(stop));
});

/** Starts `node --import tsx scripts/device.ts ...args` in the repository root. */
function startSim(args: string[]): Sim {
  const proc = spawnLines(process.execPath, ['--import', 'tsx', SCRIPT, ...args], {
    cwd: ROOT,
    // No DEVICE_* variables from the developer's shell: every address comes from the arguments.
    env: { ...process.env, DEVICE_MQTT_URL: undefined, DEVICE_HTTP_URL: undefined },
  });
  const sim: Sim = {
    ...proc,
    describe: () => `simulator stdout:\n${proc.lines.join('\n')}\nstderr:\n${proc.stderr()}`,
  };
  running.add(sim);
  return sim;
}

/** `--name=value`: a generated token may start with "-", which parseArgs would refuse as a value. */
function simArgs(fx: Fixture, extra: string[]): string[] {
  return [`--app-version=${fx.appVersion}`, `--token=${fx.token}`, ...extra];
}

async function exitOf(sim: Sim, ms = WAIT_MS): Promise<number | null> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the simulator did not exit within ${ms} ms. ${sim.describe()}`)), ms);
  });
  try {
    return await Promise.race([sim.exited, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Waits for a stdout line (without its ISO timestamp prefix) that satisfies `pred`. */
function waitLine(sim: Sim, pred: (message: string) => boolean, what: string): Promise<string> {
  return waitFor(
    () => {
      const found = messages(sim).find(pred);
      if (found === undefined && sim.child.exitCode !== null) {
        throw new Error(`the simulator exited (${sim.child.exitCode}) before printing ${what}. ${sim.describe()}`);
      }
      return found;
    },
    WAIT_MS,
    () => `no line ${what}. ${sim.describe()}`,
  );
}

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z /;
/** The simulator's log lines, each checked for and stripped of its timestamp. */
function messages(sim: Sim): string[] {
  return sim.lines.map((line) => {
    if (!ISO.test(line)) throw new Error(`a simulator line without a timestamp: ${JSON.stringify(line)}`);
    return line.replace(ISO, '');
  });
}

async function waitExecuted(id: string | number, sim: Sim): Promise<Command> {
  return waitFor(
    async () => {
      const c = await commandById(app, id);
      return c.status === 'EXECUTED' ? c : undefined;
    },
    WAIT_MS,
    () => `command ${id} was not EXECUTED. ${sim.describe()}`,
  );
}

/** What the simulator sends as telemetry. */
type SimulatorSample = { temperature: number; timestamp: number; uptime: number };
async function telemetryOf(endpointId: string) {
  return (await telemetry(app, endpointId, 50)).map((s) => ({ ...s, data: s.data as SimulatorSample }));
}

/** Waits for at least `count` samples from the simulator and checks their shape. */
async function expectSimulatorTelemetry(fx: Fixture, sim: Sim, count: number, startedAt: number): Promise<void> {
  const samples = await waitFor(
    async () => {
      const s = await telemetryOf(fx.endpointId);
      return s.length >= count ? s : undefined;
    },
    WAIT_MS,
    () => `fewer than ${count} telemetry samples arrived. ${sim.describe()}`,
  );
  for (const s of samples) {
    expect(Object.keys(s.data).sort()).toEqual(['temperature', 'timestamp', 'uptime']);
    expect(s.data.temperature).toBeGreaterThanOrEqual(20);
    expect(s.data.temperature).toBeLessThanOrEqual(25);
    expect(Number.isInteger(s.data.uptime) && s.data.uptime >= 0).toBe(true);
    // Sent after the simulator started, and stored with the sample's own timestamp.
    expect(s.data.timestamp).toBeGreaterThanOrEqual(startedAt);
    expect(new Date(s.timestamp).getTime()).toBe(s.data.timestamp);
  }
  // Newest first, and one sample per tick: distinct timestamps.
  const stamps = samples.map((s) => s.data.timestamp);
  expect(stamps).toEqual([...stamps].sort((a, b) => b - a));
  expect(new Set(stamps).size).toBe(stamps.length);
}

describe('the device simulator over MQTT', () => {
  it('executes the backlog and later commands with the configured result, and sends telemetry', async () => {
    const fx = await createEndpoint(app);
    // Outstanding before the simulator starts: it must get it when it observes.
    const backlog = await invokeCommand(app, fx.endpointId, 'switch-light', { on: true });
    expect(backlog.status).toBe('PENDING');

    const startedAt = Date.now();
    const sim = startSim(
      simArgs(fx, [
        `--mqtt=mqtt://127.0.0.1:${app.mqttPort}`,
        // Nothing listens here: MQTT mode must not use the HTTP server.
        '--server=http://127.0.0.1:9',
        '--status-code=202',
        '--reason-phrase=done by the simulator',
        '--telemetry-every=1',
      ]),
    );
    await waitLine(sim, (m) => m === `connected to mqtt://127.0.0.1:${app.mqttPort} as ${fx.appVersion}`, 'connected');
    await waitLine(sim, (m) => m === 'observing reboot, switch-light, zero', 'observing the default types');

    const backlogDone = await waitExecuted(backlog.id, sim);
    expect(backlogDone).toMatchObject({
      status: 'EXECUTED',
      statusCode: 202,
      reasonPhrase: 'done by the simulator',
      resultPayload: { executedBy: 'simulator' },
      endpoint: { id: fx.endpointId },
    });
    await waitLine(sim, (m) => m === `command switch-light #${backlog.id} payload {"on":true}`, 'for the backlog command');

    // Invoked while it is connected: pushed to it, printed, answered.
    const live = await invokeCommand(app, fx.endpointId, 'reboot', { delay: 3 });
    expect(live.status).toBe('PENDING');
    const liveDone = await waitExecuted(live.id, sim);
    expect(liveDone).toMatchObject({
      status: 'EXECUTED',
      statusCode: 202,
      reasonPhrase: 'done by the simulator',
      resultPayload: { executedBy: 'simulator' },
      endpoint: { id: fx.endpointId },
    });
    await waitLine(sim, (m) => m === `command reboot #${live.id} payload {"delay":3}`, 'for the live command');
    await waitLine(sim, (m) => m === 'reported 1 result(s) for reboot with 202', 'reporting the reboot result');

    // A command without a payload is printed without one.
    const bare = await invokeCommand(app, fx.endpointId, 'zero');
    expect(await waitExecuted(bare.id, sim)).toMatchObject({ statusCode: 202, reasonPhrase: 'done by the simulator' });
    await waitLine(sim, (m) => m === `command zero #${bare.id}`, 'for the command without a payload');

    await expectSimulatorTelemetry(fx, sim, 2, startedAt);

    // Each command printed exactly once, and the server reported no error to it.
    const out = messages(sim);
    for (const c of [backlog, live, bare]) expect(out.filter((m) => m.includes(` #${c.id}`))).toHaveLength(1);
    expect(out.filter((m) => m.startsWith('error on') || m.startsWith('reconnecting'))).toEqual([]);
    expect(sim.child.exitCode).toBeNull();
  }, 120_000);

  it('observes only the types given with --types', async () => {
    const fx = await createEndpoint(app);
    const sim = startSim(
      simArgs(fx, [`--mqtt=mqtt://127.0.0.1:${app.mqttPort}`, '--types= blink ,reboot', '--telemetry-every=0', '--status-code=201']),
    );
    await waitLine(sim, (m) => m === 'observing blink, reboot', 'observing blink and reboot');
    const blink = await invokeCommand(app, fx.endpointId, 'blink', [1, 2]);
    expect(await waitExecuted(blink.id, sim)).toMatchObject({ statusCode: 201, reasonPhrase: 'OK' });
    await waitLine(sim, (m) => m === `command blink #${blink.id} payload [1,2]`, 'for the blink command');
    // --telemetry-every 0: no samples (checked after the command round trip, which took a while).
    expect(await telemetryOf(fx.endpointId)).toEqual([]);
  }, 90_000);
});

/**
 * A pass-through HTTP proxy in front of the app that records each request line, so a test can see
 * how the simulator polls (the long-poll `?wait=` and how often it asks).
 */
async function startRecordingProxy(targetPort: number): Promise<{ url: string; requests: string[]; close: () => Promise<void> }> {
  const requests: string[] = [];
  const server = http.createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    const upstream = http.request(
      { host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    // The simulator went away: so does the held request upstream.
    res.on('close', () => upstream.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

describe('the device simulator over HTTP (--http)', () => {
  it('long-polls: executes the backlog and a command invoked while it waits, and sends telemetry', async () => {
    const fx = await createEndpoint(app);
    const backlog = await invokeCommand(app, fx.endpointId, 'reboot', { early: true });
    const proxy = await startRecordingProxy(app.httpPort);
    try {
      const startedAt = Date.now();
      const sim = startSim(
        simArgs(fx, [
          '--http',
          `--server=${proxy.url}`,
          // Nothing listens here: HTTP mode must not use MQTT.
          '--mqtt=mqtt://127.0.0.1:9',
          '--status-code=409',
          '--reason-phrase=busy',
          '--telemetry-every=1',
        ]),
      );
      await waitLine(sim, (m) => m === `polling ${proxy.url} as ${fx.appVersion} for reboot, switch-light, zero`, 'polling');

      expect(await waitExecuted(backlog.id, sim)).toMatchObject({
        status: 'EXECUTED',
        statusCode: 409,
        reasonPhrase: 'busy',
        resultPayload: { executedBy: 'simulator' },
        endpoint: { id: fx.endpointId },
      });
      await waitLine(sim, (m) => m === `command reboot #${backlog.id} payload {"early":true}`, 'for the backlog command');
      await waitLine(sim, (m) => m === 'reported 1 result(s) for reboot: HTTP 200', 'reporting the backlog result');

      // reboot is the long-polled type: wait until such a request is held, then invoke one.
      const cex = `/kp1/${fx.appVersion}/cex/${fx.token}`;
      const heldPolls = () => proxy.requests.filter((r) => r === `POST ${cex}/command/reboot?wait=20`).length;
      await waitFor(() => heldPolls() >= 2, WAIT_MS, () => `no second long poll: ${JSON.stringify(proxy.requests)}`);
      const live = await invokeCommand(app, fx.endpointId, 'reboot', { delay: 5 });
      expect(await waitExecuted(live.id, sim)).toMatchObject({
        status: 'EXECUTED',
        statusCode: 409,
        reasonPhrase: 'busy',
        resultPayload: { executedBy: 'simulator' },
        endpoint: { id: fx.endpointId },
      });
      await waitLine(sim, (m) => m === `command reboot #${live.id} payload {"delay":5}`, 'for the live command');

      await expectSimulatorTelemetry(fx, sim, 2, startedAt);

      const out = messages(sim);
      for (const c of [backlog, live]) expect(out.filter((m) => m.includes(` #${c.id}`))).toHaveLength(1);
      expect(out.filter((m) => m.startsWith('poll ') || m.startsWith('server unreachable'))).toEqual([]);
      expect(out.filter((m) => m.startsWith('reported ')).every((m) => m.endsWith('HTTP 200'))).toBe(true);
      expect(sim.child.exitCode).toBeNull();

      // How it polled: the first type held (?wait=20), the others asked without waiting, results
      // and samples posted; and no busy loop (two commands, so a handful of rounds in all).
      const requests = [...proxy.requests];
      const commandPolls = requests.filter((r) => r.startsWith(`POST ${cex}/command/`));
      expect(new Set(commandPolls)).toEqual(
        new Set([`POST ${cex}/command/reboot?wait=20`, `POST ${cex}/command/switch-light`, `POST ${cex}/command/zero`]),
      );
      // A round is three requests; one ends per command (2), per 20 s timeout, plus the one in flight.
      const rounds = 2 + Math.ceil((Date.now() - startedAt) / 20_000) + 1;
      expect(commandPolls.length, JSON.stringify(requests)).toBeLessThanOrEqual(3 * rounds);
      expect(requests.filter((r) => r === `POST ${cex}/result/reboot`)).toHaveLength(2);
      expect(requests.filter((r) => r === `POST /kp1/${fx.appVersion}/dcx/${fx.token}/json`).length).toBeGreaterThanOrEqual(2);
    } finally {
      await proxy.close();
    }
  }, 120_000);
});

describe('the device simulator with bad arguments', () => {
  it('exits with status 2 and prints the usage when --token is missing', async () => {
    const sim = startSim(['--app-version=some-version', '--http', `--server=${app.url}`]);
    expect(await exitOf(sim), sim.describe()).toBe(2);
    const out = sim.lines.join('\n');
    expect(out).toContain('Usage: npm run device -- --app-version <name> --token <token> [options]');
    expect(out).toContain('--telemetry-every <s>');
    // It did not start polling.
    expect(out).not.toContain('polling');
  }, 60_000);

  it('exits with status 2 when --app-version is missing, and 0 for --help', async () => {
    const missing = startSim(['--token=some-token', '--http', `--server=${app.url}`]);
    const help = startSim(['--help']);
    expect(await exitOf(missing), missing.describe()).toBe(2);
    expect(missing.lines.join('\n')).toContain('Usage: npm run device');
    expect(await exitOf(help), help.describe()).toBe(0);
    expect(help.lines.join('\n')).toContain('Usage: npm run device');
  }, 60_000);
});
