// Helpers for tests of server nodes with several workers (WORKERS) and of several server
// processes: requests on connections of their own (a node hands each new connection to the
// next worker, so a kept-alive connection would pin one worker), and the workers' pids.
import { request } from 'node:http';
import { readFileSync } from 'node:fs';
import { print } from 'graphql';
import type { TadaDocumentNode } from '../../src/graphql/typed.ts';

export interface Answer {
  status: number;
  json: any;
}

/** A POST on a new TCP connection, closed after the answer. */
export function postOnNewConnection(url: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Answer> {
  const text = typeof body === 'string' ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      `${url}${path}`,
      { method: 'POST', agent: false, timeout: 15_000, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers } },
      (res) => {
        let data = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (data += chunk));
        res.on('end', () => {
          let json: unknown;
          try {
            json = data === '' ? undefined : JSON.parse(data);
          } catch {
            json = data;
          }
          resolve({ status: res.statusCode ?? 0, json });
        });
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer from ${path}`)));
    req.on('error', reject);
    req.end(text);
  });
}

/** A GraphQL operation on a new connection. */
export function gqlOnNewConnection<R, V>(url: string, key: string, document: TadaDocumentNode<R, V>, variables: V): Promise<Answer> {
  return postOnNewConnection(url, '/graphql', { query: print(document), variables }, { authorization: `Bearer ${key}` });
}

/** The node:cluster workers of a primary: its children running the server (not tsx's esbuild). */
export function workerPids(primary: number): number[] {
  const children = readFileSync(`/proc/${primary}/task/${primary}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  return children.filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('main.ts');
    } catch {
      return false;
    }
  });
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
