// `npm start`: builds what is missing or stale (in a child process, so the server does not keep
// the build tools in memory), then runs the compiled server in THIS process. npm's child is then
// the server itself, so SIGTERM / SIGINT sent to npm (which npm forwards to its child) drain and
// stop it like a signal sent to node directly.
import { spawnSync } from 'node:child_process';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { consoleIsStale, serverEntry, serverIsStale } from './build.mjs';

// With CONSOLE_DIR set the console is served from there and not built here.
const consoleNeeded = !process.env['CONSOLE_DIR'];
if (serverIsStale() || (consoleNeeded && consoleIsStale())) {
  const build = fileURLToPath(new URL('./build.mjs', import.meta.url));
  const { status } = spawnSync(process.execPath, [build, '--if-stale', ...(consoleNeeded ? [] : ['--server'])], { stdio: 'inherit' });
  if (status !== 0) process.exit(status ?? 1);
}
await import(pathToFileURL(serverEntry).href);
