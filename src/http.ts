// The HTTP listener: GraphQL at /graphql, kp1 for devices at /kp1/..., health at /healthz.
import type { IncomingMessage, ServerResponse } from 'node:http';
import { sql } from 'drizzle-orm';
import type { Db } from './storage/db.ts';
import type { Logger } from './logger.ts';
import { GRAPHQL_PATH, type Yoga } from './graphql/server.ts';

export type RouteHandler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export interface HttpRoutes {
  yoga: Yoga;
  db: Db;
  log: Logger;
  /** Handles /kp1/... (device HTTP binding); absent until devices are wired in. */
  kp1?: RouteHandler;
}

export function createRequestHandler(routes: HttpRoutes): RouteHandler {
  return async (req, res) => {
    const path = (req.url ?? '/').split('?', 1)[0]!;
    try {
      if (path === GRAPHQL_PATH) return await routes.yoga(req, res);
      if (path.startsWith('/kp1/') && routes.kp1) return await routes.kp1(req, res);
      if (path === '/healthz') return await health(routes.db, res);
      sendJson(res, 404, { error: `Nothing at ${path}. GraphQL is at ${GRAPHQL_PATH}, devices use /kp1/...` });
    } catch (error) {
      routes.log.error({ err: error, path }, 'unhandled error in an HTTP request');
      if (!res.headersSent) sendJson(res, 500, { error: 'Unexpected error.' });
      else res.destroy();
    }
  };
}

async function health(db: Db, res: ServerResponse): Promise<void> {
  try {
    await db.execute(sql`select 1`);
    sendJson(res, 200, { status: 'ok' });
  } catch {
    sendJson(res, 503, { status: 'unavailable', reason: 'database unreachable' });
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}
