// Load generators and helper servers run as child processes, so they never share the server's
// (or each other's) event loop. The parent talks to each over IPC: `call(cmd, args)` → reply.
// A worker exits when its parent goes away (IPC disconnect) and after a hard lifetime, so a
// crashed run leaves nothing behind.
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const MAX_LIFETIME_MS = 60 * 60 * 1000;

type Reply = { type: 'reply'; id: number; ok: true; result: unknown } | { type: 'reply'; id: number; ok: false; error: string };

export interface WorkerOptions {
  /** Extra environment (merged over process.env). */
  env?: Record<string, string>;
  /** Arguments for node before the script (e.g. --cpu-prof). */
  nodeArgs?: string[];
  /** Open-file limit to set (soft) before exec; defaults to the hard limit. */
  nofile?: number;
}

export class WorkerProcess {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  private readonly exited: Promise<number | null>;
  private exitCode: number | null | undefined;

  private constructor(
    readonly name: string,
    private readonly child: ChildProcess,
  ) {
    this.exited = new Promise((resolve) => {
      child.once('exit', (code, signal) => {
        this.exitCode = code ?? (signal ? -1 : null);
        for (const p of this.pending.values()) p.reject(new Error(`worker ${name} exited (${code ?? signal})`));
        this.pending.clear();
        resolve(code);
      });
    });
    child.on('message', (msg: Reply) => {
      if (msg?.type !== 'reply') return;
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      if (msg.ok) p.resolve(msg.result);
      else p.reject(new Error(`${name}: ${msg.error}`));
    });
  }

  /** Starts `bench/workers/<script>` and waits until it says it is ready. */
  static async start(script: string, name: string, options: WorkerOptions = {}): Promise<WorkerProcess> {
    const path = fileURLToPath(new URL(`../workers/${script}`, import.meta.url));
    const nofile = options.nofile ?? 20_000;
    // A shell raises the soft open-file limit (up to the hard one) and then becomes node.
    const child = spawn(
      '/bin/sh',
      ['-c', `ulimit -n ${nofile} 2>/dev/null || ulimit -n "$(ulimit -Hn)"; exec "$@"`, 'sh', process.execPath, ...(options.nodeArgs ?? []), '--import', 'tsx', path],
      {
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        serialization: 'advanced',
        env: { ...process.env, ...options.env, BENCH_WORKER_NAME: name },
      },
    );
    const worker = new WorkerProcess(name, child);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`worker ${name} did not start in 60 s`)), 60_000);
      child.on('message', function ready(msg: { type?: string }) {
        if (msg?.type !== 'ready') return;
        clearTimeout(timer);
        child.off('message', ready);
        resolve();
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`worker ${name} exited with ${code} before it was ready`));
      });
    });
    return worker;
  }

  get pid(): number {
    return this.child.pid!;
  }

  call<T = unknown>(cmd: string, args: unknown = {}, timeoutMs = 15 * 60_000): Promise<T> {
    if (this.exitCode !== undefined) return Promise.reject(new Error(`worker ${this.name} has exited`));
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`${this.name}.${cmd} timed out after ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(timer);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      });
      this.child.send({ type: 'call', id, cmd, args });
    });
  }

  /** Asks the worker to exit; kills it (this pid only) if it has not within `graceMs`. */
  async stop(graceMs = 5_000): Promise<void> {
    if (this.exitCode !== undefined) return;
    try {
      this.child.send({ type: 'exit' });
    } catch {
      /* channel already closed */
    }
    const timer = setTimeout(() => this.child.kill('SIGKILL'), graceMs);
    await this.exited;
    clearTimeout(timer);
  }
}

export async function stopAll(workers: Iterable<WorkerProcess | undefined>): Promise<void> {
  await Promise.all([...workers].map((w) => w?.stop()));
}

// ---- worker side ---------------------------------------------------------------------------

export type Handlers = Record<string, (args: any) => unknown>;

/** Serves `handlers` over IPC; `onExit` runs before the worker exits on request. */
export function serveWorker(handlers: Handlers, onExit?: () => Promise<void> | void): void {
  if (!process.send) throw new Error('a bench worker must be started with an IPC channel');
  const send = (msg: unknown) => {
    try {
      process.send!(msg);
    } catch {
      /* parent gone */
    }
  };
  process.on('message', async (msg: { type: string; id: number; cmd: string; args: unknown }) => {
    if (msg.type === 'exit') {
      try {
        await onExit?.();
      } finally {
        process.exit(0);
      }
    }
    if (msg.type !== 'call') return;
    const handler = handlers[msg.cmd];
    if (!handler) return send({ type: 'reply', id: msg.id, ok: false, error: `unknown command ${msg.cmd}` });
    try {
      const result = await handler(msg.args);
      send({ type: 'reply', id: msg.id, ok: true, result: result ?? null });
    } catch (error) {
      send({ type: 'reply', id: msg.id, ok: false, error: error instanceof Error ? error.stack ?? error.message : String(error) });
    }
  });
  process.on('disconnect', () => process.exit(0));
  setTimeout(() => {
    process.stderr.write(`${process.env['BENCH_WORKER_NAME']}: lifetime of ${MAX_LIFETIME_MS} ms exceeded, exiting\n`);
    process.exit(3);
  }, MAX_LIFETIME_MS).unref();
  send({ type: 'ready' });
}

/** CPU time this process used since `since` (ms). */
export function cpuMs(since?: NodeJS.CpuUsage): number {
  const u = process.cpuUsage(since);
  return (u.user + u.system) / 1000;
}
