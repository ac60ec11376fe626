// The two databases a server can run on, behind one interface for the fault tests: a private
// PostgreSQL cluster (read directly with SQL) or PGlite in a data directory (only the server
// process may open it, so it is read through the API).
import { rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { commandsViaApi, commandsViaSql, type CommandRow, type Target } from './api.ts';
import { startPostgres, type PgCluster } from './postgres.ts';
import { ServerProcess, type ServerOptions } from './server.ts';

export type BackendKind = 'postgres' | 'pglite';

export interface Backend {
  readonly kind: BackendKind;
  /** The private cluster (postgres only). */
  readonly pg: PgCluster | undefined;
  /** A server process on this database (not started). */
  server(name?: string, env?: Record<string, string>): ServerProcess;
  /**
   * Every command of the endpoints. PostgreSQL is read directly (works while no server runs);
   * PGlite through `via`, a running server on the data directory.
   */
  commands(endpointIds: string[], via: Target): Promise<CommandRow[]>;
  destroy(): Promise<void>;
}

export async function openBackend(kind: BackendKind): Promise<Backend> {
  if (kind === 'postgres') {
    const pg = await startPostgres();
    return {
      kind,
      pg,
      server: (name = 'cex-server', env = {}) => new ServerProcess({ databaseUrl: pg.url, name, env } satisfies ServerOptions),
      commands: (endpointIds) => commandsViaSql((text, params) => pg.query(text, params), endpointIds),
      destroy: () => pg.destroy(),
    };
  }
  const dataDir = await mkdtemp(join(tmpdir(), 'cex-faults-pglite-'));
  // Removed even when a test file fails before its afterAll.
  process.once('exit', () => rmSync(dataDir, { recursive: true, force: true }));
  return {
    kind,
    pg: undefined,
    server: (_name, env = {}) => new ServerProcess({ dataDir, env }),
    commands: (endpointIds, via) => commandsViaApi(via, endpointIds),
    destroy: () => rm(dataDir, { recursive: true, force: true }),
  };
}
