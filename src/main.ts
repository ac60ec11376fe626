// Reads the config, starts the app, and stops it cleanly on SIGINT/SIGTERM. A start that fails
// or hangs ends the process (exit 1) with one line saying why; a bad configuration exits 2.
// With WORKERS > 1 this process becomes the primary of a node:cluster and each worker it forks
// runs this file again as a full server (src/cluster/).
import './v8-flags.ts';
import cluster from 'node:cluster';
import { fileURLToPath } from 'node:url';
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

// Imported on demand: the primary loads none of the server's modules (nor their metrics).
if (config.workers > 1 && cluster.isPrimary) (await import('./cluster/primary.ts')).runPrimary(config, fileURLToPath(import.meta.url));
else await (await import('./serve.ts')).serve(config);

