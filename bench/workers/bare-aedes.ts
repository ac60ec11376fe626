// Baseline: an aedes 1.2 broker with default options on a plain net server, no hooks — what
// the service's MQTT side stands on (relay rate and latency, memory per connection). Nothing
// else is imported, so its RSS is aedes' own (plus node and the tsx loader, like the server).
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes } from 'aedes';
import { memoryFigures } from '../lib/memory.ts';
import { serveWorker } from '../lib/worker.ts';

let close: (() => Promise<void>) | undefined;

serveWorker(
  {
    start: async (args: { host: string; port: number }) => {
      const broker = await Aedes.createBroker();
      const server = createServer(broker.handle);
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(args.port, args.host, () => resolve());
      });
      close = async () => {
        await new Promise<void>((r) => broker.close(() => r()));
        await new Promise<void>((r) => server.close(() => r()));
      };
      return { port: (server.address() as AddressInfo).port, pid: process.pid };
    },
    memory: (args: { gc?: boolean }) => memoryFigures(Boolean(args.gc)),
  },
  async () => {
    await close?.();
  },
);
