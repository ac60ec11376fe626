// PGlite is single-process: two servers on one DATA_DIR would each see only their own writes.
// The holder listens on a Unix socket inside the directory. The kernel closes it when the holder
// dies, however it dies (SIGKILL included), so a socket file nobody answers on is a stale lock and
// is taken over; a holder that answers names itself (pid, start time, a random id: in containers
// the pid is often 1 on both sides, so a pid alone proves nothing). A holder busy opening PGlite
// (it blocks its event loop for seconds) cannot answer: its name is also in a file beside the
// socket, written right after the bind, and read only to name it. Binding is atomic; taking
// over a stale socket (unlink, then bind) is serialised by an O_EXCL file, so two starts at once
// cannot both win.
import { randomUUID } from 'node:crypto';
import { connect, createServer, type Server } from 'node:net';
import { open, readFile, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join, relative } from 'node:path';
import { StartupError, describeCause } from '../startup-error.ts';

const SOCKET = '.cex-server.lock';
const TAKEOVER = '.cex-server.lock.takeover';
const HOLDER = '.cex-server.lock.json';
/** A takeover file older than this was left by a process killed during the takeover. */
const TAKEOVER_STALE_MS = 10_000;
/** A holder that accepts but does not answer this soon is alive but stuck (e.g. SIGSTOP). */
const PROBE_TIMEOUT_MS = 2_000;
/** Longest Unix socket path Linux accepts, less the terminating NUL. */
const MAX_SOCKET_PATH = 107;

export interface Holder {
  pid: number;
  startedAt: string;
  id: string;
}

export interface DataDirLock {
  readonly holder: Holder;
  release(): Promise<void>;
}

export async function lockDataDir(dir: string): Promise<DataDirLock> {
  const socketPath = shortest(join(dir, SOCKET));
  const me: Holder = { pid: process.pid, startedAt: new Date().toISOString(), id: randomUUID() };
  const server = createServer((socket) => socket.end(`${JSON.stringify(me)}\n`));
  server.unref();

  for (let attempt = 0; attempt < 50; attempt++) {
    if (await tryListen(server, socketPath, dir)) return held(server, socketPath, dir, me);
    const holder = await probe(socketPath, dir);
    if (holder === 'gone') continue;
    if (holder !== 'stale') throw inUse(dir, holder);
    const takeover = join(dir, TAKEOVER);
    const file = await open(takeover, 'wx').catch(async (error: NodeJS.ErrnoException) => {
      if (error.code !== 'EEXIST') throw unusable(dir, error);
      const age = Date.now() - ((await stat(takeover).catch(() => undefined))?.mtimeMs ?? Date.now());
      if (age > TAKEOVER_STALE_MS) await unlink(takeover).catch(() => {});
      return undefined;
    });
    if (!file) {
      await new Promise((resolve) => setTimeout(resolve, 50 + Math.random() * 100));
      continue;
    }
    try {
      const again = await probe(socketPath, dir);
      if (again !== 'stale' && again !== 'gone') throw inUse(dir, again);
      await unlink(socketPath).catch(() => {});
      if (await tryListen(server, socketPath, dir)) return held(server, socketPath, dir, me);
    } finally {
      await file.close();
      await unlink(takeover).catch(() => {});
    }
  }
  throw new StartupError(`DATA_DIR ${dir}: could not take its lock (${SOCKET}) after many attempts`);
}

async function held(server: Server, socketPath: string, dir: string, holder: Holder): Promise<DataDirLock> {
  const file = join(dir, HOLDER);
  await writeFile(`${file}.${holder.id}`, JSON.stringify(holder));
  await rename(`${file}.${holder.id}`, file);
  let released: Promise<void> | undefined;
  return {
    holder,
    release() {
      // Unlinked while still listening: nobody else can have bound the path yet.
      released ??= unlink(file)
        .catch(() => {})
        .then(() => unlink(socketPath))
        .catch(() => {})
        .then(() => new Promise<void>((resolve) => server.close(() => resolve())));
      return released;
    },
  };
}

function tryListen(server: Server, path: string, dir: string): Promise<boolean> {
  return new Promise((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => {
      server.off('listening', onListening);
      if (error.code === 'EADDRINUSE') resolve(false);
      else reject(unusable(dir, error));
    };
    const onListening = () => {
      server.off('error', onError);
      resolve(true);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    server.listen(path);
  });
}

/** Who holds the socket: a live holder, 'stale' (nobody listens) or 'gone' (no socket file). */
function probe(path: string, dir: string): Promise<Holder | { pid: undefined } | 'stale' | 'gone'> {
  return new Promise((resolve) => {
    let text = '';
    const socket = connect(path);
    const timer = setTimeout(() => {
      socket.destroy();
      readFile(join(dir, HOLDER), 'utf8').then(
        (json) => resolve(JSON.parse(json) as Holder),
        () => resolve({ pid: undefined }),
      );
    }, PROBE_TIMEOUT_MS);
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => (text += chunk));
    socket.on('end', () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(text) as Holder);
      } catch {
        resolve({ pid: undefined });
      }
    });
    socket.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      if (error.code === 'ECONNREFUSED') resolve('stale');
      else if (error.code === 'ENOENT') resolve('gone');
      else resolve({ pid: undefined });
    });
  });
}

function inUse(dir: string, holder: Holder | { pid: undefined }): StartupError {
  const who = holder.pid === undefined ? 'a process that does not answer' : `pid ${holder.pid}, started ${(holder as Holder).startedAt}`;
  return new StartupError(
    `DATA_DIR ${dir} is in use by another cex server (${who}); stop it first or set another DATA_DIR (PGlite is single-process)`,
  );
}

function unusable(dir: string, error: NodeJS.ErrnoException): StartupError {
  return new StartupError(`DATA_DIR ${dir} is not usable: ${describeCause(error)}`, { cause: error });
}

/** Unix socket paths are limited to 107 bytes: a deep DATA_DIR is reached relative to the cwd. */
function shortest(path: string): string {
  if (Buffer.byteLength(path) <= MAX_SOCKET_PATH) return path;
  const rel = relative(process.cwd(), path);
  return Buffer.byteLength(rel) < Buffer.byteLength(path) ? rel : path;
}
