// Starts real servers for tests: port 0, a real database (the worker's shared PGlite, or the
// PostgreSQL server in TEST_DATABASE_URL), and real HTTP / graphql-ws / SSE clients that send the
// typed documents of documents.ts (api.ts has one helper per operation).
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import type { TadaDocumentNode } from '../../src/graphql/typed.ts';
import { createLogger } from '../../src/logger.ts';
import type { Principal } from '../../src/domain/types.ts';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
/** An ADMIN caller for tests that call domain services directly, without an API key. */
export const ADMIN_PRINCIPAL: Principal = { keyId: 'test', name: 'test', role: 'ADMIN' };
export const usingPostgres = process.env['TEST_DB'] === 'postgres';

let pglite: Promise<PGlite> | undefined;
/** One in-memory PGlite per test worker: it is large to open, and tests make their own data. */
export function sharedPglite(): Promise<PGlite> {
  return (pglite ??= PGlite.create('memory://'));
}

export function testConfig(overrides: Partial<Config> = {}): Config {
  const url = process.env['TEST_DATABASE_URL'];
  if (usingPostgres && !url) throw new Error('TEST_DB=postgres needs TEST_DATABASE_URL');
  return {
    ...loadConfig({}),
    host: '127.0.0.1',
    port: 0,
    mqttPort: 0,
    adminApiKey: ADMIN_KEY,
    logLevel: (process.env['LOG_LEVEL'] as Config['logLevel']) ?? 'silent',
    expirySweepMs: 50,
    database: usingPostgres ? { kind: 'postgres', url: url!, poolSize: 5 } : { kind: 'pglite', dataDir: 'memory://' },
    ...overrides,
  };
}

export async function startApp(overrides: Partial<Config> = {}): Promise<App> {
  const config = testConfig(overrides);
  const app = createApp(config, {
    pglite: config.database.kind === 'pglite' ? await sharedPglite() : undefined,
    logger: createLogger(config.logLevel),
  });
  await app.start();
  return app;
}

/** A name no other test (or earlier run on the same database) uses. */
export function unique(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export interface GqlError {
  message: string;
  path?: (string | number)[];
  /** What the server adds to an error: the code always, the rest for some codes. */
  extensions?: {
    code?: string;
    field?: string;
    validationErrors?: { path: string; message: string }[];
    retryAfterSeconds?: number;
    [key: string]: unknown;
  };
}

export interface GqlResponse<T> {
  status: number;
  data?: T | null;
  errors?: GqlError[];
}

/** The variables (optional when the operation needs none) and the API key (null for none). */
export type GqlArguments<V> = {} extends V ? [variables?: V, key?: string | null] : [variables: V, key?: string | null];

/** A typed document as the request's text (graphql-ws, SSE and HTTP all send text). */
export function textOf(document: TadaDocumentNode<unknown, never> | string): string {
  return typeof document === 'string' ? document : print(document);
}

/**
 * One GraphQL POST. Pass a typed document (test/support/documents.ts) and the result and variables
 * are typed; a raw string is for requests the tests build on purpose (oversized, malformed).
 */
export async function gql<R, V>(app: App, document: TadaDocumentNode<R, V>, ...args: GqlArguments<V>): Promise<GqlResponse<R>>;
export async function gql<R = unknown>(
  app: App,
  query: string,
  variables?: Record<string, unknown>,
  key?: string | null,
): Promise<GqlResponse<R>>;
export async function gql(
  app: App,
  document: TadaDocumentNode<unknown, never> | string,
  variables: unknown = {},
  key: string | null = ADMIN_KEY,
): Promise<GqlResponse<unknown>> {
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query: textOf(document), variables }),
  });
  return { status: res.status, ...((await res.json()) as object) };
}

/** Like gql, but fails the test on any GraphQL error. */
export async function gqlData<R, V>(app: App, document: TadaDocumentNode<R, V>, ...args: GqlArguments<V>): Promise<R>;
export async function gqlData<R = unknown>(app: App, query: string, variables?: Record<string, unknown>, key?: string | null): Promise<R>;
export async function gqlData(
  app: App,
  document: TadaDocumentNode<unknown, never> | string,
  variables: Record<string, unknown> = {},
  key: string | null = ADMIN_KEY,
): Promise<unknown> {
  const res = await gql(app, textOf(document), variables, key);
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data;
}

