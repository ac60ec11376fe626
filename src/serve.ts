// One server process: the whole app, in this process or as a cluster worker (src/cluster/).
// Signals stop it cleanly; a start that fails or hangs exits 1 with one line saying why.
import cluster from 'node:cluster';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createApp } from './app.ts';
import { joinPrimary } from './cluster/worker.ts';
import type { Config } from './config.ts';
import { createLogger } from './logger.ts';
import { StartupError } from './startup-error.ts';

export async function serve(config: Config): Promise<void> {
  // Only under our own primary (CEX_WORKER): under another cluster manager (PM2) this is a plain server.
  const link = cluster.isWorker && config.workerSlot !== undefined ? joinPrimary() : undefined;
  const logger = config.workerSlot === undefined ? undefined : createLogger(config.logLevel).child({ worker: config.workerSlot });
  const app = createApp(config, { logger, node: link?.node });
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
    link?.answerWith(() => app.readiness());
    link?.serving();
  } catch (error) {
    clearTimeout(watchdog);
    if (error instanceof StartupError) process.stderr.write(`cex could not start: ${error.message}\n`);
    else app.log.fatal({ err: error }, 'could not start');
    await app.stop().catch(() => {});
    process.exit(1);
  }
}

/** PGlite's initdb of a new DATA_DIR is slow on small machines; it prints progress meanwhile. */
function startBudget(config: Config): number {
  const { database } = config;
  const fresh = database.kind === 'pglite' && !database.dataDir.startsWith('memory://') && !existsSync(join(database.dataDir, 'PG_VERSION'));
  return fresh ? config.startTimeoutMs * 4 : config.startTimeoutMs;
}
