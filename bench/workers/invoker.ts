// Operators: GraphQL mutations over HTTP keep-alive connections, in their own process.
//   op 'invoke'      — invokeCommand (the real thing), `batch` aliased mutations per request;
//   op 'noop'        — `mutation { __typename }` on the same server: the whole yoga pipeline
//                      (HTTP checks, context with API-key auth, armor, guards, execute) and no
//                      resolver work; the no-op baseline without changing the public schema;
//   op 'noop-input'  — `noop(input: …) { id }` on the bench's tiny yoga+Pothos server, with an
//                      input shaped like InvokeCommandInput (variables coercion included);
//   op 'invoke-http-batch' / 'noop-http-batch' — `batch` separate operations in one HTTP request
//                      (GraphQL-over-HTTP batching; only when the server enables yoga `batching`);
//   op 'invoke-many' — one `invokeCommands(inputs: [...])` field with `batch` inputs (only when the
//                      server has such a mutation).
// Aliased mutations in one operation run one after another (GraphQL executes root mutation
// fields serially), so `invoke` with batch > 1 saves HTTP requests but not database round trips.
// `closed` runs a fixed number of operations with `concurrency` requests in flight; `open`
// sends at a fixed rate whatever the answers do (open loop), stamping each command's payload
// with its scheduled send time `t` (clock.now) so downstream latencies include queueing.
import { HttpClient } from '../lib/http-client.ts';
import { now } from '../lib/clock.ts';
import { Samples } from '../lib/stats.ts';
import { cpuMs, serveWorker } from '../lib/worker.ts';

type Op = 'invoke' | 'noop' | 'noop-input' | 'invoke-http-batch' | 'noop-http-batch' | 'invoke-many';

interface InitArgs {
  host: string;
  port: number;
  key: string;
  endpointIds: string[];
  commandType: string;
  pad: string;
  maxSockets: number;
}

let client: HttpClient | undefined;
let init: InitArgs | undefined;
let nextEndpoint = 0;
const queries = new Map<string, string>();

function queryFor(op: Op, batch: number): string {
  const k = `${op}:${batch}`;
  let q = queries.get(k);
  if (q) return q;
  if (op === 'invoke-many') {
    q = 'mutation InvokeMany($inputs: [InvokeCommandInput!]!) { invokeCommands(inputs: $inputs) { id status } }';
  } else if (op === 'invoke-http-batch' || op === 'noop-http-batch') {
    return queryFor(op === 'invoke-http-batch' ? 'invoke' : 'noop', 1);
  } else if (op === 'noop') {
    q = batch === 1 ? 'mutation Noop { __typename }' : `mutation Noop { ${Array.from({ length: batch }, (_, i) => `a${i}: __typename`).join(' ')} }`;
  } else {
    const field = op === 'invoke' ? 'invokeCommand' : 'noop';
    const type = op === 'invoke' ? 'InvokeCommandInput' : 'NoopInput';
    const sel = op === 'invoke' ? '{ id status }' : '{ id status }';
    const vars = Array.from({ length: batch }, (_, i) => `$i${i}: ${type}!`).join(', ');
    const fields = Array.from({ length: batch }, (_, i) => `${batch === 1 ? '' : `c${i}: `}${field}(input: $i${i}) ${sel}`).join(' ');
    q = `mutation Invoke(${vars}) { ${fields} }`;
  }
  queries.set(k, q);
  return q;
}

function input(t: number) {
  const endpointId = init!.endpointIds[nextEndpoint++ % init!.endpointIds.length]!;
  return { endpointId, commandType: init!.commandType, payload: { t, pad: init!.pad } };
}

function body(op: Op, batch: number, t: number): string {
  if (op === 'noop-http-batch') return JSON.stringify(Array.from({ length: batch }, () => ({ query: queryFor('noop', 1) })));
  if (op === 'invoke-http-batch') {
    const query = queryFor('invoke', 1);
    return JSON.stringify(Array.from({ length: batch }, () => ({ query, variables: { i0: input(t) } })));
  }
  const query = queryFor(op, batch);
  if (op === 'noop') return JSON.stringify({ query });
  if (op === 'invoke-many') return JSON.stringify({ query, variables: { inputs: Array.from({ length: batch }, () => input(t)) } });
  const variables: Record<string, unknown> = {};
  for (let i = 0; i < batch; i++) variables[`i${i}`] = input(t);
  return JSON.stringify({ query, variables });
}

