// Reads the config, starts the app, and stops it cleanly on SIGINT/SIGTERM. A start that fails
// or hangs ends the process (exit 1) with one line saying why; a bad configuration exits 2.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createApp } from './app.ts';
import { ConfigError, loadConfig, type Config } from './config.ts';
import { StartupError } from './startup-error.ts';

let config;
try {
  config = loadConfig();
} catch (error) {
  if (error instanceof ConfigError) {
    process.stderr.write(`${error.message}\n`);
    process.exit(2);
  }
  throw error;
}

const app = createApp(config);
let stopping = false;
const shutdown = (signal: string) => {
  if (stopping) return;
  stopping = true;
  app.log.info({ signal }, 'shutting down');
  const force = setTimeout(() => {
    app.log.error({ exitAfterMs: config.shutdown.exitAfterMs }, 'shutdown took too long; exiting');
    process.exit(1);
  }, config.shutdown.exitAfterMs);
  force.unref();
  app.stop().then(
    () => process.exit(0),
    (error: unknown) => {
      app.log.error({ err: error }, 'error during shutdown');
      process.exit(1);
    },
  );
};
process.on('SIGINT', () => shutdown('SIGINT'));
process.on('SIGTERM', () => shutdown('SIGTERM'));

const startTimeoutMs = startBudget(config);
const watchdog = setTimeout(() => {
  process.stderr.write(
    `cex could not start: still starting after ${startTimeoutMs / 1000} s (START_TIMEOUT_SECONDS); check the database settings and the log above\n`,
  );
  process.exit(1);
}, startTimeoutMs);
try {
  await app.start();
  clearTimeout(watchdog);
} catch (error) {
  clearTimeout(watchdog);
  if (error instanceof StartupError) process.stderr.write(`cex could not start: ${error.message}\n`);
  else app.log.fatal({ err: error }, 'could not start');
  await app.stop().catch(() => {});
  process.exit(1);
}

/** PGlite's initdb of a new DATA_DIR is slow on small machines; it prints progress meanwhile. */
function startBudget(config: Config): number {
  const { database } = config;
  const fresh = database.kind === 'pglite' && !database.dataDir.startsWith('memory://') && !existsSync(join(database.dataDir, 'PG_VERSION'));
  return fresh ? config.startTimeoutMs * 4 : config.startTimeoutMs;
}
