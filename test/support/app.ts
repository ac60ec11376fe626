// Starts real servers for tests: port 0, a real database (the worker's shared PGlite, or the
// PostgreSQL server in TEST_DATABASE_URL), and real HTTP / graphql-ws clients.
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { expect } from 'vitest';
import { createApp, type App } from '../../src/app.ts';
import { loadConfig, type Config } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';

export const ADMIN_KEY = 'test-admin-key-0123456789abcdef';
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

export interface GqlResponse<T = any> {
  status: number;
  data?: T;
  errors?: { message: string; path?: string[]; extensions?: Record<string, any> }[];
}

export async function gql<T = any>(
  app: App,
  query: string,
  variables: Record<string, unknown> = {},
  key: string | null = ADMIN_KEY,
): Promise<GqlResponse<T>> {
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(key ? { authorization: `Bearer ${key}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return { status: res.status, ...((await res.json()) as object) };
}

/** Like gql, but fails the test on any GraphQL error. */
export async function gqlData<T = any>(
  app: App,
  query: string,
  variables: Record<string, unknown> = {},
  key: string | null = ADMIN_KEY,
): Promise<T> {
  const res = await gql<T>(app, query, variables, key);
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data;
}

export interface Fixture {
  application: string;
  appVersion: string;
  endpointId: string;
  token: string;
}

/** A fresh application, version and endpoint. */
export async function createEndpoint(app: App, opts: { appVersion?: string; token?: string } = {}): Promise<Fixture> {
  const application = unique('app');
  const appVersion = opts.appVersion ?? unique('v');
  if (!opts.appVersion) {
    await gqlData(app, 'mutation($n: String!) { createApplication(name: $n) { id } }', { n: application });
    await gqlData(app, 'mutation($a: String!, $n: String!) { createApplicationVersion(applicationName: $a, name: $n) { id } }', {
      a: application,
      n: appVersion,
    });
  }
  const data = await gqlData(
    app,
    'mutation($v: String!, $t: String) { createEndpoint(applicationVersion: $v, token: $t) { endpoint { id } token } }',
    { v: appVersion, t: opts.token ?? null },
  );
  return { application, appVersion, endpointId: data.createEndpoint.endpoint.id, token: data.createEndpoint.token };
}

export const COMMAND_FIELDS =
  'id commandType payload status statusCode reasonPhrase resultPayload createdAt updatedAt expiresAt executedAt rerunOf { id } endpoint { id }';

/** A command by id through GraphQL, with COMMAND_FIELDS (null when there is none). */
export async function commandById(app: App, id: string | number): Promise<any> {
  return (await gqlData(app, `query($id: ID!) { command(id: $id) { ${COMMAND_FIELDS} } }`, { id: String(id) })).command;
}

/** Sets an endpoint's MQTT credentials through GraphQL and checks the answer. */
export async function setEndpointCredentials(app: App, fx: Fixture, username: string, password: string): Promise<void> {
  const data = await gqlData(
    app,
    'mutation($id: ID!, $u: String!, $p: String!) { setEndpointCredentials(endpointId: $id, username: $u, password: $p) { id mqttUsername } }',
    { id: fx.endpointId, u: username, p: password },
  );
  expect(data.setEndpointCredentials.mqttUsername).toBe(username);
}

export async function invoke(
  app: App,
  endpointId: string,
  commandType: string,
  payload: unknown = null,
  retentionSeconds?: number,
): Promise<any> {
  const data = await gqlData(
    app,
    `mutation($input: InvokeCommandInput!) { invokeCommand(input: $input) { ${COMMAND_FIELDS} } }`,
    { input: { endpointId, commandType, payload, retentionSeconds } },
  );
  return data.invokeCommand;
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

/** Collects every event of a subscription until disposed. */
export function collect<T = any>(
  client: Client,
  query: string,
  variables: Record<string, unknown> = {},
): { events: T[]; errors: unknown[]; dispose: () => void; waitFor: (pred: (events: T[]) => boolean, ms?: number) => Promise<T[]> } {
  const events: T[] = [];
  const errors: unknown[] = [];
  const dispose = client.subscribe<T>(
    { query, variables },
    {
      next: (msg) => {
        if (msg.errors) errors.push(...msg.errors);
        if (msg.data) events.push(msg.data as T);
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

/** Creates an API key with the given role (as the test admin) and returns its id and secret. */
export async function createApiKey(
  app: App,
  role: 'ADMIN' | 'OPERATOR' | 'VIEWER',
  name: string = unique(role.toLowerCase()),
): Promise<{ id: string; secret: string }> {
  const data = await gqlData(app, 'mutation($n: String!, $r: ApiKeyRole!) { createApiKey(name: $n, role: $r) { id secret } }', {
    n: name,
    r: role,
  });
  return data.createApiKey;
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

/** A GraphQL subscription over SSE (POST with `accept: text/event-stream`), read with fetch. */
export async function sseSubscribe<T = any>(
  app: App,
  query: string,
  variables: Record<string, unknown> = {},
  key: string | null = ADMIN_KEY,
): Promise<{
  status: number;
  contentType: string | null;
  /** The `data` of every `next` event, parsed. */
  events: { data?: T; errors?: GqlResponse['errors'] }[];
  /** Whether the server ended the stream. */
  ended: () => boolean;
  waitFor: (pred: (events: { data?: T; errors?: GqlResponse['errors'] }[]) => boolean, ms?: number) => Promise<unknown>;
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
    body: JSON.stringify({ query, variables }),
    signal: abort.signal,
  });
  const events: { data?: T; errors?: GqlResponse['errors'] }[] = [];
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