interface RunState {
  requests: number;
  ops: number;
  errors: number;
  firstError?: string;
  latency: Samples;
}

async function send(state: RunState, op: Op, batch: number, t: number): Promise<void> {
  const started = now();
  try {
    const res = await client!.post('/graphql', body(op, batch, t));
    const parsed = JSON.parse(res.body) as { errors?: unknown[] } | { errors?: unknown[] }[];
    const failed = Array.isArray(parsed) ? parsed.some((r) => r.errors?.length) : Boolean(parsed.errors?.length);
    if (res.status !== 200 || failed) {
      state.errors++;
      state.firstError ??= `${res.status} ${res.body.slice(0, 300)}`;
    } else {
      state.ops += batch;
    }
  } catch (error) {
    state.errors++;
    state.firstError ??= String(error);
  }
  state.requests++;
  state.latency.add(now() - started);
}

function result(state: RunState, startedAt: number, endedAt: number, cpuStart: NodeJS.CpuUsage, extra: object = {}) {
  const seconds = (endedAt - startedAt) / 1000;
  return {
    startedAt,
    endedAt,
    requests: state.requests,
    ops: state.ops,
    errors: state.errors,
    firstError: state.firstError,
    opsPerSec: state.ops / seconds,
    requestsPerSec: state.requests / seconds,
    latency: state.latency.take(),
    cpuMs: cpuMs(cpuStart),
    ...extra,
  };
}

serveWorker({
  init: (args: InitArgs) => {
    client?.close();
    init = args;
    client = new HttpClient(args.host, args.port, args.maxSockets, { authorization: `Bearer ${args.key}` });
  },
  /** `total` operations, `batch` per request, `concurrency` requests in flight; no new request after `maxMs`. */
  closed: async (args: { op: Op; total: number; batch: number; concurrency: number; maxMs?: number }) => {
    const state: RunState = { requests: 0, ops: 0, errors: 0, latency: new Samples() };
    const requests = Math.ceil(args.total / args.batch);
    let issued = 0;
    const cpuStart = process.cpuUsage();
    const startedAt = now();
    const deadline = startedAt + (args.maxMs ?? Infinity);
    const lane = async () => {
      while (issued < requests && now() < deadline) {
        issued++;
        await send(state, args.op, args.batch, now());
      }
    };
    await Promise.all(Array.from({ length: Math.min(args.concurrency, requests) }, lane));
    return result(state, startedAt, now(), cpuStart);
  },
  /** `rate` operations per second for `durationMs`, open loop. */
  open: async (args: { op: Op; rate: number; durationMs: number; batch: number }) => {
    const state: RunState = { requests: 0, ops: 0, errors: 0, latency: new Samples() };
    const requestRate = args.rate / args.batch;
    const total = Math.floor((requestRate * args.durationMs) / 1000);
    const lag = new Samples();
    const inFlight = new Set<Promise<void>>();
    let sent = 0;
    let maxInFlight = 0;
    const cpuStart = process.cpuUsage();
    const startedAt = now() + 2;
    await new Promise<void>((resolve) => {
      const tick = () => {
        const t = now();
        // Request i is due at startedAt + i / rate: i + 1 of them once that time has come.
        const due = t < startedAt ? 0 : Math.min(total, Math.floor(((t - startedAt) * requestRate) / 1000) + 1);
        while (sent < due) {
          const scheduled = startedAt + (sent * 1000) / requestRate;
          sent++;
          lag.add(t - scheduled);
          const p: Promise<void> = send(state, args.op, args.batch, scheduled).finally(() => inFlight.delete(p));
          inFlight.add(p);
          maxInFlight = Math.max(maxInFlight, inFlight.size);
        }
        if (sent < total) setTimeout(tick, 1);
        else resolve();
      };
      setTimeout(tick, 2);
    });
    const sendingEndedAt = now();
    await Promise.all(inFlight);
    return result(state, startedAt, sendingEndedAt, cpuStart, { lag: lag.take(), maxInFlight, planned: total * args.batch });
  },
});
