// One webhook POST: signed, 10 s timeout, no redirects followed (Node's http client never follows
// them), and connected to an address the SSRF guard checked at this moment (see ssrf.ts).
import http from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { resolveTarget, TargetRefused } from './ssrf.ts';
import { signatureHeaders } from './signing.ts';

export interface SendResult {
  /** The response status, or null when none came (timeout, connection error, refused target). */
  status: number | null;
  error: string | null;
  durationMs: number;
  /** Whether to try again later: network errors, timeouts, 5xx, 408, 429 (and 3xx: nothing followed). */
  retry: boolean;
}

const agents = {
  http: new http.Agent({ keepAlive: true, maxSockets: 128 }),
  https: new https.Agent({ keepAlive: true, maxSockets: 128 }),
};

export async function sendWebhook(
  target: { url: string; secret: string },
  message: { id: string; body: string },
  options: { timeoutMs: number; allowPrivate: boolean; signal?: AbortSignal },
): Promise<SendResult> {
  const started = performance.now();
  const done = (status: number | null, error: string | null, retry: boolean): SendResult => ({
    status,
    error,
    retry,
    durationMs: Math.round(performance.now() - started),
  });
  const url = new URL(target.url);
  let addresses: { address: string; family: number }[];
  try {
    addresses = await resolveTarget(url.hostname, options.allowPrivate);
  } catch (error) {
    // A refused target may become public again (DNS changes): retried like a connection error.
    return done(null, error instanceof TargetRefused ? error.message : `DNS: ${(error as Error).message}`, true);
  }
  const first = addresses[0]!;
  // The socket connects to the checked address whatever the name resolves to by now.
  const lookup: LookupFunction = (_host, opts, callback) => {
    if (opts.all) (callback as unknown as (e: null, a: { address: string; family: number }[]) => void)(null, [first]);
    else callback(null, first.address, first.family);
  };
  const headers = {
    'content-type': 'application/json',
    'user-agent': 'cex-webhooks/1',
    'content-length': String(Buffer.byteLength(message.body)),
    ...signatureHeaders(target.secret, message.id, Math.floor(Date.now() / 1000), message.body),
  };
  const secure = url.protocol === 'https:';
  return new Promise<SendResult>((resolve) => {
    const req = (secure ? https : http).request(
      url,
      { method: 'POST', headers, lookup, agent: secure ? agents.https : agents.http, timeout: options.timeoutMs, signal: options.signal },
      (res) => {
        // The body is not used; drain it so the connection can be reused.
        res.resume();
        res.on('end', () => {
          const status = res.statusCode ?? 0;
          const ok = status >= 200 && status < 300;
          const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
          resolve(done(status, ok ? null : `HTTP ${status}`, !ok && !permanent));
        });
        res.on('error', (error) => resolve(done(res.statusCode ?? null, error.message, true)));
      },
    );
    const deadline = setTimeout(() => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)), options.timeoutMs);
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => req.destroy(new Error(`no answer within ${options.timeoutMs} ms`)));
    req.on('error', (error: NodeJS.ErrnoException) => resolve(done(null, error.code ? `${error.code}: ${error.message}` : error.message, true)));
    req.end(message.body);
  });
}
