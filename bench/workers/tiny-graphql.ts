// Baseline: a tiny yoga + Pothos server built like src/graphql/server.ts (same armor and guard
// plugins, same API-key auth, same HTTP routing and graphql-ws attachment, same event-stream
// code) whose mutation `noop(input)` does nothing but emit the "command" to in-memory
// subscribers: the no-op mutation and subscription fan-out baselines, without touching the
// public schema. In its own process.
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import SchemaBuilder from '@pothos/core';
import { createYoga } from 'graphql-yoga';
import { AuthService, authorize } from '../../src/domain/auth.ts';
import type { Principal } from '../../src/domain/types.ts';
import { eventStream } from '../../src/events/stream.ts';
import type { EventBus } from '../../src/events/bus.ts';
import { attachGraphQLWebSockets, protectionPlugins, toClientError } from '../../src/graphql/server.ts';
import { createRequestHandler } from '../../src/http.ts';
import { createLogger } from '../../src/logger.ts';
import { loadConfig } from '../../src/config.ts';
import { serveWorker } from '../lib/worker.ts';

let close: (() => Promise<void>) | undefined;

async function listen(server: HttpServer, host: string, port: number): Promise<number> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve());
  });
  return (server.address() as AddressInfo).port;
}

interface NoopCommand {
  id: number;
  endpointId: string;
  status: 'PENDING';
  payload: unknown;
}

/** The only part of EventBus that eventStream and the graphql-ws attachment use; routed like it. */
class MemoryBus {
  private readonly handlers = new Map<string, Set<(e: unknown) => void>>();
  on(name: string, handler: (e: unknown) => void, route?: { endpointId: string }): () => void {
    const key = route ? `${name}:${route.endpointId}` : name;
    let set = this.handlers.get(key);
    if (!set) this.handlers.set(key, (set = new Set()));
    set.add(handler);
    return () => set.delete(handler);
  }
  /** In memory nothing is ever missed. */
  onMissed(): () => void {
    return () => {};
  }
  emit(name: string, event: { endpointId: string }): void {
    for (const key of [name, `${name}:${event.endpointId}`]) for (const h of this.handlers.get(key) ?? []) h(event);
  }
}

async function startGraphQL(host: string, port: number, adminKey: string): Promise<number> {
  const log = createLogger('warn');
  const config = loadConfig({ MUTATIONS_PER_MINUTE: '100000000' });
  const bus = new MemoryBus();
  const auth = new AuthService(undefined as never, bus as unknown as EventBus, adminKey, log);
  type Ctx = { principal: Principal | null };
  const builder = new SchemaBuilder<{
    Context: Ctx;
    Scalars: { JSON: { Input: unknown; Output: unknown } };
    DefaultFieldNullability: false;
  }>({ defaultFieldNullability: false });
  builder.scalarType('JSON', { serialize: (v) => v, parseValue: (v) => v });
  const NoopInput = builder.inputType('NoopInput', {
    fields: (t) => ({
      endpointId: t.id({ required: true }),
      commandType: t.string({ required: true }),
      payload: t.field({ type: 'JSON' }),
      retentionSeconds: t.int(),
    }),
  });
  const NoopRef = builder.objectRef<NoopCommand>('NoopCommand').implement({
    fields: (t) => ({
      id: t.id({ resolve: (c) => String(c.id) }),
      status: t.string({ resolve: (c) => c.status }),
      payload: t.expose('payload', { type: 'JSON', nullable: true }),
    }),
  });
  let nextId = 0;
  builder.queryType({ fields: (t) => ({ ok: t.boolean({ resolve: () => true }) }) });
  builder.mutationType({
    fields: (t) => ({
      noop: t.field({
        type: NoopRef,
        args: { input: t.arg({ type: NoopInput, required: true }) },
        resolve: (_root, { input }, ctx) => {
          authorize(ctx.principal, 'OPERATOR');
          const command: NoopCommand = { id: ++nextId, endpointId: String(input.endpointId), status: 'PENDING', payload: input.payload ?? null };
          bus.emit('commandChanged', command);
          return command;
        },
      }),
    }),
  });
  builder.subscriptionType({
    fields: (t) => ({
      commandStatusChanged: t.field({
        type: NoopRef,
        args: { endpointId: t.arg.id() },
        subscribe: (_root, args, ctx) => {
          authorize(ctx.principal, 'VIEWER');
          const endpointId = args.endpointId == null ? null : String(args.endpointId);
          return eventStream(bus as unknown as EventBus, 'commandChanged', endpointId === null ? undefined : { endpointId }) as AsyncIterable<unknown> as AsyncIterable<NoopCommand>;
        },
        resolve: (c) => c,
      }),
    }),
  });
  const yoga = createYoga<{ principal?: Principal | null }, Ctx>({
    schema: builder.toSchema(),
    graphqlEndpoint: '/graphql',
    landingPage: false,
    batching: { limit: 20 },
    graphiql: false,
    plugins: protectionPlugins({ ...config.graphql, anonymousIntrospection: true }) as never[],
    logging: false,
    context: async (initial) => ({
      principal: initial.principal !== undefined ? initial.principal : await auth.authenticate(initial.request?.headers.get('authorization')),
    }),
    maskedErrors: { maskError: (error) => toClientError(error, log) },
  });
  const http = createHttpServer(
    createRequestHandler({
      yoga: yoga as never,
      log,
      maxGraphQLRequestBytes: config.graphql.maxRequestBytes,
      readiness: () => Promise.reject(new Error('the baseline serves no readiness')),
    }),
  );
  const ws = attachGraphQLWebSockets(http, yoga as never, { auth, bus } as never, config.graphql);
  const bound = await listen(http, host, port);
  close = async () => {
    await ws.close();
    http.closeAllConnections();
    await new Promise<void>((r) => http.close(() => r()));
  };
  return bound;
}

serveWorker(
  {
    start: async (args: { host: string; port: number; adminKey: string }) => ({ port: await startGraphQL(args.host, args.port, args.adminKey), pid: process.pid }),
  },
  async () => {
    await close?.();
  },
);
