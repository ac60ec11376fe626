// The HTTP listener's last-resort error log names the path of the failed request with a kp1
// device token replaced by `[token]`: tokens are secrets and never reach the logs.
//
// The kp1 handler answers every failure a device can cause itself (kp1 errors, aborted uploads,
// the database: 503), so no device request reaches that log. The unforeseen failure is made
// below our code, in Node: the body stream of the request fails (an 'error' on a request that is
// not destroyed, so not an abort) while the real kp1 route of a real server reads it.
import { subscribe, unsubscribe } from 'node:diagnostics_channel';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.ts';
import { createLogger } from '../src/logger.ts';
import { createEndpoint, type Fixture } from './support/api.ts';
import { sharedPglite, testConfig } from './support/app.ts';

/** Requests carrying this header get their body stream failed once the server reads it. */
const FAIL_BODY = 'x-test-fail-body';
const SERVER_REQUESTS = 'http.server.request.start';

function failMarkedBody(message: unknown): void {
  const { request } = message as { request: IncomingMessage };
  if (request.headers[FAIL_BODY] === undefined) return;
  const failOnceRead = () => {
    if (request.listenerCount('end') === 0) return void setImmediate(failOnceRead);
    request.emit('error', new TypeError('an unforeseen failure of the request stream'));
  };
  setImmediate(failOnceRead);
}

const lines: string[] = [];
let app: App;
let fx: Fixture;

beforeAll(async () => {
  const config = testConfig();
  const log = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    }),
  );
  app = createApp(config, { pglite: config.database.kind === 'pglite' ? await sharedPglite() : undefined, logger: log });
  await app.start();
  fx = await createEndpoint(app);
  subscribe(SERVER_REQUESTS, failMarkedBody);
});
afterAll(async () => {
  unsubscribe(SERVER_REQUESTS, failMarkedBody);
  await app?.stop();
});

/** POSTs the start of a body and waits for the answer (the rest is never sent). */
function postHalfBody(path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(
      { host: '127.0.0.1', port: app.httpPort, method: 'POST', path, headers: { 'content-length': 100, [FAIL_BODY]: '1' } },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body });
        });
      },
    );
    req.on('error', reject);
    req.write('[{"id":1,');
  });
}

describe('the unhandled-error log of a kp1 request', () => {
  it.each([
    ['a command poll', (f: Fixture) => `/kp1/${f.appVersion}/cex/${f.token}/command/reboot`, (f: Fixture) => `/kp1/${f.appVersion}/cex/[token]/command/reboot`],
    ['telemetry', (f: Fixture) => `/kp1/${f.appVersion}/dcx/${f.token}/json`, (f: Fixture) => `/kp1/${f.appVersion}/dcx/[token]/json`],
  ])('%s: names the path with [token] in place of the token', async (_name, path, redacted) => {
    const before = lines.length;
    const res = await postHalfBody(`${path(fx)}?wait=0`);
    expect(res.status).toBe(500);
    expect(JSON.parse(res.body)).toEqual({ error: 'Unexpected error.' });
    const logged = lines.slice(before).map((line) => JSON.parse(line) as { msg: string; path?: string });
    expect(logged.filter((line) => line.msg === 'unhandled error in an HTTP request')).toMatchObject([{ path: redacted(fx) }]);
    expect(lines.slice(before).join('')).not.toContain(fx.token);
  });
});