export function wsClient(app: App, key: string | null = ADMIN_KEY, extra: Partial<Parameters<typeof createClient>[0]> = {}): Client {
  return createClient({
    url: `ws://127.0.0.1:${app.httpPort}/graphql`,
    webSocketImpl: WebSocket,
    connectionParams: key ? { authorization: `Bearer ${key}` } : {},
    retryAttempts: 0,
    lazy: true,
    ...extra,
  });
}

export interface Subscription<R> {
  events: R[];
  errors: unknown[];
  dispose: () => void;
  waitFor: (pred: (events: R[]) => boolean, ms?: number) => Promise<R[]>;
}

/** Collects every event of a subscription until disposed. */
export function collect<R, V>(client: Client, document: TadaDocumentNode<R, V>, ...[variables]: GqlArguments<V>): Subscription<R> {
  const events: R[] = [];
  const errors: unknown[] = [];
  const dispose = client.subscribe<R>(
    { query: textOf(document), variables: variables ?? {} },
    {
      next: (msg) => {
        if (msg.errors) errors.push(...msg.errors);
        if (msg.data) events.push(msg.data as R);
      },
      error: (e) => errors.push(e),
      complete: () => {},
    },
  );
  return {
    events,
    errors,
    dispose,
    waitFor: (pred, ms = 10_000) => waitFor(() => (pred(events) ? events : undefined), ms, () => JSON.stringify({ events, errors })),
  };
}

/** Polls `probe` until it returns a value (not undefined/false), or fails after `ms`. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  ms = 10_000,
  describe: () => string = () => '',
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms waiting. ${describe()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * graphql-ws does not acknowledge a subscription, so a test cannot know when the server started
 * listening. This repeats `poke` (which must cause an event the subscription receives) until one
 * arrives; anything done afterwards cannot race the subscription's setup.
 */
export async function untilSubscribed(
  sub: { events: unknown[]; errors: unknown[] },
  poke: () => Promise<unknown>,
  ms = 10_000,
): Promise<void> {
  const deadline = Date.now() + ms;
  while (sub.events.length === 0) {
    if (sub.errors.length > 0) throw new Error(`Subscription failed: ${JSON.stringify(sub.errors)}`);
    if (Date.now() > deadline) throw new Error(`The subscription received nothing within ${ms} ms.`);
    await poke();
    const until = Date.now() + 300;
    while (sub.events.length === 0 && sub.errors.length === 0 && Date.now() < until) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }
}

export interface SseEvent<R> {
  data?: R | null;
  errors?: GqlError[];
}

/** A GraphQL subscription over SSE (POST with `accept: text/event-stream`), read with fetch. */
export async function sseSubscribe<R, V>(
  app: App,
  document: TadaDocumentNode<R, V>,
  ...[variables, key = ADMIN_KEY]: GqlArguments<V>
): Promise<{
  status: number;
  contentType: string | null;
  /** The `data` of every `next` event, parsed. */
  events: SseEvent<R>[];
  /** Whether the server ended the stream. */
  ended: () => boolean;
  waitFor: (pred: (events: SseEvent<R>[]) => boolean, ms?: number) => Promise<unknown>;
  close: () => Promise<void>;
}> {
  const abort = new AbortController();
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      accept: 'text/event-stream',
      ...(key ? { authorization: `Bearer ${key}` } : {}),
    },
    body: JSON.stringify({ query: textOf(document), variables: variables ?? {} }),
    signal: abort.signal,
  });
  const events: SseEvent<R>[] = [];
  let done = false;
  const reading = (async () => {
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let buffer = '';
    try {
      for (;;) {
        const { value, done: end } = await reader.read();
        if (end) break;
        buffer += decoder.decode(value, { stream: true });
        let split: number;
        while ((split = buffer.search(/\r?\n\r?\n/)) >= 0) {
          const block = buffer.slice(0, split);
          buffer = buffer.slice(split).replace(/^\r?\n\r?\n/, '');
          let event = 'message';
          const data: string[] = [];
          for (const line of block.split(/\r?\n/)) {
            if (line.startsWith('event:')) event = line.slice(6).trim();
            else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
          }
          if ((event === 'next' || event === 'message') && data.length > 0) events.push(JSON.parse(data.join('\n')));
        }
      }
    } catch {
      // aborted by close()
    } finally {
      done = true;
    }
  })();
  return {
    status: res.status,
    contentType: res.headers.get('content-type'),
    events,
    ended: () => done,
    waitFor: (pred, ms = 10_000) => waitFor(() => pred(events), ms, () => JSON.stringify(events)),
    close: async () => {
      abort.abort();
      await reading;
    },
  };
}
