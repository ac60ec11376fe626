// The compiled server (dist/server/main.js, `npm run build`) as a child process, started the way
// users and the image start it: `node dist/server/main.js`, or `npm start`. Ports come from its
// JSON log lines; stderr is kept as text (start-up failures are one line there).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = fileURLToPath(new URL('../..', import.meta.url));
// The fault tests' key, so their GraphQL and kp1 helpers (test/faults/support/api.ts) work here.
export { ADMIN_KEY } from '../faults/support/server.ts';
/** The image's CMD (Dockerfile) and what `npm start` ends in. */
export const SERVER_ENTRY = 'dist/server/main.js';

/** Builds dist/server when it is missing or older than src/ (esbuild: well under a second). */
export function buildServer(): void {
  const result = spawnSync(process.execPath, ['scripts/build.mjs', '--server', '--if-stale'], { cwd: ROOT, encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`build failed: ${result.stderr}`);
}

const children = new Set<ChildProcess>();
/** Kills the child's whole process group: `npm start` killed alone would leave the server running. */
export function killGroup(child: ChildProcess): void {
  try {
    process.kill(-child.pid!, 'SIGKILL');
  } catch {
    // already gone
  }
}
process.once('exit', () => children.forEach(killGroup));

const temporary: string[] = [];
/** A directory removed when the test process exits. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  temporary.push(dir);
  return dir;
}
process.once('exit', () => {
  for (const dir of temporary) rmSync(dir, { recursive: true, force: true });
});

export interface LogLine {
  msg: string;
  [key: string]: unknown;
}

export interface Started {
  child: ChildProcess;
  logs: LogLine[];
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the ports once both listeners are up; rejects if the process exits first. */
  ready(timeoutMs?: number): Promise<{ url: string; mqttUrl: string }>;
  /** Resolves once a log line matches. */
  waitForLog(pred: (line: LogLine) => boolean, timeoutMs?: number): Promise<LogLine>;
}

/** The environment every test server gets: loopback, port 0, no console build needed. */
export function serverEnv(env: Record<string, string | undefined>): Record<string, string> {
  const base: Record<string, string | undefined> = {
    PATH: process.env['PATH'],
    HOME: process.env['HOME'] ?? '/tmp',
    HOST: '127.0.0.1',
    PORT: '0',
    MQTT_PORT: '0',
    LOG_LEVEL: 'info',
    CONSOLE_DIR: join(ROOT, 'console'),
    WORKERS: '1',
    ...env,
  };
  return Object.fromEntries(Object.entries(base).filter((e): e is [string, string] => e[1] !== undefined));
}

export function startServer(env: Record<string, string | undefined>, command: string[] = [process.execPath, SERVER_ENTRY]): Started {
  // Its own process group, so that a test can signal the one process and still clean up all of them.
  const child = spawn(command[0]!, command.slice(1), { cwd: ROOT, env: serverEnv(env), stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  children.add(child);
  const logs: LogLine[] = [];
  let stderr = '';
  const waiters = new Set<() => void>();
  const wake = () => waiters.forEach((w) => w());
  let ended = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    // 'close', not 'exit': stderr is complete by then.
    child.once('close', (code, signal) => {
      children.delete(child);
      ended = true;
      resolve({ code, signal });
      wake();
    }),
  );
  let buffered = '';
  child.stdout!.setEncoding('utf8');
  child.stdout!.on('data', (chunk: string) => {
    buffered += chunk;
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.startsWith('{')) logs.push(JSON.parse(line) as LogLine);
    }
    wake();
  });
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (chunk: string) => (stderr += chunk));

  function until<T>(probe: () => T | undefined, timeoutMs: number, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (value !== undefined) {
          clearTimeout(timer);
          waiters.delete(check);
          resolve(value);
        } else if (ended) {
          clearTimeout(timer);
          waiters.delete(check);
          reject(new Error(`the server exited while waiting for ${what}; stderr: ${stderr}`));
        }
      };
      const timer = setTimeout(() => {
        waiters.delete(check);
        reject(new Error(`timed out waiting for ${what}; stderr: ${stderr}`));
      }, timeoutMs);
      waiters.add(check);
      check();
    });
  }

  return {
    child,
    logs,
    stderr: () => stderr,
    exited,
    async ready(timeoutMs = 90_000) {
      const ports = await until(
        () => {
          const http = logs.find((l) => l.msg.startsWith('HTTP listening'));
          const mqtt = logs.find((l) => l.msg === 'MQTT listening');
          return http && mqtt ? { http: Number(http['port']), mqtt: Number(mqtt['port']) } : undefined;
        },
        timeoutMs,
        'both listeners',
      );
      return { url: `http://127.0.0.1:${ports.http}`, mqttUrl: `mqtt://127.0.0.1:${ports.mqtt}` };
    },
    waitForLog(pred, timeoutMs = 30_000) {
      return until(() => logs.find(pred), timeoutMs, 'a log line');
    },
  };
}
