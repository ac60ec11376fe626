// The service under test, as its own process: `node --import tsx src/main.ts`, configured only
// through its environment (the process contract), with the bench's high limits.
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { fileURLToPath } from 'node:url';
import { sleep } from './clock.ts';
import { freePort, memoryOf } from './proc.ts';
import type { MemoryFigures } from './memory.ts';

const repoRoot = fileURLToPath(new URL('../../', import.meta.url));
const probe = fileURLToPath(new URL('./server-probe.ts', import.meta.url));

export interface ServerOptions {
  databaseUrl?: string;
  dataDir?: string;
  adminKey: string;
  logFile: string;
  /** e.g. ['--cpu-prof', '--cpu-prof-dir=…'] */
  nodeArgs?: string[];
  env?: Record<string, string>;
  nofile: number;
  /** Where src/main.ts is (default: this repository); to compare another checkout. */
  root?: string;
  /** File the memory probe writes to. */
  probeFile: string;
}

export interface RunningServer {
  pid: number;
  httpPort: number;
  mqttPort: number;
  url: string;
  env: Record<string, string>;
  /** Heap and RSS from inside the server (after a full GC with `gc`). */
  memory(gc: boolean): Promise<MemoryFigures | undefined>;
  stop(): Promise<number | null>;
}

/** The limits raised for load runs (defaults: 6,000 mutations/min per key, 1,000 MQTT connections per address, 200 publishes/s per connection). */
export const LOAD_LIMITS = {
  MUTATIONS_PER_MINUTE: '100000000',
  MQTT_MAX_CONNECTIONS_PER_ADDRESS: '1000000',
  MQTT_MAX_PUBLISHES_PER_SECOND: '1000000',
  // The webhooks scenario's receiver is on loopback.
  WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
};

export async function startServer(options: ServerOptions): Promise<RunningServer> {
  const httpPort = await freePort();
  const mqttPort = await freePort();
  const env: Record<string, string> = {
    PORT: String(httpPort),
    MQTT_PORT: String(mqttPort),
    HOST: '127.0.0.1',
    ADMIN_API_KEY: options.adminKey,
    LOG_LEVEL: 'warn',
    // One server process unless a scenario asks for more: CPU and memory are read from its pid.
    WORKERS: '1',
    ...LOAD_LIMITS,
    ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : { DATA_DIR: options.dataDir! }),
    ...options.env,
    BENCH_PROBE_FILE: options.probeFile,
  };
  const log = createWriteStream(options.logFile, { flags: 'a' });
  const { DATABASE_URL: _u, DATA_DIR: _d, ...inherited } = process.env;
  const child: ChildProcess = spawn(
    '/bin/sh',
    [
      '-c',
      `ulimit -n ${options.nofile} 2>/dev/null; exec "$@"`,
      'sh',
      process.execPath,
      '--expose-gc',
      ...(options.nodeArgs ?? []),
      '--import',
      'tsx',
      '--import',
      probe,
      'src/main.ts',
    ],
    { cwd: options.root ?? repoRoot, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout!.pipe(log);
  child.stderr!.pipe(log);
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) =>
    child.once('exit', (code) => {
      exitCode = code;
      resolve(code);
    }),
  );
  const url = `http://127.0.0.1:${httpPort}`;
  const deadline = Date.now() + 120_000;
  for (;;) {
    if (exitCode !== undefined) throw new Error(`the server exited with ${exitCode} while starting; see ${options.logFile}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`the server did not become healthy in 120 s; see ${options.logFile}`);
    }
    const healthy = await fetch(`${url}/healthz`).then(
      (r) => r.ok,
      () => false,
    );
    if (healthy && (await canConnect(mqttPort))) break;
    await sleep(200);
  }
  return {
    pid: child.pid!,
    httpPort,
    mqttPort,
    url,
    env,
    async memory(gc) {
      const file = options.probeFile;
      const seqOf = () => {
        try {
          return (JSON.parse(readFileSync(file, 'utf8')) as MemoryFigures).seq ?? 0;
        } catch {
          return 0;
        }
      };
      const before = existsSync(file) ? seqOf() : 0;
      if (gc) writeFileSync(`${file}.gc`, '');
      process.kill(child.pid!, 'SIGUSR2');
      const deadline = Date.now() + 15_000;
      while (Date.now() < deadline) {
        await sleep(20);
        if (seqOf() > before) return JSON.parse(readFileSync(file, 'utf8')) as MemoryFigures;
      }
      return undefined;
    },
    async stop() {
      if (exitCode !== undefined) return exitCode;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      const code = await exited;
      clearTimeout(timer);
      log.end();
      return code;
    },
  };
}

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

export function serverMemory(server: RunningServer) {
  return memoryOf(server.pid);
}
