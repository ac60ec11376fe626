// HTTP load (kp1 polls) from its own process: `connections` keep-alive connections, each
// sending its next request as soon as the previous answer arrived, for `durationMs`.
import { HttpClient } from '../lib/http-client.ts';
import { now } from '../lib/clock.ts';
import { Samples } from '../lib/stats.ts';
import { cpuMs, serveWorker } from '../lib/worker.ts';

serveWorker({
  run: async (args: { host: string; port: number; paths: string[]; body: string; connections: number; durationMs: number; expect?: string }) => {
    const client = new HttpClient(args.host, args.port, args.connections);
    const latency = new Samples();
    const statuses: Record<number, number> = {};
    let requests = 0;
    let errors = 0;
    let unexpected = 0;
    let firstError: string | undefined;
    let bytes = 0;
    let i = 0;
    const cpuStart = process.cpuUsage();
    const startedAt = now();
    const deadline = startedAt + args.durationMs;
    const lane = async () => {
      while (now() < deadline) {
        const path = args.paths[i++ % args.paths.length]!;
        const t = now();
        try {
          const res = await client.post(path, args.body);
          statuses[res.status] = (statuses[res.status] ?? 0) + 1;
          bytes += res.body.length;
          if (args.expect !== undefined && !res.body.startsWith(args.expect)) {
            unexpected++;
            firstError ??= `unexpected body: ${res.body.slice(0, 200)}`;
          }
        } catch (error) {
          errors++;
          firstError ??= String(error);
        }
        requests++;
        latency.add(now() - t);
      }
    };
    await Promise.all(Array.from({ length: args.connections }, lane));
    const endedAt = now();
    client.close();
    return {
      requests,
      errors,
      unexpected,
      firstError,
      statuses,
      meanBodyBytes: requests ? bytes / requests : 0,
      requestsPerSec: requests / ((endedAt - startedAt) / 1000),
      latency: latency.take(),
      cpuMs: cpuMs(cpuStart),
    };
  },
});
