// GET /metrics in the Prometheus text format: on the main HTTP port, or only on METRICS_PORT
// when that is set; with METRICS_TOKEN set, only for `Authorization: Bearer <token>`.
import { createHash, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { sendJson } from '../lib/json-response.ts';
import { registry } from './registry.ts';

export const METRICS_PATH = '/metrics';

export interface MetricsOptions {
  /** Required as a Bearer token when set. */
  token: string | undefined;
  /** The text to serve; unset: this process's registry (a cluster's node collects every worker's). */
  collect?: () => Promise<string>;
}

export type MetricsHandler = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

export function createMetricsHandler(options: MetricsOptions): MetricsHandler {
  const expected = options.token === undefined ? undefined : digest(options.token);
  return async (req, res) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('allow', 'GET, HEAD');
      return sendJson(res, 405, { error: 'Use GET.' });
    }
    if (expected && !authorized(req.headers.authorization, expected)) {
      res.setHeader('www-authenticate', 'Bearer realm="metrics"');
      return sendJson(res, 401, { error: 'The metrics need "Authorization: Bearer <METRICS_TOKEN>".' });
    }
    let text: string;
    try {
      text = await (options.collect ? options.collect() : registry.metrics());
    } catch {
      return sendJson(res, 500, { error: 'The metrics could not be collected.' });
    }
    res.writeHead(200, { 'content-type': registry.contentType, 'content-length': Buffer.byteLength(text) });
    res.end(req.method === 'HEAD' ? undefined : text);
  };
}

/** The main port's /metrics when METRICS_PORT serves them instead. */
export const metricsElsewhere: MetricsHandler = async (_req, res) =>
  sendJson(res, 404, { error: 'The metrics are served on METRICS_PORT.' });

/** A listener of its own for /metrics (METRICS_PORT), so they need not face the internet. */
export async function listenForMetrics(handler: MetricsHandler, port: number, host: string): Promise<Server> {
  const server = createServer((req, res) => {
    if ((req.url ?? '/').split('?', 1)[0] === METRICS_PATH) return void handler(req, res);
    sendJson(res, 404, { error: `Nothing here; the metrics are at ${METRICS_PATH}.` });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

function authorized(header: string | undefined, expected: Buffer): boolean {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  // Compared as digests: equal lengths for timingSafeEqual, and no early exit on a prefix.
  return match !== null && timingSafeEqual(digest(match[1]!), expected);
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}
