// The HTTP listener: GraphQL at /graphql, kp1 for devices at /kp1/..., health at /livez and /readyz (/healthz), and
// the operator console at every other GET path.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Logger } from './logger.ts';
import { GRAPHQL_PATH, type Yoga } from './graphql/server.ts';
import { sendJson } from './lib/json-response.ts';
import { requestIdOf, runInRequest } from './lib/request-context.ts';
import { isHealthPath, LIVENESS_PATH, READINESS_PATHS, type Readiness } from './readiness.ts';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpRoutes {
  yoga: Yoga;
  log: Logger;
  /** Handles /kp1/... (device HTTP binding). */
  kp1?: RouteHandler;
  /** Handles /cex/api/v1/... (Kaa's CEX REST API, docs/kaa-rest.md). */
  rest?: RouteHandler;
  /** Handles /metrics (Prometheus). */
  metrics?: RouteHandler;
  /** Serves the console's files (GET and HEAD outside the API paths). */
  console?: (req: IncomingMessage, res: ServerResponse, path: string) => Promise<void>;
  /** Whether GET /graphql with Accept: text/html renders GraphiQL (whatever the query string). */
  graphiql?: boolean;
  maxGraphQLRequestBytes: number;
  /** Answers /readyz and /healthz (readiness.ts). */
  readiness: () => Promise<Readiness>;
}

export function createRequestHandler(routes: HttpRoutes): RouteHandler {
  const handle: RouteHandler = async (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    try {
      if (path === GRAPHQL_PATH) {
        const refusal = refuseGraphQLRequest(req, routes.maxGraphQLRequestBytes, routes.graphiql ?? false);
        if (refusal) return sendJson(res, refusal.status, { errors: [{ message: refusal.message, extensions: { code: refusal.code } }] });
        return await routes.yoga(req, res);
      }
      if (path.startsWith('/kp1/') && routes.kp1) return await routes.kp1(req, res);
      if (path.startsWith('/cex/api/v1/') && routes.rest) return await routes.rest(req, res);
      if (path === LIVENESS_PATH) return sendJson(res, 200, { status: 'ok' });
      if (READINESS_PATHS.includes(path)) return await ready(routes, res);
      if (path === '/metrics' && routes.metrics) return await routes.metrics(req, res);
      if (routes.console && (req.method === 'GET' || req.method === 'HEAD') && !isApiPath(path)) {
        return await routes.console(req, res, path);
      }
      sendJson(res, 404, { error: `Nothing at ${path}. GraphQL is at ${GRAPHQL_PATH}, devices use /kp1/...` });
    } catch (error) {
      routes.log.error({ err: error, path: redactPath(path) }, 'unhandled error in an HTTP request');
      if (!res.headersSent) sendJson(res, 500, { error: 'Unexpected error.' });
      else res.destroy();
    }
  };
  return (req, res) => {
    // Every response names its request, and every log line written while handling it does too.
    const reqId = requestIdOf(req);
    res.setHeader('x-request-id', reqId);
    const operator = (req.url ?? '/').split('?', 1)[0] === GRAPHQL_PATH;
    return runInRequest({ reqId, operator }, () => handle(req, res));
  };
}

function isApiPath(path: string): boolean {
  return (
    path.startsWith(`${GRAPHQL_PATH}/`) ||
    path === '/kp1' ||
    path.startsWith('/kp1/') ||
    path.startsWith('/cex/api/') ||
    path === '/metrics' ||
    isHealthPath(path)
  );
}

/** A kp1 path with its device token replaced: tokens are secrets and never reach the logs. */
function redactPath(path: string): string {
  return path.replace(/^(\/kp1\/[^/]*\/[^/]*\/)[^/]+/, '$1[token]');
}

const JSON_TYPES = /^application\/(json|graphql-response\+json)\b/i;

/**
 * Checks made before yoga reads a byte:
 * - body size: a declared Content-Length over the limit is refused, and a POST must declare
 *   one (a chunked body could otherwise be any size);
 * - CSRF: a browser can send "simple" cross-site requests (form posts, plain GETs) without a
 *   preflight. Such a request is refused unless it carries a JSON content type or a header no
 *   simple request can have (Authorization, or X-GraphQL-CSRF for anonymous tools). GET without
 *   a query and websocket upgrades are not affected, nor, with GraphiQL on, a GET that asks for
 *   HTML: yoga answers it with the GraphiQL page and executes nothing (GraphiQL keeps the query
 *   in the URL, so a reload must show GraphiQL again).
 */
function refuseGraphQLRequest(
  req: IncomingMessage,
  maxBytes: number,
  graphiql: boolean,
): { status: number; code: string; message: string } | undefined {
  if (req.method === 'POST') {
    const length = req.headers['content-length'];
    if (length === undefined) {
      return { status: 411, code: 'BAD_REQUEST', message: 'A GraphQL POST needs a Content-Length header.' };
    }
    if (Number(length) > maxBytes) {
      return { status: 413, code: 'PAYLOAD_TOO_LARGE', message: `The request body is over the limit of ${maxBytes} bytes.` };
    }
  }
  const preflighted =
    req.headers.authorization !== undefined ||
    req.headers['x-graphql-csrf'] !== undefined ||
    (req.method === 'POST' && JSON_TYPES.test(req.headers['content-type'] ?? ''));
  const isPageLoad =
    req.method === 'GET' && (!(req.url ?? '').includes('?') || (graphiql && (req.headers.accept ?? '').includes('text/html')));
  if (!preflighted && !isPageLoad && req.method !== 'OPTIONS') {
    return {
      status: 400,
      code: 'BAD_REQUEST',
      message: 'Send GraphQL requests with Content-Type: application/json, or an Authorization or X-GraphQL-CSRF header.',
    };
  }
  return undefined;
}

async function ready(routes: HttpRoutes, res: ServerResponse): Promise<void> {
  const { ready: ok, checks } = await routes.readiness();
  if (ok) return sendJson(res, 200, { status: 'ok' });
  const failed = Object.keys(checks).filter((name) => checks[name as keyof typeof checks] !== 'ok');
  sendJson(res, 503, { status: 'unavailable', failed, checks });
}
