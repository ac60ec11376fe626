// Composition root: database, event bus, services, HTTP (GraphQL + kp1) and the MQTT broker.
// `createApp(config)` owns every socket, pool and timer; `stop()` releases all of them, so
// tests start apps on port 0 and stop them, and main.ts maps signals to stop().
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { PGlite } from '@electric-sql/pglite';
import type { Config } from './config.ts';
import { AuditLogService } from './domain/audit-log.ts';
import { AuthService } from './domain/auth.ts';
import { BatchFinisher } from './domain/batch-finish.ts';
import { CommandService } from './domain/commands.ts';
import { CommandSchemaService } from './domain/command-schema-service.ts';
import { ExpirySweeper } from './domain/expiry.ts';
import { FleetService } from './domain/fleet.ts';
import { BatchService, batchCommands } from './domain/batches.ts';
import { PresenceService } from './domain/presence.ts';
import { RegistryService } from './domain/registry.ts';
import { SubscriptionService } from './domain/subscriptions.ts';
import { TelemetryService } from './domain/telemetry.ts';
import { EventBus } from './events/bus.ts';
import { attachGraphQLWebSockets, createGraphQLServer } from './graphql/server.ts';
import { createRequestHandler } from './http.ts';
import { createLimitedServer } from './http-limits.ts';
import { createConsoleHandler } from './console-assets.ts';
import { sendJson } from './lib/json-response.ts';
import { createKp1HttpHandler } from './devices/http.ts';
import { createRestHandler } from './rest/router.ts';
import { Kp1Dispatcher } from './devices/kp1/dispatch.ts';
import { startMqtt, type MqttServer } from './devices/mqtt/server.ts';
import { createLogger, type Logger } from './logger.ts';
import type { Services } from './services.ts';
import { openDatabase, type Database } from './storage/db.ts';
import { countTransactions } from './metrics/database.ts';
import { createMetricsHandler, listenForMetrics, metricsElsewhere } from './metrics/endpoint.ts';
import { isHealthPath, readiness, type Readiness } from './readiness.ts';
import type { NodeView } from './cluster/worker.ts';
import { StartupError } from './startup-error.ts';
import { WebhookService } from './webhooks/service.ts';

export interface AppOptions {
  /** Share an open PGlite instance instead of opening `config.database.dataDir`. */
  pglite?: PGlite;
  logger?: Logger;
  /** Called once with the secret of a freshly created bootstrap admin key. */
  onBootstrapKey?: (secret: string) => void;
  /** A cluster worker (WORKERS > 1): /readyz and /metrics answer for the whole node, and
   *  METRICS_PORT is the primary's. */
  node?: NodeView;
}

