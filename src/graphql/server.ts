// graphql-yoga over the composed schema: HTTP (POST, GET, SSE) and graphql-ws websockets on the
// same /graphql path. Expected failures (DomainError) become GraphQL errors with
// `extensions.code`; anything else is logged and masked.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, Server as HttpServer } from 'node:http';
import { GraphQLError, type ExecutionArgs, type ExecutionResult } from 'graphql';
import { createYoga, type GraphiQLOptions, type YogaServerInstance } from 'graphql-yoga';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { EnvelopArmorPlugin } from '@escape.tech/graphql-armor';
import type { Config } from '../config.ts';
import { DomainError } from '../domain/errors.ts';
import { hideSuggestions, operationGuards, withoutSuggestions } from './guards.ts';
import { costLimit } from './cost.ts';
import { runInRequest } from '../lib/request-context.ts';
import { isDatabaseUnavailable } from '../storage/db-errors.ts';
import type { Principal } from '../domain/types.ts';
import type { Logger } from '../logger.ts';
import type { Services } from '../services.ts';
import { createContext, type GraphQLContext } from './context.ts';
import { schema } from './schema.ts';
import { graphqlMetrics } from '../metrics/graphql.ts';

export const GRAPHQL_PATH = '/graphql';

interface ServerContext {
  /** Set on the graphql-ws path, where there is no HTTP request to read a header from. */
  principal?: Principal | null;
}

export type Yoga = YogaServerInstance<ServerContext, GraphQLContext>;

export type GraphQLOptions = Config['graphql'];

export function createGraphQLServer(services: Services, log: Logger, options: GraphQLOptions): Yoga {
  return createYoga<ServerContext, GraphQLContext>({
    schema,
    graphqlEndpoint: GRAPHQL_PATH,
    landingPage: false,
    // Batched operations run concurrently (group commit merges their writes).
    batching: { limit: options.maxBatchOperations },
    // Served whole by this server (no CDN), so it works offline. Subscriptions go over SSE,
    // which sends the headers pane (the API key) with every request; graphql-ws would not.
    graphiql: options.graphiql
      ? { title: 'cex: command execution service', headers: GRAPHIQL_HEADERS, subscriptionsProtocol: 'GRAPHQL_SSE' }
      : false,
    renderGraphiQL: offlineGraphiQL,
    plugins: [...protectionPlugins(options), graphqlMetrics()],
    cors: (request) => corsFor(request.headers.get('origin'), options.allowedOrigins),
    logging: {
      debug: (...args) => log.debug({ args }, 'graphql-yoga'),
      info: (...args) => log.info({ args }, 'graphql-yoga'),
      warn: (...args) => log.warn({ args }, 'graphql-yoga'),
      // yoga reports here every error maskError changed: most are the client's.
      error: (...args) => logYogaError(log, args),
    },
    context: async (initial) => {
      const principal =
        initial.principal !== undefined
          ? initial.principal
          : await services.auth.authenticate(initial.request?.headers.get('authorization'));
      return createContext(services, principal);
    },
    maskedErrors: { maskError: (error) => toClientError(error, log) },
  });
}

/**
 * CORS headers only for the configured origins; any other page (and, without the setting,
 * every other page) gets none, so a browser does not let it read a response or send a
 * preflighted request. API keys travel in a header, never in cookies: no credentials mode.
 */
function corsFor(origin: string | null, allowed: readonly string[]) {
  if (!origin || !allowed.includes(origin)) return false;
  return {
    origin,
    credentials: false,
    methods: ['GET', 'POST'],
    allowedHeaders: ['authorization', 'content-type', 'accept', 'x-graphql-csrf', 'x-request-id'],
    exposedHeaders: ['x-request-id'],
    maxAge: 600,
  };
}

