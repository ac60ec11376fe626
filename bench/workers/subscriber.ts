// GraphQL subscribers over graphql-ws (the graphql-ws client over `ws`, one websocket each),
// in their own process. Every event's latency is taken against the `t` stamped into the
// command payload at invoke, so it covers invoke → commit → NOTIFY → fan-out → socket.
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { now, until } from '../lib/clock.ts';
import { Samples } from '../lib/stats.ts';
import { cpuMs, serveWorker } from '../lib/worker.ts';

interface Event {
  id: string;
  status: string;
  payload: { t?: number } | null;
}

const clients: Client[] = [];
const latency: Record<string, Samples> = {};
const counts: Record<string, number> = {};
/** Per command id and status: first and last receipt in this process (fan-out spread). */
const spread = new Map<string, [number, number]>();
let connected = 0;
let errors = 0;
let firstError: string | undefined;
let cpuStart = process.cpuUsage();

function record(event: Event): void {
  const t = now();
  counts[event.status] = (counts[event.status] ?? 0) + 1;
  const sentAt = event.payload?.t;
  if (typeof sentAt === 'number') (latency[event.status] ??= new Samples()).add(t - sentAt);
  const key = `${event.id}:${event.status}`;
  const s = spread.get(key);
  if (s) s[1] = t;
  else spread.set(key, [t, t]);
}

serveWorker(
  {
    connect: async (args: {
      url: string;
      key: string;
      count: number;
      query: string;
      variables: Record<string, unknown>;
      field: string;
      concurrency: number;
    }) => {
      const started = now();
      let next = 0;
      const lane = async () => {
        while (next < args.count) {
          next++;
          await new Promise<void>((resolve) => {
            const client = createClient({
              url: args.url,
              webSocketImpl: WebSocket,
              connectionParams: { authorization: `Bearer ${args.key}` },
              lazy: false,
              retryAttempts: 0,
              keepAlive: 0,
              on: {
                connected: () => {
                  connected++;
                  resolve();
                },
                closed: () => resolve(),
                error: (e) => {
                  errors++;
                  firstError ??= String(e);
                  resolve();
                },
              },
            });
            clients.push(client);
            client.subscribe<Record<string, Event>>(
              { query: args.query, variables: args.variables },
              {
                next: (r) => {
                  const event = r.data?.[args.field];
                  if (event) record(event);
                  else if (r.errors) {
                    errors++;
                    firstError ??= JSON.stringify(r.errors);
                  }
                },
                error: (e) => {
                  errors++;
                  firstError ??= e instanceof Error ? e.message : JSON.stringify(e);
                },
                complete: () => {},
              },
            );
          });
        }
      };
      await Promise.all(Array.from({ length: args.concurrency }, lane));
      return { connected, errors, firstError, ms: now() - started };
    },
    counts: () => ({ counts, connected, errors, firstError }),
    stats: (args: { reset?: boolean }) => {
      const out = {
        counts: { ...counts },
        errors,
        firstError,
        cpuMs: cpuMs(cpuStart),
        latency: Object.fromEntries(Object.entries(latency).map(([k, s]) => [k, args.reset ? s.take() : [...s.peek()]])),
        spread: [...spread.entries()],
      };
      if (args.reset) {
        for (const k of Object.keys(counts)) delete counts[k];
        spread.clear();
        errors = 0;
        cpuStart = process.cpuUsage();
      }
      return out;
    },
    waitFor: async (args: { status: string; atLeast: number; timeoutMs: number }) => {
      await until(() => (counts[args.status] ?? 0) >= args.atLeast, args.timeoutMs, `${args.atLeast} ${args.status} events`);
    },
    disconnect: async () => {
      await Promise.all(clients.map((c) => c.dispose()));
      clients.length = 0;
      connected = 0;
    },
  },
  async () => {
    await Promise.all(clients.map((c) => c.dispose()));
  },
);
