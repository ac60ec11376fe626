// The operator console's files, served at / from a build directory (here a tiny fake build made
// by the test): client-side routes get index.html, hashed assets are cached for good and sent
// precompressed when accepted, nothing outside the directory is reachable, and without a build
// `/` explains how to make one.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { loadConfig } from '../src/config.ts';
import { startApp } from './support/app.ts';

const CSP = "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'";
const INDEX = '<!doctype html><html><head><script type="module" src="/assets/app-3f9a.js"></script></head><body>console</body></html>';
const SCRIPT = `console.log(${JSON.stringify('x'.repeat(2000))});\n`;
const SECRET = 'secret outside the console directory';

let base: string;
let app: App;
let unbuilt: App;
beforeAll(async () => {
  base = mkdtempSync(join(tmpdir(), 'cex-console-'));
  const dir = join(base, 'dist');
  mkdirSync(join(dir, 'assets'), { recursive: true });
  writeFileSync(join(dir, 'index.html'), INDEX);
  writeFileSync(join(dir, 'assets', 'app-3f9a.js'), SCRIPT);
  writeFileSync(join(dir, 'assets', 'app-3f9a.js.gz'), gzipSync(SCRIPT));
  writeFileSync(join(dir, 'assets', 'style-77aa.css'), 'body { color: red }');
  writeFileSync(join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(join(dir, '.env'), SECRET);
  writeFileSync(join(base, 'secret.txt'), SECRET);
  mkdirSync(join(base, 'empty'));
  [app, unbuilt] = await Promise.all([startApp({ consoleDir: dir }), startApp({ consoleDir: join(base, 'empty') })]);
});
afterAll(async () => {
  await Promise.all([app?.stop(), unbuilt?.stop()]);
  rmSync(base, { recursive: true, force: true });
});

/** A request with the path sent exactly as given (fetch would normalise `..`). */
function raw(
  target: App,
  path: string,
  headers: Record<string, string> = {},
  method = 'GET',
): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: target.httpPort, path, method, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode!, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('the console at /', () => {
  it('serves index.html at / and at every client-side route, not cached, with the CSP', async () => {
    for (const path of ['/', '/devices', '/devices/5b0c4a1e-0000-4000-8000-000000000000/commands', '/api-keys?x=1']) {
      const res = await raw(app, path);
      expect(res.status, path).toBe(200);
      expect(res.body.toString()).toBe(INDEX);
      expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
      expect(res.headers['cache-control']).toBe('no-cache');
      expect(res.headers['content-security-policy']).toBe(CSP);
    }
    const head = await raw(app, '/devices', {}, 'HEAD');
    expect(head.status).toBe(200);
    expect(head.headers['content-length']).toBe(String(INDEX.length));
    expect(head.body.length).toBe(0);
  });

  it('serves hashed assets for a year, with their content type, precompressed when accepted', async () => {
    const gz = await raw(app, '/assets/app-3f9a.js', { 'accept-encoding': 'gzip, deflate, br' });
    expect(gz.status).toBe(200);
    expect(gz.headers['content-encoding']).toBe('gzip');
    expect(gz.headers['content-type']).toBe('text/javascript; charset=utf-8');
    expect(gz.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(gz.headers['vary']).toMatch(/accept-encoding/i);
    expect(gz.body.length).toBeLessThan(SCRIPT.length / 4);
    expect(gunzipSync(gz.body).toString()).toBe(SCRIPT);

    for (const headers of [{}, { 'accept-encoding': 'gzip;q=0, identity' }] as Record<string, string>[]) {
      const plain = await raw(app, '/assets/app-3f9a.js', headers);
      expect(plain.headers['content-encoding']).toBeUndefined();
      expect(plain.body.toString()).toBe(SCRIPT);
    }
    const css = await raw(app, '/assets/style-77aa.css', { 'accept-encoding': 'gzip' });
    expect(css.headers['content-type']).toBe('text/css; charset=utf-8');
    expect(css.headers['content-encoding']).toBeUndefined();
    const icon = await raw(app, '/favicon.svg');
    expect(icon.headers['content-type']).toBe('image/svg+xml');
    expect(icon.headers['cache-control']).toBe('no-cache');
  });

  it('answers a revalidation with 304, and a missing file with 404 (not index.html)', async () => {
    const first = await raw(app, '/');
    const again = await raw(app, '/', { 'if-none-match': String(first.headers['etag']) });
    expect(again.status).toBe(304);
    expect(again.body.length).toBe(0);
    const missing = await raw(app, '/assets/app-0000.js');
    expect(missing.status).toBe(404);
    expect(missing.body.toString()).not.toContain('console');
  });

  it('never serves a file outside the directory, nor a hidden one', async () => {
    const attempts = [
      '/../secret.txt',
      '/assets/../../secret.txt',
      '/%2e%2e/secret.txt',
      '/assets/%2e%2e%2f%2e%2e%2fsecret.txt',
      '/..%2fsecret.txt',
      '/%2e%2e%5csecret.txt',
      '/assets/..%5c..%5csecret.txt',
      '/secret.txt%00.js',
      '/.env',
      '/%2eenv',
      '/%E0%A4%A.js',
    ];
    for (const path of attempts) {
      const res = await raw(app, path);
      expect([400, 404], path).toContain(res.status);
      expect(res.body.toString(), path).not.toContain(SECRET);
    }
  });

  it('leaves the API paths to the API', async () => {
    const graphql = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(await graphql.json()).toEqual({ data: { __typename: 'Query' } });
    expect(await (await fetch(`${app.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const kp1 = await fetch(`${app.url}/kp1/nope/cex/nope/command/x`, { method: 'POST', body: '{}' });
    expect(kp1.status).toBe(401);
    for (const path of ['/graphql/stream', '/kp1', '/kp1/x']) {
      const res = await raw(app, path);
      expect(res.headers['content-type'], path).toMatch(/json/);
    }
    const post = await raw(app, '/', {}, 'POST');
    expect(post.status).toBe(404);
    expect(post.headers['content-type']).toMatch(/json/);
  });

  it('explains how to build the console when it is not built', async () => {
    const res = await raw(unbuilt, '/devices');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.body.toString()).toContain('npm run build:console');
    expect(res.body.toString()).not.toContain(base);
  });

  it('reads the console from dist/console in the package root by default', () => {
    const root = fileURLToPath(new URL('..', import.meta.url));
    expect(loadConfig({}).consoleDir).toBe(join(root, 'dist', 'console'));
    expect(loadConfig({ CONSOLE_DIR: '/srv/console' }).consoleDir).toBe('/srv/console');
  });
});
