// Reads the config, starts the app, and stops it cleanly on SIGINT/SIGTERM.
import { createApp } from './app.ts';
import { ConfigError, loadConfig } from './config.ts';

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

try {
  await app.start();
} catch (error) {
  app.log.fatal({ err: error }, 'could not start');
  await app.stop().catch(() => {});
  process.exit(1);
}
