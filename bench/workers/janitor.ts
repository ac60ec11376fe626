// Leaves nothing behind: the bench registers what it starts outside the IPC tree (the server
// process, the private PostgreSQL and its data directory, temp directories). If the bench
// process disappears without cleaning up (crash, SIGKILL), this worker's IPC channel closes and
// it stops and removes everything registered. It ignores SIGINT/SIGTERM (a Ctrl-C reaches the
// whole process group) so it outlives the bench long enough to clean up.
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';

type Item =
  | { kind: 'process'; pid: number }
  | { kind: 'postgres'; pgCtl: string; dataDir: string; asPostgres: boolean }
  | { kind: 'dir'; path: string };

const items = new Map<string, Item>();

function clean(item: Item): void {
  try {
    if (item.kind === 'process') {
      process.kill(item.pid, 'SIGTERM');
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        try {
          process.kill(item.pid, 0);
        } catch {
          return;
        }
        spawnSync('sleep', ['0.2']);
      }
      process.kill(item.pid, 'SIGKILL');
    } else if (item.kind === 'postgres') {
      const args = ['-D', item.dataDir, '-m', 'fast', '-w', '-t', '30', 'stop'];
      if (item.asPostgres) spawnSync('runuser', ['-u', 'postgres', '--', item.pgCtl, ...args], { stdio: 'ignore' });
      else spawnSync(item.pgCtl, args, { stdio: 'ignore' });
      rmSync(item.dataDir, { recursive: true, force: true });
    } else {
      rmSync(item.path, { recursive: true, force: true });
    }
  } catch {
    /* already gone */
  }
}

function cleanAll(): void {
  // Processes first (the server uses the database), then the database, then directories.
  const order = { process: 0, postgres: 1, dir: 2 } as const;
  for (const item of [...items.values()].sort((a, b) => order[a.kind] - order[b.kind])) clean(item);
  items.clear();
}

process.on('SIGINT', () => {});
process.on('SIGTERM', () => {});
process.on('message', (msg: { type: string; id: number; cmd: string; args: { key: string; item?: Item } }) => {
  if (msg.type === 'exit') process.exit(0);
  if (msg.type !== 'call') return;
  if (msg.cmd === 'register' && msg.args.item) items.set(msg.args.key, msg.args.item);
  if (msg.cmd === 'release') items.delete(msg.args.key);
  process.send?.({ type: 'reply', id: msg.id, ok: true, result: null });
});
process.on('disconnect', () => {
  cleanAll();
  process.exit(0);
});
// Bounded like every worker: after 2 hours, clean up and go.
setTimeout(() => {
  cleanAll();
  process.exit(3);
}, 2 * 60 * 60 * 1000).unref();
process.send?.({ type: 'ready' });
