// Baseline: node:http answering every POST with `[]` — the HTTP-stack ceiling for kp1 polls
// with the same load generator.
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { serveWorker } from '../lib/worker.ts';

let close: (() => Promise<void>) | undefined;

serveWorker(
  {
    start: async (args: { host: string; port: number }) => {
      const server = createServer((req, res) => {
        req.resume();
        req.on('end', () => {
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'content-length': 2 });
          res.end('[]');
        });
      });
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(args.port, args.host, () => resolve());
      });
      close = () => new Promise<void>((r) => server.close(() => r()));
      return { port: (server.address() as AddressInfo).port, pid: process.pid };
    },
  },
  async () => {
    await close?.();
  },
);
