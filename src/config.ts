// The only reader of process.env. Every variable is parsed once, all problems are reported
// together with the variable's name, and the rest of the code gets a typed object frozen all the
// way down. Limits an operator cannot set are here too, so every limit has one home.
import { availableParallelism } from 'node:os';
import postgres from 'postgres';
import { deepFreeze, type DeepReadonly } from './lib/deep-freeze.ts';
import { fromProjectRoot } from './lib/project-root.ts';

export type DatabaseConfig =
  | { kind: 'pglite'; dataDir: string }
  | {
      kind: 'postgres';
      url: string;
      poolSize: number;
      /** PostgreSQL statement_timeout of GraphQL requests' statements (their own pool). */
      operatorStatementTimeoutMs?: number;
    };

export type LogLevel = 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';

/** Read-only all the way down, like the object loadConfig returns. */
export type Config = DeepReadonly<Settings>;

interface Settings {
  host: string;
  /** The built operator console served at / (index.html and assets/). */
  consoleDir: string;
  presence: {
    /** How often a process refreshes its heartbeat and removes stale instances. */
    heartbeatMs: number;
    /** A process whose heartbeat is older than this is dead: its MQTT sessions no longer count. */
    staleAfterMs: number;
    /** Endpoint.lastSeenAt is written at most this often per endpoint. */
    lastSeenThrottleMs: number;
    /** How long session and last-seen changes wait to be written together. */
    flushMs: number;
  };
  port: number;
  mqttPort: number;
  /** Server processes sharing the ports (node:cluster); 1 runs the server in this process. */
  workers: number;
  /** In a worker the primary forked (CEX_WORKER, set by the primary): its slot, 0 … workers − 1. */
  workerSlot: number | undefined;
  database: DatabaseConfig;
  adminApiKey: string | undefined;
  logLevel: LogLevel;
  /** Upper bound for `retentionSeconds` ("maximum command retention for delivery"). */
  maxRetentionSeconds: number;
  /** Retention used when an operator gives none. */
  defaultRetentionSeconds: number;
  /** Largest command payload (JSON text, bytes) an operator may send. */
  maxCommandPayloadBytes: number;
  /** Largest kp1 request body (HTTP body or MQTT payload) a device may send, in bytes. */
  maxDeviceMessageBytes: number;
  mqtt: {
    maxConnectionsPerAddress: number;
    /** Per connection; bursts up to twice as many. */
    maxPublishesPerSecond: number;
    /** Per device token (kp1 topics), across connections; bursts up to twice as many. */
    maxPublishesPerTokenPerSecond: number;
    /** Per source address, across connections; bursts up to twice as many. */
    maxPublishesPerAddressPerSecond: number;
    maxKeepaliveSeconds: number;
    /** How long a connection may leave what it is sent unread before it is dropped. */
    drainTimeoutMs: number;
    /** How long a new connection has to send its CONNECT. */
    connectTimeoutMs: number;
    /** Largest packet before the connection is accepted: a CONNECT is small. */
    maxConnectPacketBytes: number;
    /** Room in a PUBLISH beyond maxDeviceMessageBytes for its topic and header (app version,
     *  token and command type are each ≤ 128 characters). */
    packetHeadroomBytes: number;
  };
  http: {
    /** A request whose headers are not complete this long after it began gets 408 and is closed. */
    headersTimeoutMs: number;
    /** A request not received completely (headers and body) this long after it began gets 408 and is
     *  closed. Answers are not bounded by it: long polls and SSE streams go on. */
    requestTimeoutMs: number;
    /** An idle keep-alive connection is closed after this long. */
    keepAliveTimeoutMs: number;
    maxConnectionsPerAddress: number;
  };
  /** How often the expiry sweeper looks for commands whose retention has passed. */
  expirySweepMs: number;
  kp1: {
    /** `drop` (1/KP: no response without a request id) or `publish` (to `<topic>/error`, for debugging). */
    errorsWithoutRequestId: 'drop' | 'publish';
    /** The DCX sample field read as the sample's timestamp; '' reads none (docs/kp1.md §3). */
    dcxTimestampField: string;
  };
  graphql: {
    /** Serve GraphiQL on GET /graphql. */
    graphiql: boolean;
    /** Whether introspection works without an API key (with one it always does). */
    anonymousIntrospection: boolean;
    /** Root mutation fields one API key may run per minute. */
    mutationsPerMinute: number;
    /** Largest GraphQL request body, in bytes. */
    maxRequestBytes: number;
    /** Browser origins allowed to open graphql-ws websockets; empty: any. */
    allowedOrigins: string[];
    /** Subscriptions one websocket may hold at once. */
    maxSubscriptionsPerConnection: number;
    /** Operations one HTTP request may batch (a JSON array body). */
    maxBatchOperations: number;
    /** Largest graphql-ws message, in bytes; a larger one closes the socket (1009). */
    maxWebSocketMessageBytes: number;
    /** A graphql-ws socket without connection_init this long is closed (4408). */
    connectionInitTimeoutMs: number;
    /** Document limits checked before any resolver runs (graphql-armor). */
    armor: {
      maxDepth: number;
      maxAliases: number;
      maxTokens: number;
      maxDirectives: number;
      maxCost: number;
      /** Items a list field without `first`/`last` is assumed to return, for the cost. */
      assumedListSize: number;
    };
  };
  metrics: {
    /** A listener of its own for /metrics; unset: /metrics is on `port`. */
    port: number | undefined;
    /** Bearer token /metrics requires; unset: open. */
    token: string | undefined;
  };
  webhooks: {
    /** Let webhooks reach loopback, link-local and private addresses (tests, private deployments). */
    allowPrivateTargets: boolean;
    /** Per delivery request. */
    timeoutMs: number;
    /** First retry delay; doubled per attempt up to retryMaxDelayMs, with jitter. */
    retryBaseMs: number;
    retryMaxDelayMs: number;
    /** How long an event is retried; a webhook failing this long is disabled. */
    retryForMs: number;
  };
  /** main.ts gives up (exit 1, with what it was doing) if start() takes longer than this. */
  startTimeoutMs: number;
  shutdown: {
    /** How long stop() lets HTTP requests in flight finish before it closes the rest. */
    drainMs: number;
    /** main.ts exits with status 1 if stopping takes longer than this. */
    exitAfterMs: number;
  };
}