/** Whether a browser page from `origin` may use the API: a listed origin, or this server's own. */
export function originAllowed(origin: string | undefined, host: string | undefined, allowed: readonly string[]): boolean {
  if (!origin || allowed.includes(origin)) return true;
  try {
    return host !== undefined && new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** How loud each error yoga reports is: the client's mistakes are not the server's faults. */
const errorLevels = new WeakMap<object, 'info' | 'debug'>();
const logAt = (error: unknown, level: 'info' | 'debug') => {
  if (typeof error === 'object' && error !== null) errorLevels.set(error, level);
};

function logYogaError(log: Logger, args: unknown[]): void {
  const [error] = args;
  const level = typeof error === 'object' && error !== null ? errorLevels.get(error) : undefined;
  if (level === undefined) return log.error({ args }, 'graphql-yoga');
  if (level === 'debug') return log.debug('graphql-yoga: already reported');
  const e = error instanceof GraphQLError ? error : undefined;
  const original = e?.originalError ?? error;
  const code = original instanceof DomainError ? original.code : e?.extensions['code'];
  log.info({ code, message: (original as Error).message, path: e?.path }, 'GraphQL request refused');
}

const GRAPHIQL_HEADERS = JSON.stringify({ Authorization: 'Bearer <your API key>' }, null, 2);

let graphiqlPage: Promise<string> | undefined;
/** The GraphiQL page with every script, style and worker inline (9 MB: loaded on first use, then kept). */
function offlineGraphiQL(options: GraphiQLOptions): Promise<string> {
  graphiqlPage ??= import('@graphql-yoga/render-graphiql').then(
    (m) => m.renderGraphiQL(options),
    (error: unknown) => {
      graphiqlPage = undefined;
      throw error;
    },
  );
  return graphiqlPage;
}

/** Limits and guards every operation passes before any resolver runs. */
export function protectionPlugins(options: Pick<GraphQLOptions, 'anonymousIntrospection' | 'mutationsPerMinute' | 'armor'>) {
  const { armor } = options;
  return [
    // Refused in validation, before any resolver runs (1,000 aliased mutations never start).
    EnvelopArmorPlugin({
      maxDepth: { n: armor.maxDepth },
      maxAliases: { n: armor.maxAliases },
      maxTokens: { n: armor.maxTokens },
      maxDirectives: { n: armor.maxDirectives },
      // Replaced by costLimit below, which multiplies by list sizes and sums a batch.
      costLimit: { enabled: false },
      blockFieldSuggestion: { enabled: true },
    }),
    costLimit({ maxCost: armor.maxCost, assumedListSize: armor.assumedListSize, maxTokens: armor.maxTokens }),
    operationGuards({
      allowAnonymousIntrospection: options.anonymousIntrospection,
      mutationsPerMinute: options.mutationsPerMinute,
    }),
    hideSuggestions(),
  ];
}

/** The error a client sees: ours with a code, GraphQL's own as they are, the rest masked. */
export function toClientError(error: unknown, log: Logger): Error {
  const graphqlError = error instanceof GraphQLError ? error : undefined;
  const original = graphqlError ? graphqlError.originalError : error;
  logAt(error, 'info');
  if (original instanceof DomainError) {
    const extensions: Record<string, unknown> = { code: original.code };
    if (original.details.validationErrors) extensions['validationErrors'] = original.details.validationErrors;
    if (original.details.field) extensions['field'] = original.details.field;
    return new GraphQLError(original.message, {
      nodes: graphqlError?.nodes,
      source: graphqlError?.source,
      positions: graphqlError?.positions,
      path: graphqlError?.path,
      extensions,
    });
  }
  if (isDatabaseUnavailable(original)) {
    logAt(error, 'debug');
    log.warn({ err: original, path: graphqlError?.path }, 'database unavailable during a GraphQL operation');
    return new GraphQLError('The database is unavailable right now; retry in a few seconds.', {
      nodes: graphqlError?.nodes,
      path: graphqlError?.path,
      extensions: { code: 'SERVICE_UNAVAILABLE' },
    });
  }
  if (isStatementTimeout(original)) {
    logAt(error, 'debug');
    log.warn({ path: graphqlError?.path }, 'a GraphQL operation reached the statement timeout');
    return new GraphQLError('The query took longer than the database allows one request; ask for less (smaller pages, narrower filters).', {
      nodes: graphqlError?.nodes,
      path: graphqlError?.path,
      extensions: { code: 'QUERY_TIMEOUT' },
    });
  }
  if (original instanceof GraphQLError) return withRequestCode(withoutSuggestions(original));
  if (graphqlError && !original) return withRequestCode(withoutSuggestions(graphqlError));
  logAt(error, 'debug');
  log.error({ err: original, path: graphqlError?.path }, 'unexpected error in a GraphQL operation');
  return new GraphQLError('Unexpected error.', {
    nodes: graphqlError?.nodes,
    path: graphqlError?.path,
    extensions: { code: 'INTERNAL_SERVER_ERROR' },
  });
}

/** PostgreSQL canceled the statement (SQLSTATE 57014): the operator side's statement_timeout. */
function isStatementTimeout(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    if ((e as { code?: unknown }).code === '57014') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * graphql-ws on /graphql. The API key comes in the connection params
 * (`{"authorization": "Bearer <key>"}`); without a valid one the socket closes with 4403.
 */
export function attachGraphQLWebSockets(
  httpServer: HttpServer,
  yoga: Yoga,
  services: Services,
  options: GraphQLOptions,
): { close(): Promise<void> } {
  const wss = new WebSocketServer({
    server: httpServer,
    path: GRAPHQL_PATH,
    maxPayload: options.maxWebSocketMessageBytes,
    // Browsers send Origin (and do not apply CORS to websockets): a page from elsewhere cannot
    // open a socket with a key it found. Non-browser clients send no Origin and are not affected.
    verifyClient: ({ origin, req }: { origin?: string; req: IncomingMessage }) =>
      originAllowed(origin, req.headers.host, options.allowedOrigins),
  });
  type Extra = { principal?: Principal | null };
  // Open sockets per API key, so a revoked key's running subscriptions end at once (any process).
  const socketsByKey = new Map<string, Set<WebSocket>>();
  const offRevoked = services.bus.on('apiKeyRevoked', ({ keyId }) => {
    for (const socket of socketsByKey.get(keyId) ?? []) socket.close(4403, 'Forbidden');
  });
  const disposable = useServer<Record<string, unknown>, Extra>(
    {
      // No connection_init within this time: closed with 4408.
      connectionInitWaitTimeout: options.connectionInitTimeoutMs,
      onConnect: async (ctx) => {
        const principal = await services.auth.authenticate(ctx.connectionParams?.['authorization']);
        if (!principal) return false;
        ctx.extra.principal = principal;
        const socket = ctx.extra.socket;
        let sockets = socketsByKey.get(principal.keyId);
        if (!sockets) socketsByKey.set(principal.keyId, (sockets = new Set()));
        sockets.add(socket);
        socket.once('close', () => {
          sockets.delete(socket);
          if (sockets.size === 0 && socketsByKey.get(principal.keyId) === sockets) socketsByKey.delete(principal.keyId);
        });
        return true;
      },
      // Each operation is a request of its own: an id for its log lines, the operator connections.
      execute: (args) => runInRequest({ reqId: randomUUID(), operator: true }, () => (args.rootValue as EnvelopedRoot).execute(args)),
      subscribe: (args) => runInRequest({ reqId: randomUUID(), operator: true }, () => (args.rootValue as EnvelopedRoot).subscribe(args)),
      onSubscribe: async (ctx, _id, params) => {
        // Checked again for every operation: a key revoked after the socket opened stops working.
        const principal = await services.auth.authenticate(ctx.connectionParams?.['authorization']);
        if (!principal) {
          ctx.extra.socket.close(4403, 'Forbidden');
          return [new GraphQLError('The API key is no longer valid.', { extensions: { code: 'UNAUTHENTICATED' } })];
        }
        ctx.extra.principal = principal;
        // graphql-ws has already entered this operation's id in ctx.subscriptions.
        if (Object.keys(ctx.subscriptions).length > options.maxSubscriptionsPerConnection) {
          return [
            new GraphQLError(`At most ${options.maxSubscriptionsPerConnection} subscriptions per connection.`, {
              extensions: { code: 'RATE_LIMITED' },
            }),
          ];
        }
        const { schema, execute, subscribe, contextFactory, parse, validate } = yoga.getEnveloped({
          ...ctx,
          req: ctx.extra.request,
          socket: ctx.extra.socket,
          params,
          principal: ctx.extra.principal ?? null,
        });
        const args = {
          schema,
          operationName: params.operationName,
          document: parse(params.query),
          variableValues: params.variables,
          contextValue: await contextFactory(),
          rootValue: { execute, subscribe },
        };
        const errors = validate(args.schema, args.document);
        return errors.length > 0 ? errors : args;
      },
    },
    wss,
  );
  return {
    async close() {
      offRevoked();
      for (const client of wss.clients) client.terminate();
      await disposable.dispose();
      await new Promise<void>((resolve) => wss.close(() => resolve()));
    },
  };
}

type EnvelopedRoot = {
  execute: (args: ExecutionArgs) => OperationResult;
  subscribe: (args: ExecutionArgs) => OperationResult;
};
type OperationResult = Promise<ExecutionResult | AsyncGenerator<ExecutionResult>> | ExecutionResult;

/**
 * GraphQL's own errors about the request as a whole (no path: variables that do not fit their
 * types, a missing required variable) carry no code of graphql-js's; every error an operator
 * sees has one, so these are BAD_USER_INPUT. Parse and validation errors keep yoga's codes.
 */
function withRequestCode(error: GraphQLError): GraphQLError {
  if (error.extensions['code'] !== undefined || error.path !== undefined) return error;
  return new GraphQLError(error.message, {
    nodes: error.nodes,
    source: error.source,
    positions: error.positions,
    originalError: error.originalError,
    extensions: { ...error.extensions, code: 'BAD_USER_INPUT' },
  });
}
