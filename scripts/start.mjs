// `npm start`: builds what is missing or stale (in a child process, so the server does not keep
// the build tools in memory), then runs the compiled server in THIS process. npm's child is then
// the server itself, so SIGTERM / SIGINT sent to npm (which npm forwards to its child) drain and
// stop it like a signal sent to node directly.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { consoleIsStale, serverEntry, serverIsStale } from './build.mjs';

if (serverIsStale() || consoleIsStale()) {
  const build = fileURLToPath(new URL('./build.mjs', import.meta.url));
  const { status } = spawnSync(process.execPath, [build, '--if-stale'], { stdio: 'inherit' });
  if (status !== 0) process.exit(status ?? 1);
}
await import(pathToFileURL(serverEntry).href);
