// The operator console: the files Vite built into dist/console, served at `/`. Paths without a
// file extension are the console's own routes and get index.html (client-side routing);
// hashed files under /assets/ are cached for good; a precompressed sibling (.br, .gz) is sent
// when the client accepts it. Nothing outside the directory is ever read.
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join, resolve, sep } from 'node:path';
import { pipeline } from 'node:stream/promises';
import type { Logger } from './logger.ts';

export const CONSOLE_CSP =
  "default-src 'self'; connect-src 'self' ws: wss:; img-src 'self' data:; style-src 'self' 'unsafe-inline'";

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.mjs': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.webmanifest': 'application/manifest+json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.gif': 'image/gif',
  '.webp': 'image/webp',
  '.ico': 'image/x-icon',
  '.woff': 'font/woff',
  '.woff2': 'font/woff2',
  '.wasm': 'application/wasm',
};

const IMMUTABLE = 'public, max-age=31536000, immutable';

export function createConsoleHandler(dir: string, log: Logger) {
  const root = resolve(dir);

  return async (req: IncomingMessage, res: ServerResponse, path: string): Promise<void> => {
    const relative = safeRelativePath(path);
    if (relative === undefined) return sendText(res, 400, 'Bad path.');
    const isRoute = extname(relative) === '';
    const file = isRoute ? join(root, 'index.html') : join(root, relative);
    if (!file.startsWith(root + sep)) return sendText(res, 400, 'Bad path.');
    const found = await findFile(file, req.headers['accept-encoding']);
    if (!found) {
      if (isRoute) return sendNotBuilt(res);
      return sendText(res, 404, `No file at ${path}.`);
    }
    const type = TYPES[extname(file).toLowerCase()] ?? 'application/octet-stream';
    const headers: Record<string, string | number> = {
      'content-type': type,
      'content-length': found.size,
      'x-content-type-options': 'nosniff',
      'cache-control': relative.startsWith('assets/') ? IMMUTABLE : 'no-cache',
      etag: `"${found.size.toString(36)}-${Math.floor(found.mtimeMs).toString(36)}${found.encoding ? `-${found.encoding}` : ''}"`,
      vary: 'accept-encoding',
    };
    if (found.encoding) headers['content-encoding'] = found.encoding;
    if (type.startsWith('text/html')) headers['content-security-policy'] = CONSOLE_CSP;
    if (req.headers['if-none-match'] === headers['etag']) {
      res.writeHead(304, { etag: headers['etag'], 'cache-control': headers['cache-control'] as string, vary: 'accept-encoding' });
      return void res.end();
    }
    res.writeHead(200, headers);
    if (req.method === 'HEAD') return void res.end();
    try {
      await pipeline(createReadStream(found.path), res);
    } catch (error) {
      // The client went away mid-file, most likely.
      log.debug({ err: error, path }, 'console file not fully sent');
    }
  };
}

/**
 * The request path relative to the console directory, or undefined when it could reach outside
 * it or name something hidden (`..`, encoded slashes or NUL, dot files).
 */
function safeRelativePath(path: string): string | undefined {
  let decoded: string;
  try {
    decoded = decodeURIComponent(path);
  } catch {
    return undefined;
  }
  if (decoded.includes('\0') || decoded.includes('\\')) return undefined;
  const segments = decoded.split('/').filter((s) => s !== '');
  if (segments.some((s) => s.startsWith('.'))) return undefined;
  return segments.join('/');
}

async function findFile(
  file: string,
  acceptEncoding: string | undefined,
): Promise<{ path: string; size: number; mtimeMs: number; encoding?: 'br' | 'gzip' } | undefined> {
  const plain = await fileStat(file);
  if (!plain) return undefined;
  for (const [encoding, suffix] of [['br', '.br'], ['gzip', '.gz']] as const) {
    if (!accepts(acceptEncoding, encoding)) continue;
    const packed = await fileStat(file + suffix);
    if (packed) return { path: file + suffix, size: packed.size, mtimeMs: packed.mtimeMs, encoding };
  }
  return { path: file, size: plain.size, mtimeMs: plain.mtimeMs };
}

async function fileStat(file: string): Promise<{ size: number; mtimeMs: number } | undefined> {
  try {
    const s = await stat(file);
    return s.isFile() ? s : undefined;
  } catch {
    return undefined;
  }
}

/** Whether an Accept-Encoding header accepts `encoding` (listed, or `*`, without q=0). */
function accepts(header: string | undefined, encoding: string): boolean {
  if (!header) return false;
  for (const part of header.toLowerCase().split(',')) {
    const [name, ...params] = part.trim().split(';');
    if (name !== encoding && name !== '*') continue;
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='));
    return q === undefined || Number(q.slice(2)) > 0;
  }
  return false;
}

function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function sendNotBuilt(res: ServerResponse): void {
  const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>cex: the console is not built</title></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 3rem auto; line-height: 1.5">
<h1>The operator console is not built yet</h1>
<p>The server found no <code>dist/console/index.html</code>. Build the console with</p>
<pre>npm run build:console</pre>
<p>(<code>npm start</code> builds it when it is missing) and reload this page.
Meanwhile the GraphQL API and GraphiQL are at <a href="/graphql">/graphql</a>.</p>
</body></html>
`;
  res.writeHead(200, {
    'content-type': 'text/html; charset=utf-8',
    'content-length': Buffer.byteLength(html),
    'cache-control': 'no-store',
    'content-security-policy': CONSOLE_CSP,
  });
  res.end(html);
}
