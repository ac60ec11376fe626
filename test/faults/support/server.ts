// Server processes for fault tests: `node --import tsx src/main.ts` as a child of the test, so it
// can be SIGKILLed, SIGTERMed, frozen and restarted for real. Ports come from its JSON log lines;
// a restart reuses them, so devices with auto-reconnect find the new process where the old one was.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

// FAULTS_SERVER_ROOT runs the server from another checkout (e.g. one with a proposed patch applied).
export const ROOT = process.env['FAULTS_SERVER_ROOT'] ?? fileURLToPath(new URL('../../..', import.meta.url));
export const ADMIN_KEY = 'fault-admin-key-0123456789abcdef';

export interface LogLine {
  level: number;
  msg: string;
  [key: string]: unknown;
}

export interface ServerOptions {
  /** PostgreSQL URL; without it the server uses PGlite in `dataDir`. */
  databaseUrl?: string;
  dataDir?: string;
  /** Shown as application_name in pg_stat_activity (PGAPPNAME, read by postgres.js). */
  name?: string;
  env?: Record<string, string>;
}

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

const children = new Set<ChildProcess>();
// Nothing the tests start may outlive them, even if a test file crashes.
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

export class ServerProcess {
  child!: ChildProcess;
  httpPort = 0;
  mqttPort = 0;
  /** Every parsed JSON log line of every generation of this server. */
  readonly logs: LogLine[] = [];
  /** stderr of every generation. */
  stderr = '';
  /** Lines of stdout that were not JSON. */
  readonly otherOutput: string[] = [];
  exited!: Promise<Exit>;
  exit: Exit | undefined;
  /** 1 for the first process, 2 after the first restart, … */
  generation = 0;
  private readonly waiters = new Set<() => void>();

  constructor(readonly options: ServerOptions) {}

  get url(): string {
    return `http://127.0.0.1:${this.httpPort}`;
  }
  get mqttUrl(): string {
    return `mqtt://127.0.0.1:${this.mqttPort}`;
  }
  get pid(): number {
    return this.child.pid!;
  }
  get running(): boolean {
    return this.exit === undefined;
  }

  /** Log lines of the current generation only. */
  currentLogs(): LogLine[] {
    return this.logs.filter((l) => l['generation'] === this.generation);
  }

