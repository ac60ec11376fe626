// loadConfig: the process contract's defaults (docs/api.md, "Process"), and every problem
// reported at once with the variable's name.
import { readFileSync } from 'node:fs';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config.ts';

function configError(env: NodeJS.ProcessEnv): ConfigError {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

describe('loadConfig', () => {
  const saved = { ...process.env };
  afterEach(() => {
    for (const k of Object.keys(process.env)) if (!(k in saved)) delete process.env[k];
    Object.assign(process.env, saved);
  });

  it('has the defaults of the process contract', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({
      port: 8080,
      mqttPort: 1883,
      host: '0.0.0.0',
      database: { kind: 'pglite', dataDir: './data' },
      adminApiKey: undefined,
      logLevel: 'info',
      maxRetentionSeconds: 604800,
      defaultRetentionSeconds: 3600,
      maxCommandPayloadBytes: 65536,
      graphql: {
        maxBatchOperations: 20,
        maxWebSocketMessageBytes: 1024 * 1024,
        connectionInitTimeoutMs: 5000,
        armor: { maxDepth: 12, maxAliases: 20, maxTokens: 5000, maxDirectives: 20, maxCost: 5000, assumedListSize: 5 },
      },
      shutdown: { drainMs: 5000, exitAfterMs: 10_000 },
    });
  });

  it('is frozen all the way down', () => {
    const config = loadConfig({ GRAPHQL_ALLOWED_ORIGINS: 'https://a.example', DATABASE_URL: 'postgres://db/cex' });
    const unfrozen: string[] = [];
    const visit = (value: unknown, path: string) => {
      if (typeof value !== 'object' || value === null) return;
      if (!Object.isFrozen(value)) unfrozen.push(path);
      for (const [key, inner] of Object.entries(value)) visit(inner, `${path}.${key}`);
    };
    visit(config, 'config');
    expect(unfrozen).toEqual([]);
    expect(() => {
      // @ts-expect-error nested settings are read-only in the type too
      config.graphql.armor.maxDepth = 1000;
    }).toThrow(TypeError);
    expect(() => {
      // @ts-expect-error
      config.graphql.allowedOrigins.push('https://evil.example');
    }).toThrow(TypeError);
    expect(config.graphql.armor.maxDepth).toBe(12);
  });

  it('treats empty and blank variables as unset', () => {
    const config = loadConfig({ PORT: '', MQTT_PORT: '  ', HOST: ' ', DATABASE_URL: '', ADMIN_API_KEY: '' });
    expect(config).toMatchObject({ port: 8080, mqttPort: 1883, host: '0.0.0.0', database: { kind: 'pglite' }, adminApiKey: undefined });
  });

  it('reads the given variables', () => {
    const config = loadConfig({
      PORT: '9090',
      MQTT_PORT: '0',
      HOST: '127.0.0.1',
      DATA_DIR: '/var/lib/cex',
      ADMIN_API_KEY: 'a-long-enough-admin-key',
      LOG_LEVEL: 'warn',
      MAX_RETENTION_SECONDS: '100',
      DEFAULT_RETENTION_SECONDS: '50',
      MAX_COMMAND_PAYLOAD_BYTES: '1024',
      EXPIRY_SWEEP_MS: '1000',
      GRAPHQL_MAX_DEPTH: '20',
      GRAPHQL_MAX_COST: '50000',
      SHUTDOWN_DRAIN_MS: '25000',
    });
    expect(config).toMatchObject({
      port: 9090,
      mqttPort: 0,
      host: '127.0.0.1',
      database: { kind: 'pglite', dataDir: '/var/lib/cex' },
      adminApiKey: 'a-long-enough-admin-key',
      logLevel: 'warn',
      maxRetentionSeconds: 100,
      defaultRetentionSeconds: 50,
      maxCommandPayloadBytes: 1024,
      expirySweepMs: 1000,
      graphql: { armor: { maxDepth: 20, maxCost: 50000 } },
      shutdown: { drainMs: 25000, exitAfterMs: 30000 },
    });
  });

  it('uses PostgreSQL when DATABASE_URL is set', () => {
    const url = 'postgres://cex:secret@db.example:5432/cex';
    expect(loadConfig({ DATABASE_URL: url, DATA_DIR: '/ignored' }).database).toEqual({
      kind: 'postgres',
      url,
      poolSize: 10,
      operatorStatementTimeoutMs: 10000,
    });
    expect(
      loadConfig({ DATABASE_URL: 'postgresql://db/cex', DATABASE_POOL_SIZE: '3', GRAPHQL_STATEMENT_TIMEOUT_MS: '2500' }).database,
    ).toEqual({
      kind: 'postgres',
      url: 'postgresql://db/cex',
      poolSize: 3,
      operatorStatementTimeoutMs: 2500,
    });
  });

  it('reads only the environment it is given', () => {
    process.env['PORT'] = '1234';
    process.env['DATABASE_URL'] = 'postgres://elsewhere/db';
    const config = loadConfig({});
    expect(config.port).toBe(8080);
    expect(config.database.kind).toBe('pglite');
  });

  it('reports every bad variable at once, each by name', () => {
    const error = configError({
      PORT: 'eighty',
      MQTT_PORT: '70000',
      LOG_LEVEL: 'loud',
      DATABASE_URL: 'mysql://db/cex',
      ADMIN_API_KEY: 'short',
      EXPIRY_SWEEP_MS: '1',
      MAX_COMMAND_PAYLOAD_BYTES: '1.5',
    });
    const names = ['PORT', 'MQTT_PORT', 'LOG_LEVEL', 'DATABASE_URL', 'ADMIN_API_KEY', 'EXPIRY_SWEEP_MS', 'MAX_COMMAND_PAYLOAD_BYTES'];
    expect(error.problems).toHaveLength(names.length);
    for (const name of names) {
      expect(error.problems.some((p) => p.startsWith(name)), name).toBe(true);
      expect(error.message).toContain(name);
    }
    // PORT's problem names PORT, not only MQTT_PORT's.
    expect(error.problems.filter((p) => /^PORT\b/.test(p))).toHaveLength(1);
    expect(error.problems.find((p) => p.startsWith('PORT'))).toContain('eighty');
  });

  it.each([
    ['PORT', '-1'],
    ['PORT', '65536'],
    ['PORT', '80.5'],
    ['MQTT_PORT', 'abc'],
    ['MAX_RETENTION_SECONDS', '0'],
    ['DATABASE_POOL_SIZE', '0'],
    ['GRAPHQL_MAX_DEPTH', '0'],
    ['GRAPHQL_MAX_COST', 'lots'],
    ['SHUTDOWN_DRAIN_MS', '600001'],
  ])('refuses %s=%j', (name, value) => {
    const error = configError({ [name]: value });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toContain(name);
  });

  it('reads the kp1 settings: errors without request id, and the DCX timestamp field (empty turns it off)', () => {
    expect(loadConfig({}).kp1).toEqual({ errorsWithoutRequestId: 'drop', dcxTimestampField: 'timestamp' });
    expect(loadConfig({ KP1_ERRORS_WITHOUT_REQUEST_ID: 'publish', DCX_TIMESTAMP_FIELD: ' ts ' }).kp1).toEqual({
      errorsWithoutRequestId: 'publish',
      dcxTimestampField: 'ts',
    });
    expect(loadConfig({ DCX_TIMESTAMP_FIELD: '' }).kp1.dcxTimestampField).toBe('');
    expect(configError({ KP1_ERRORS_WITHOUT_REQUEST_ID: 'yes' }).problems[0]).toMatch(/KP1_ERRORS_WITHOUT_REQUEST_ID/);
  });

  it('refuses a default retention above the maximum', () => {
    const error = configError({ MAX_RETENTION_SECONDS: '60', DEFAULT_RETENTION_SECONDS: '61' });
    expect(error.problems).toHaveLength(1);
    expect(error.problems[0]).toMatch(/DEFAULT_RETENTION_SECONDS.*MAX_RETENTION_SECONDS/);
  });

  it('reads only variables documented in the README and docs/api.md', () => {
    const read = new Set<string>();
    loadConfig(
      new Proxy({} as NodeJS.ProcessEnv, {
        get: (_env, name) => {
          if (typeof name === 'string') read.add(name);
          return undefined;
        },
      }),
    );
    expect(read.size).toBeGreaterThan(20);
    const tableRows = (file: string) =>
      new Set([...readFileSync(new URL(file, import.meta.url), 'utf8').matchAll(/^\| `([A-Z][A-Z0-9_]*)` \|/gm)].map((m) => m[1]));
    for (const file of ['../../README.md', '../../docs/api.md']) {
      const documented = tableRows(file);
      expect([...read].filter((name) => !documented.has(name)), file).toEqual([]);
    }
  });

  it('never puts a DATABASE_URL password in its messages', () => {
    const error = configError({ DATABASE_URL: 'mysql://cex:hunter2@db/cex', PORT: 'x' });
    expect(error.message).not.toContain('hunter2');
  });
});
