import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

/** Sends `text`, JSON already ('' for an empty body), with its status, type and length. */
export function writeJson(res: ServerResponse, status: number, text: string, headers: OutgoingHttpHeaders = {}): void {
  res.writeHead(status, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(text),
    ...headers,
  });
  res.end(text);
}

/** Sends `body` as JSON. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  writeJson(res, status, JSON.stringify(body));
}