export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n  - ${problems.join('\n  - ')}`);
    this.name = 'ConfigError';
  }
}

const LOG_LEVELS: readonly LogLevel[] = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];

/** Defaults of the process contract (docs/api.md, "Process"). */
export const defaults = {
  host: '0.0.0.0',
  port: 8080,
  mqttPort: 1883,
  dataDir: './data',
  logLevel: 'info' as LogLevel,
  maxRetentionSeconds: 7 * 24 * 3600,
  defaultRetentionSeconds: 3600,
  maxCommandPayloadBytes: 64 * 1024,
  maxDeviceMessageBytes: 256 * 1024,
  expirySweepMs: 250,
  poolSize: 10,
  consoleDir: fromProjectRoot('dist', 'console'),
};

export function loadConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const problems: string[] = [];

  const int = (name: string, fallback: number, min: number, max: number): number => {
    const raw = env[name];
    if (raw === undefined || raw.trim() === '') return fallback;
    const value = /^\d+$/.test(raw) ? Number(raw) : NaN;
    if (!Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer from ${min} to ${max}, got "${raw}"`);
      return fallback;
    }
    return value;
  };
  const str = (name: string): string | undefined => {
    const raw = env[name]?.trim();
    return raw ? raw : undefined;
  };

  const port = int('PORT', defaults.port, 0, 65535);
  const mqttPort = int('MQTT_PORT', defaults.mqttPort, 0, 65535);
  const maxRetentionSeconds = int('MAX_RETENTION_SECONDS', defaults.maxRetentionSeconds, 1, 365 * 24 * 3600);
  const defaultRetentionSeconds = int('DEFAULT_RETENTION_SECONDS', defaults.defaultRetentionSeconds, 1, 365 * 24 * 3600);
  if (defaultRetentionSeconds > maxRetentionSeconds) {
    problems.push(
      `DEFAULT_RETENTION_SECONDS (${defaultRetentionSeconds}) must not exceed MAX_RETENTION_SECONDS (${maxRetentionSeconds})`,
    );
  }
  const maxCommandPayloadBytes = int('MAX_COMMAND_PAYLOAD_BYTES', defaults.maxCommandPayloadBytes, 2, 16 * 1024 * 1024);
  const maxDeviceMessageBytes = int('MAX_DEVICE_MESSAGE_BYTES', defaults.maxDeviceMessageBytes, 2, 16 * 1024 * 1024);
  const mqtt = {
    maxConnectionsPerAddress: int('MQTT_MAX_CONNECTIONS_PER_ADDRESS', 1000, 1, 1_000_000),
    maxPublishesPerSecond: int('MQTT_MAX_PUBLISHES_PER_SECOND', 200, 1, 1_000_000),
    maxPublishesPerTokenPerSecond: int('MQTT_MAX_PUBLISHES_PER_TOKEN_PER_SECOND', 100, 1, 1_000_000),
    maxPublishesPerAddressPerSecond: int('MQTT_MAX_PUBLISHES_PER_ADDRESS_PER_SECOND', 2000, 1, 10_000_000),
    maxKeepaliveSeconds: int('MQTT_MAX_KEEPALIVE_SECONDS', 3600, 1, 65535),
    drainTimeoutMs: int('MQTT_DRAIN_TIMEOUT_MS', 30_000, 100, 600_000),
    connectTimeoutMs: 10_000,
    maxConnectPacketBytes: 8 * 1024,
    packetHeadroomBytes: 1024,
  };
  const headersTimeoutMs = int('HTTP_HEADERS_TIMEOUT_MS', 10_000, 100, 600_000);
  const requestTimeoutMs = int('HTTP_REQUEST_TIMEOUT_MS', 30_000, 100, 3_600_000);
  if (requestTimeoutMs < headersTimeoutMs) {
    problems.push(`HTTP_REQUEST_TIMEOUT_MS (${requestTimeoutMs}) must not be below HTTP_HEADERS_TIMEOUT_MS (${headersTimeoutMs})`);
  }
  const http = {
    headersTimeoutMs,
    requestTimeoutMs,
    keepAliveTimeoutMs: 5_000,
    maxConnectionsPerAddress: int('HTTP_MAX_CONNECTIONS_PER_ADDRESS', 1000, 1, 1_000_000),
  };
  const expirySweepMs = int('EXPIRY_SWEEP_MS', defaults.expirySweepMs, 10, 60_000);
  const poolSize = int('DATABASE_POOL_SIZE', defaults.poolSize, 1, 1000);
  const errorsWithoutRequestId = str('KP1_ERRORS_WITHOUT_REQUEST_ID') ?? 'drop';
  if (errorsWithoutRequestId !== 'drop' && errorsWithoutRequestId !== 'publish') {
    problems.push(`KP1_ERRORS_WITHOUT_REQUEST_ID must be "publish" or "drop", got "${errorsWithoutRequestId}"`);
  }
  // Set but empty turns the timestamp field off, so this one is not read with str().
  const kp1 = {
    errorsWithoutRequestId: errorsWithoutRequestId === 'publish' ? ('publish' as const) : ('drop' as const),
    dcxTimestampField: env['DCX_TIMESTAMP_FIELD']?.trim() ?? 'timestamp',
  };
  const operatorStatementTimeoutMs = int('GRAPHQL_STATEMENT_TIMEOUT_MS', 10_000, 100, 3_600_000);

  const bool = (name: string, fallback: boolean): boolean => {
    const raw = str(name)?.toLowerCase();
    if (raw === undefined) return fallback;
    if (['true', '1', 'yes', 'on'].includes(raw)) return true;
    if (['false', '0', 'no', 'off'].includes(raw)) return false;
    problems.push(`${name} must be true or false, got "${env[name]}"`);
    return fallback;
  };
  const graphql = {
    graphiql: bool('GRAPHIQL', true),
    anonymousIntrospection: bool('ANONYMOUS_INTROSPECTION', true),
    mutationsPerMinute: int('MUTATIONS_PER_MINUTE', 6000, 1, 100_000_000),
    maxRequestBytes: int('GRAPHQL_MAX_REQUEST_BYTES', 1024 * 1024, 1024, 64 * 1024 * 1024),
    allowedOrigins: (str('GRAPHQL_ALLOWED_ORIGINS') ?? '').split(',').map((o) => o.trim()).filter(Boolean),
    maxSubscriptionsPerConnection: int('MAX_SUBSCRIPTIONS_PER_CONNECTION', 100, 1, 100_000),
    maxBatchOperations: 20,
    maxWebSocketMessageBytes: 1024 * 1024,
    connectionInitTimeoutMs: 5_000,
    armor: {
      maxDepth: int('GRAPHQL_MAX_DEPTH', 12, 1, 1000),
      maxAliases: 20,
      maxTokens: 5000,
      maxDirectives: 20,
      maxCost: int('GRAPHQL_MAX_COST', 5_000, 1, 100_000_000),
      assumedListSize: 5,
    },
  };
  const metrics = {
    port: str('METRICS_PORT') === undefined ? undefined : int('METRICS_PORT', 0, 0, 65535),
    token: str('METRICS_TOKEN'),
  };
  const webhooks = {
    allowPrivateTargets: bool('WEBHOOK_ALLOW_PRIVATE_TARGETS', false),
    timeoutMs: int('WEBHOOK_TIMEOUT_MS', 10_000, 100, 60_000),
    retryBaseMs: int('WEBHOOK_RETRY_BASE_MS', 5_000, 10, 3_600_000),
    retryMaxDelayMs: int('WEBHOOK_RETRY_MAX_DELAY_MS', 3_600_000, 10, 86_400_000),
    retryForMs: int('WEBHOOK_RETRY_FOR_MS', 86_400_000, 1_000, 30 * 86_400_000),
  };
  const startTimeoutMs = int('START_TIMEOUT_SECONDS', 30, 1, 3600) * 1000;
  const drainMs = int('SHUTDOWN_DRAIN_MS', 5_000, 0, 600_000);
  // Time to close sockets, the broker and the pool once requests have drained.
  const shutdown = { drainMs, exitAfterMs: drainMs + 5_000 };

  const logLevel = (str('LOG_LEVEL') ?? defaults.logLevel) as LogLevel;
  if (!LOG_LEVELS.includes(logLevel)) problems.push(`LOG_LEVEL must be one of ${LOG_LEVELS.join(', ')}, got "${logLevel}"`);

  const url = str('DATABASE_URL');
  let database: DatabaseConfig = { kind: 'pglite', dataDir: str('DATA_DIR') ?? defaults.dataDir };
  if (url) {
    if (!/^postgres(ql)?:\/\//.test(url)) problems.push('DATABASE_URL must be a postgres:// or postgresql:// URL');
    else if (!isParsableDatabaseUrl(url)) problems.push('DATABASE_URL is not a valid URL (percent-encode special characters in the user name and password)');
    database = { kind: 'postgres', url, poolSize, operatorStatementTimeoutMs };
  }

  // PGlite lives inside one process: a second process would open its own copy of the files.
  const workers = int('WORKERS', database.kind === 'postgres' ? availableParallelism() : 1, 1, 1024);
  if (workers > 1 && database.kind === 'pglite') {
    problems.push(`WORKERS must be 1 with the embedded database (PGlite is single-process), got ${workers}; set DATABASE_URL to run several workers`);
  }

  const adminApiKey = str('ADMIN_API_KEY');
  if (adminApiKey !== undefined && adminApiKey.length < 16) {
    problems.push('ADMIN_API_KEY must be at least 16 characters long');
  }

  if (problems.length > 0) throw new ConfigError(problems);
  return deepFreeze({
    host: str('HOST') ?? defaults.host,
    consoleDir: str('CONSOLE_DIR') ?? defaults.consoleDir,
    presence: { heartbeatMs: 10_000, staleAfterMs: 35_000, lastSeenThrottleMs: 30_000, flushMs: 250 },
    port,
    mqttPort,
    workers,
    workerSlot: str('CEX_WORKER') === undefined ? undefined : Number(str('CEX_WORKER')),
    database,
    adminApiKey,
    logLevel,
    maxRetentionSeconds,
    defaultRetentionSeconds,
    maxCommandPayloadBytes,
    maxDeviceMessageBytes,
    mqtt,
    http,
    expirySweepMs,
    kp1,
    graphql,
    metrics,
    webhooks,
    startTimeoutMs,
    shutdown,
  });
}

/** Whether postgres.js can read the URL; constructing a client parses it without connecting. */
function isParsableDatabaseUrl(url: string): boolean {
  try {
    void postgres(url, { max: 1, onnotice: () => {} }).end({ timeout: 0 });
    return true;
  } catch {
    return false;
  }
}
