// The HTTP listener's last-resort error log names the path of the failed request with a kp1
// device token replaced by `[token]`: tokens are secrets and never reach the logs.
//
// The kp1 handler answers every failure a device can cause itself (kp1 errors, aborted uploads,
// the database: 503), so nothing a device sends reaches that log; the kp1 route here throws the
// way an unforeseen bug would, behind the real listener, logger and HTTP server.
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRequestHandler } from '../src/http.ts';
import { createLogger } from '../src/logger.ts';
import type { Yoga } from '../src/graphql/server.ts';

const TOKEN = 'secret-device-token-7f3a';
const lines: string[] = [];
let server: Server;
let url: string;

beforeAll(async () => {
  const log = createLogger(
    'info',
    new Writable({
      write(chunk: Buffer, _encoding, callback) {
        lines.push(chunk.toString());
        callback();
      },
    }),
  );
  const handle = createRequestHandler({
    yoga: undefined as unknown as Yoga,
    readiness: () => Promise.reject(new Error('not asked in this test')),
    log,
    kp1: () => {
      throw new TypeError('an unforeseen failure');
    },
    maxGraphQLRequestBytes: 1024,
  });
  server = createServer((req, res) => void handle(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => new Promise<void>((resolve) => server?.close(() => resolve())));

describe('the unhandled-error log of a kp1 request', () => {
  it.each([
    ['a command poll', `/kp1/v1/cex/${TOKEN}/command/reboot`, '/kp1/v1/cex/[token]/command/reboot'],
    ['telemetry', `/kp1/app-2/dcx/${TOKEN}/json`, '/kp1/app-2/dcx/[token]/json'],
  ])('%s: names the path with [token] in place of the token', async (_name, path, redacted) => {
    const before = lines.length;
    const res = await fetch(`${url}${path}?wait=0`, { method: 'POST', body: '{}' });
    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ error: 'Unexpected error.' });
    const logged = lines.slice(before).map((line) => JSON.parse(line) as { msg: string; path: string; err?: unknown });
    expect(logged).toMatchObject([{ msg: 'unhandled error in an HTTP request', path: redacted }]);
    expect(lines.slice(before).join('')).not.toContain(TOKEN);
  });
});