  /** Starts a process (on the previous ports when there were any) and waits until both listeners are up. */
  async start(timeoutMs = 60_000): Promise<void> {
    if (this.exit === undefined && this.generation > 0) throw new Error('already running');
    let lastError: unknown;
    // A port of the killed process can be briefly busy; try a few times.
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        await this.spawnOnce(timeoutMs);
        return;
      } catch (error) {
        lastError = error;
        if (!/EADDRINUSE/.test(String(error))) throw error;
        await new Promise((r) => setTimeout(r, 500));
      }
    }
    throw lastError;
  }

  private async spawnOnce(timeoutMs: number): Promise<void> {
    const generation = ++this.generation;
    const env: Record<string, string> = {
      PATH: process.env['PATH'] ?? '/usr/bin:/bin',
      HOME: process.env['HOME'] ?? '/tmp',
      PORT: String(this.httpPort),
      MQTT_PORT: String(this.mqttPort),
      HOST: '127.0.0.1',
      ADMIN_API_KEY: ADMIN_KEY,
      LOG_LEVEL: 'info',
      EXPIRY_SWEEP_MS: '50',
      // Tests drive many requests over few connections; the production limits are not under test.
      MQTT_MAX_PUBLISHES_PER_SECOND: '100000',
      MUTATIONS_PER_MINUTE: '10000000',
      // One process, as before WORKERS: the tests signal and kill it by its pid.
      WORKERS: '1',
      ...(this.options.name ? { PGAPPNAME: this.options.name } : {}),
      ...(this.options.databaseUrl ? { DATABASE_URL: this.options.databaseUrl } : { DATA_DIR: this.options.dataDir! }),
      ...this.options.env,
    };
    // FAULTS_NODE_ARGS: extra node flags for diagnosing a failure (e.g. --import a tracing hook).
    const nodeArgs = (process.env['FAULTS_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const guard = fileURLToPath(new URL('./orphan-guard.ts', import.meta.url));
    const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', '--import', guard, 'src/main.ts'], {
      cwd: ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child = child;
    this.exit = undefined;
    children.add(child);
    this.exited = new Promise<Exit>((resolve) => {
      child.once('exit', (code, signal) => {
        children.delete(child);
        if (this.child === child) this.exit = { code, signal };
        resolve({ code, signal });
        this.wake();
      });
    });
    let buffered = '';
    child.stdout!.setEncoding('utf8');
    child.stdout!.on('data', (chunk: string) => {
      buffered += chunk;
      let nl: number;
      while ((nl = buffered.indexOf('\n')) >= 0) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        try {
          const parsed = JSON.parse(line) as LogLine;
          parsed['generation'] = generation;
          this.logs.push(parsed);
        } catch {
          this.otherOutput.push(line);
        }
      }
      this.wake();
    });
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (chunk: string) => {
      this.stderr += chunk;
      this.wake();
    });

    const ready = await this.waitUntil(
      () => {
        const mine = this.currentLogs();
        const http = mine.find((l) => typeof l.msg === 'string' && l.msg.startsWith('HTTP listening'));
        const mqtt = mine.find((l) => l.msg === 'MQTT listening');
        if (http && mqtt) return { http: Number(http['port']), mqtt: Number(mqtt['port']) };
        if (this.child === child && this.exit) return 'exited' as const;
        return undefined;
      },
      timeoutMs,
      'server start',
    );
    if (ready === 'exited') {
      throw new Error(`server exited before it was ready (${JSON.stringify(this.exit)}): ${this.stderr.slice(-2000)}`);
    }
    this.httpPort = ready.http;
    this.mqttPort = ready.mqtt;
  }

  private wake(): void {
    for (const w of [...this.waiters]) w();
  }

  /** Resolves with probe() once it returns a value (re-checked on every output line and exit). */
  waitUntil<T>(probe: () => T | undefined, ms: number, what: string): Promise<T> {
    const now = probe();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const check = () => {
        const value = probe();
        if (value === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(check);
        reject(new Error(`Timed out after ${ms} ms waiting for ${what}; stderr: ${this.stderr.slice(-2000)}`));
      }, ms);
      this.waiters.add(check);
    });
  }

  /** Waits for a log line of the current generation matching `pred`. */
  waitForLog(pred: (line: LogLine) => boolean, ms = 10_000): Promise<LogLine> {
    return this.waitUntil(() => this.currentLogs().find(pred), ms, 'a log line');
  }

  /** Sends a signal; for SIGKILL waits for the exit (it is immediate). */
  async kill(signal: NodeJS.Signals = 'SIGKILL'): Promise<Exit | undefined> {
    if (!this.running) return this.exit;
    this.child.kill(signal);
    if (signal === 'SIGKILL') return this.exited;
    return undefined;
  }

  /** SIGKILL (or the given signal, then SIGKILL after `graceMs`) and start again on the same ports. */
  async restart(signal: NodeJS.Signals = 'SIGKILL', graceMs = 15_000): Promise<Exit | undefined> {
    const exit = await this.stop(signal, graceMs);
    await this.start();
    return exit;
  }

  /** Sends `signal` and waits for the exit; SIGKILL after `graceMs`. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', graceMs = 15_000): Promise<Exit | undefined> {
    if (!this.running || !this.child) return this.exit;
    this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Resident memory of the process in KiB (from /proc). */
  async rssKiB(): Promise<number> {
    const { readFile } = await import('node:fs/promises');
    const status = await readFile(`/proc/${this.pid}/status`, 'utf8');
    return Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? NaN);
  }

  /** Error-or-worse log lines (pino level ≥ 50), and uncaught-exception traces on stderr. */
  problems(): string[] {
    const lines = this.logs.filter((l) => l.level >= 50).map((l) => JSON.stringify(l));
    if (/uncaughtException|unhandledRejection|TypeError|ReferenceError/.test(this.stderr)) lines.push(this.stderr);
    return lines;
  }
}

export async function startServer(options: ServerOptions): Promise<ServerProcess> {
  const server = new ServerProcess(options);
  await server.start();
  return server;
}

/** SIGKILLs every server child still running (afterAll). */
export async function killAllServers(): Promise<void> {
  const all = [...children];
  for (const child of all) child.kill('SIGKILL');
  await Promise.all(
    all.map((child) => (child.exitCode !== null || child.signalCode !== null ? undefined : new Promise((r) => child.once('exit', r)))),
  );
}