export interface App {
  readonly config: Config;
  readonly log: Logger;
  /** Available after start(). */
  readonly services: Services;
  readonly httpPort: number;
  readonly mqttPort: number;
  /** The METRICS_PORT listener's port (0 when /metrics is on the HTTP port). */
  readonly metricsPort: number;
  readonly url: string;
  /** mqtt://host:port of the device listener. */
  readonly mqttUrl: string;
  /** Available after start(). */
  readonly mqtt: MqttServer;
  /** This process's own readiness (readiness.ts). */
  readiness(): Promise<Readiness>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export function createApp(config: Config, options: AppOptions = {}): App {
  const log = options.logger ?? createLogger(config.logLevel);
  let database: Database | undefined;
  let services: Services | undefined;
  let sweeper: ExpirySweeper | undefined;
  let http: Server | undefined;
  let ws: { close(): Promise<void> } | undefined;
  let mqtt: MqttServer | undefined;
  let metricsServer: Server | undefined;
  let offSchemas: (() => void) | undefined;
  let httpPort = 0;
  let stopping: Promise<void> | undefined;
  /** Aborted when stop() begins: held long polls answer, new HTTP requests get 503. */
  const shutdown = new AbortController();
  /** HTTP requests being handled; stop() lets them finish (up to shutdown.drainMs) before closing the pool. */
  let inFlight = 0;
  let drained: (() => void) | undefined;

  async function start(): Promise<void> {
    database = await openDatabase(config.database, { pglite: options.pglite, log });
    const db = countTransactions(database.db, config.database);
    let commands!: CommandService;
    let telemetry!: TelemetryService;
    const bus = new EventBus(
      database,
      { command: (id) => commands.byId(id), telemetry: (ids) => telemetry.byIds(ids), batchCommands: (change) => batchCommands(db, change) },
      log,
    );
    const registry = new RegistryService(db, bus, log);
    const schemas = new CommandSchemaService(db, bus, registry, log);
    commands = new CommandService(db, bus, registry, config, log, schemas);
    telemetry = new TelemetryService(db, bus);
    const auth = new AuthService(db, bus, config.adminApiKey, log);
    const subscriptions = new SubscriptionService(bus, registry, commands);
    const presence = new PresenceService(db, config.presence, log);
    const batches = new BatchService(db, bus, commands, log);
    const webhooks = new WebhookService(database, db, registry, config.webhooks, log);
    const finisher = new BatchFinisher(webhooks.outbox);
    bus.inTransaction = async (tx, name, events) => {
      await webhooks.outbox.onPublish(tx, name, events);
      await finisher.onPublish(tx, name, events);
    };
    services = { auth, registry, commands, telemetry, schemas, subscriptions, fleet: new FleetService(db), presence, bus, batches, audit: new AuditLogService(db), webhooks };
    await bus.start();
    await webhooks.start();
    await presence.start();
    offSchemas = await schemas.start();

    sweeper = new ExpirySweeper(commands, config.expirySweepMs, log);
    sweeper.start();

    const dispatcher = new Kp1Dispatcher(
      registry,
      commands,
      telemetry,
      { maxBodyBytes: config.maxDeviceMessageBytes, timestampField: config.kp1.dcxTimestampField, errorsWithoutRequestId: config.kp1.errorsWithoutRequestId },
      log,
      presence,
    );
    const kp1 = createKp1HttpHandler({
      dispatcher,
      bus,
      maxBodyBytes: config.maxDeviceMessageBytes,
      log,
      shutdown: shutdown.signal,
    });
    const yoga = createGraphQLServer(services, log, config.graphql);
    const handle = createRequestHandler({
      yoga,
      log,
      kp1,
      rest: createRestHandler(services, config, log, shutdown.signal),
      console: createConsoleHandler(config.consoleDir, log),
      graphiql: config.graphql.graphiql,
      maxGraphQLRequestBytes: config.graphql.maxRequestBytes,
      metrics: config.metrics.port === undefined ? createMetricsHandler({ ...config.metrics, collect: options.node?.metrics }) : metricsElsewhere,
      readiness: options.node?.readiness ?? ownReadiness,
    });
    http = createLimitedServer(config.http, log, (req, res) => {
      if (shutdown.signal.aborted && !isHealthPath(req.url)) {
        res.shouldKeepAlive = false;
        return sendJson(res, 503, { error: 'The server is shutting down; retry on another instance or shortly.' });
      }
      // SSE subscriptions are endless; they are cut with the connections, not waited for.
      if (!(req.headers.accept ?? '').includes('text/event-stream')) {
        inFlight++;
        res.once('close', () => {
          if (--inFlight === 0) drained?.();
        });
      }
      void handle(req, res);
    });
    await listen(http, config.port, config.host).catch((error: unknown) => {
      throw listenError(error, 'HTTP', 'PORT', config.port, config.host);
    });
    // Attached once listening: graphql-ws would print a listen error as an "internal error".
    ws = attachGraphQLWebSockets(http, yoga, services, config.graphql);
    httpPort = (http.address() as AddressInfo).port;
    log.info({ port: httpPort, host: config.host }, `HTTP listening: the console at http://localhost:${httpPort}/, GraphQL at http://localhost:${httpPort}/graphql`);
    mqtt = await startMqtt({
      host: config.host,
      port: config.mqttPort,
      dispatcher,
      commands,
      registry,
      bus,
      log,
      presence,
      limits: { ...config.mqtt, maxPacketBytes: config.maxDeviceMessageBytes + config.mqtt.packetHeadroomBytes },
    }).catch((error: unknown) => {
      throw listenError(error, 'MQTT', 'MQTT_PORT', config.mqttPort, config.host);
    });
    if (config.metrics.port !== undefined && !options.node) {
      const port = config.metrics.port;
      metricsServer = await listenForMetrics(createMetricsHandler(config.metrics), port, config.host).catch((error: unknown) => {
        throw listenError(error, 'Metrics', 'METRICS_PORT', port, config.host);
      });
      log.info({ port: (metricsServer.address() as AddressInfo).port }, 'metrics listening');
    }

    // Only once every port is ours: a start that fails must not have shown a key it then lost.
    const secret = await auth.bootstrap();
    if (secret) {
      if (options.onBootstrapKey) options.onBootstrapKey(secret);
      else printBootstrapKey(secret, httpPort);
    }
  }

  function ownReadiness(): Promise<Readiness> {
    return readiness(database!, shutdown.signal);
  }

  async function stop(): Promise<void> {
    stopping ??= (async () => {
      shutdown.abort();
      if (http) {
        const server = http;
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        // Requests in flight finish (their writes land and are answered) before the pool closes.
        if (inFlight > 0) {
          const done = new Promise<void>((resolve) => (drained = resolve));
          let timer: NodeJS.Timeout | undefined;
          await Promise.race([done, new Promise<void>((resolve) => (timer = setTimeout(resolve, config.shutdown.drainMs)))]);
          clearTimeout(timer);
          if (inFlight > 0) log.warn({ requests: inFlight }, 'HTTP requests still open at shutdown were cut off');
        }
        await ws?.close();
        server.closeAllConnections();
        await closed;
      }
      await mqtt?.close();
      if (metricsServer) await closeMetrics(metricsServer);
      await services?.presence.stop();
      await sweeper?.stop();
      await services?.webhooks.stop();
      offSchemas?.();
      await services?.bus.stop();
      await database?.close();
      log.info('stopped');
    })();
    return stopping;
  }

  return {
    config,
    log,
    get services() {
      if (!services) throw new Error('The app is not started.');
      return services;
    },
    get httpPort() {
      return httpPort;
    },
    get mqttPort() {
      return mqtt?.port ?? 0;
    },
    get metricsPort() {
      return (metricsServer?.address() as AddressInfo | null)?.port ?? 0;
    },
    get url() {
      return `http://127.0.0.1:${httpPort}`;
    },
    get mqttUrl() {
      return `mqtt://127.0.0.1:${mqtt?.port ?? 0}`;
    },
    get mqtt() {
      if (!mqtt) throw new Error('The app is not started.');
      return mqtt;
    },
    readiness: ownReadiness,
    start,
    stop,
  };
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

function closeMetrics(server: Server): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeAllConnections();
  return closed;
}

function listenError(error: unknown, what: string, variable: string, port: number, host: string): unknown {
  const code = (error as NodeJS.ErrnoException).code;
  if (code === 'EADDRINUSE') return new StartupError(`${what} port ${port} on ${host} is already in use; stop what holds it or set ${variable} to another port`);
  if (code === 'EACCES') return new StartupError(`${what} port ${port} on ${host} needs privileges this process lacks; set ${variable} to a port above 1023`);
  if (code === 'EADDRNOTAVAIL' || code === 'ENOTFOUND') return new StartupError(`HOST ${host} is not an address of this machine (${code})`);
  return error;
}

function printBootstrapKey(secret: string, port: number): void {
  // Printed once, to the terminal, never to the structured log.
  process.stderr.write(
    [
      '',
      '  No API key existed, so an ADMIN key was created. It is shown this once; keep it safe:',
      '',
      `    ${secret}`,
      '',
      `  Sign in to the console at http://localhost:${port}/ with it, or send it as "Authorization: Bearer <key>".`,
      '  Set ADMIN_API_KEY to choose your own instead.',
      '',
    ].join('\n') + '\n',
  );
}
