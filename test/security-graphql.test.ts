// Security and abuse resistance of the operator API (the issue's points 7-11): query shape
// limits, batching, body size, CSRF, graphql-ws admission and limits, error hygiene, GraphiQL
// and introspection switches, the mutation rate limit, and secrets kept out of logs and errors.
// Each test asserts the exact refusal (status, code, message) and, where it matters, a control
// that the same request without the offending part goes through.
import { request as httpRequest } from 'node:http';
import { connect as tcpConnect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { Principal } from '../src/domain/types.ts';
import type { ResultOf, TadaDocumentNode } from '../src/graphql/typed.ts';
import { createEndpoint, invokeCommand, type Fixture } from './support/api.ts';
import {
  ADMIN_KEY,
  collect,
  gql,
  gqlData,
  startApp,
  testConfig,
  textOf,
  unique,
  untilSubscribed,
  waitFor,
  wsClient,
  type GqlArguments,
  type GqlResponse,
  type Subscription,
} from './support/app.ts';
import { rawQuery } from './support/db.ts';
import {
  CommandStatusChanged,
  CreateApiKey,
  CreateApplication,
  CreateApplicationVersion,
  CreateEndpoint,
  EndpointById,
  InvokeCommand,
  RevokeApiKey,
  SetCommandSchema,
  SetEndpointCredentials,
} from './support/documents.ts';
import { closeDevices, connectDevice, idsReceived, kp1Topic } from './support/mqtt.ts';
import { MiB, RawWs, connackOf, sleep, startLoggedApp, type LoggedApp } from './support/security.ts';

const ADMIN: Principal = { keyId: 'test', name: 'test', role: 'ADMIN' };
const MAX_SUBSCRIPTIONS = 3;
const ALLOWED_ORIGIN = 'https://ops.example.com';

let app: App;
// Opened first so that the 4408 test near the end does not wait on its own.
let idleWs: RawWs;

beforeAll(async () => {
  app = await startApp({
    graphql: {
      ...testConfig().graphql,
      maxRequestBytes: 64 * 1024,
      maxSubscriptionsPerConnection: MAX_SUBSCRIPTIONS,
      allowedOrigins: [ALLOWED_ORIGIN],
    },
  });
  idleWs = new RawWs(app);
});
afterEach(() => closeDevices());
afterAll(async () => {
  idleWs?.end();
  await app?.stop();
});

async function commandCount(endpointId: string): Promise<number> {
  const [row] = await rawQuery<{ n: number }>('select count(*)::int as n from commands where endpoint_id = $1', [endpointId]);
  return Number(row!.n);
}

/** A raw HTTP request (fetch cannot send a chunked body without Content-Length on demand). */
function rawHttp(
  target: App,
  opts: { method: string; path?: string; headers: Record<string, string>; chunks?: string[] },
): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(`${target.url}${opts.path ?? '/graphql'}`, { method: opts.method, headers: opts.headers }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (d: Buffer) => parts.push(d));
      res.on('end', () => resolve({ status: res.statusCode!, text: Buffer.concat(parts).toString('utf8') }));
      res.on('error', reject);
    });
    // The server may answer (and close) before it read everything: that is the refusal.
    req.on('error', () => {});
    req.on('close', () => {});
    for (const chunk of opts.chunks ?? []) req.write(chunk);
    req.end();
  });
}

const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';

/** Which of these application names exist (read from the database, not through the API). */
async function applicationsNamed(names: string[]): Promise<Set<string>> {
  const rows = await rawQuery<{ name: string }>('select name from applications where name = any($1)', [names]);
  return new Set(rows.map((r) => r.name));
}

const messagesOf = (res: GqlResponse<unknown>) => (res.errors ?? []).map((e) => e.message);

describe('query shape limits (graphql-armor), before any resolver', () => {
  /**
   * `endpoint { applicationVersion { application { (versions { application {)^k id } } } }`:
   * depth 2k + 4. Pinned to one endpoint, so it stays small however many applications exist.
   */
  const nested = (k: number) => {
    let inner = 'id';
    for (let i = 0; i < k; i++) inner = `versions { application { ${inner} } }`;
    return `query($e: ID!) { endpoint(id: $e) { applicationVersion { application { ${inner} } } } }`;
  };

  it('refuses a query deeper than 12; depth 12 is fine', async () => {
    const fx = await createEndpoint(app);
    const ok = await gql<{ endpoint: { applicationVersion: { application: { versions: unknown[] } } } }>(app, nested(4), { e: fx.endpointId });
    expect(ok.errors).toBeUndefined();
    expect(ok.data?.endpoint.applicationVersion.application.versions).toHaveLength(1);
    const deep = await gql(app, nested(5), { e: fx.endpointId });
    expect(deep.data).toBeUndefined();
    expect(messagesOf(deep)).toEqual(['Syntax Error: Query depth limit of 12 exceeded, found 14.']);
  });

  it('refuses more than 20 aliases; 20 are fine', async () => {
    const fx = await createEndpoint(app);
    const aliased = (n: number) => `query($e: ID!) { ${Array.from({ length: n }, (_, i) => `a${i}: endpoint(id: $e) { id }`).join(' ')} }`;
    expect((await gql(app, aliased(20), { e: fx.endpointId })).errors).toBeUndefined();
    const many = await gql(app, aliased(21), { e: fx.endpointId });
    expect(messagesOf(many)).toEqual(['Syntax Error: Aliases limit of 20 exceeded, found 21.']);
  });

  it('21 aliased invokeCommand mutations create no command; 20 create 20', async () => {
    const fx = await createEndpoint(app);
    const input = { endpointId: fx.endpointId, commandType: 'x' };
    const aliased = (n: number) =>
      `mutation($i: InvokeCommandInput!) { ${Array.from({ length: n }, (_, i) => `a${i}: invokeCommand(input: $i) { id }`).join(' ')} }`;
    const refused = await gql(app, aliased(21), { i: input });
    expect(messagesOf(refused)).toEqual(['Syntax Error: Aliases limit of 20 exceeded, found 21.']);
    expect(await commandCount(fx.endpointId)).toBe(0);
    expect((await gql(app, aliased(20), { i: input })).errors).toBeUndefined();
    expect(await commandCount(fx.endpointId)).toBe(20);
  });

  it('1,000 aliased invokeCommand mutations are refused before any resolver: no command is created', async () => {
    const fx = await createEndpoint(app);
    const query = `mutation($i: InvokeCommandInput!) { ${Array.from({ length: 1000 }, (_, i) => `a${i}: invokeCommand(input: $i) { id }`).join(' ')} }`;
    expect(Buffer.byteLength(query)).toBeLessThan(app.config.graphql.maxRequestBytes);
    const res = await gql(app, query, { i: { endpointId: fx.endpointId, commandType: 'x' } });
    expect(res.data).toBeUndefined();
    // 12 tokens per alias: the token limit is hit first (while parsing), the alias limit would be next.
    expect(messagesOf(res)).toEqual(['Syntax Error: Token limit of 5000 exceeded.']);
    expect(await commandCount(fx.endpointId)).toBe(0);
  });

  it('refuses a document of more than 5,000 tokens; 4,500 are fine', async () => {
    const fx = await createEndpoint(app);
    // Each string in the list is one token; the rest of the document is about 20.
    const history = (n: number) =>
      `{ commandHistory(endpointId: "${fx.endpointId}", commandTypes: [${'"a" '.repeat(n)}]) { edges { cursor } } }`;
    const ok = await gql<{ commandHistory: { edges: unknown[] } }>(app, history(4500));
    expect(ok.errors).toBeUndefined();
    expect(ok.data?.commandHistory.edges).toEqual([]);
    const res = await gql(app, history(5000));
    expect(res.data).toBeUndefined();
    expect(res.errors).toEqual([expect.objectContaining({ message: 'Syntax Error: Token limit of 5000 exceeded.' })]);
  });

  it('refuses a query over the cost limit (first: 100000); first: 20 is fine', async () => {
    const fx = await createEndpoint(app);
    const history = (first: number) =>
      `query($e: ID!) { commandHistory(endpointId: $e, first: ${first}) { edges { node { id status } } } }`;
    expect((await gql(app, history(20), { e: fx.endpointId })).errors).toBeUndefined();
    const res = await gql(app, history(100000), { e: fx.endpointId });
    expect(res.data).toBeUndefined();
    expect(messagesOf(res)).toEqual([expect.stringMatching(/^Syntax Error: Query Cost limit of 20000 exceeded, found \d+\.$/)]);
  });

  it('runs a batch (a JSON array body) of up to 20 operations', async () => {
    const fx = await createEndpoint(app);
    const op = { query: textOf(InvokeCommand), variables: { input: { endpointId: fx.endpointId, commandType: 'x' } } };
    const res = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify([op, op]),
    });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { data: ResultOf<typeof InvokeCommand> }[];
    expect(body).toHaveLength(2);
    expect(new Set(body.map((r) => r.data.invokeCommand.id)).size).toBe(2);
    expect(await commandCount(fx.endpointId)).toBe(2);
  });

  it('refuses a batch of more than 20 operations and runs none of them', async () => {
    const fx = await createEndpoint(app);
    const op = { query: textOf(InvokeCommand), variables: { input: { endpointId: fx.endpointId, commandType: 'x' } } };
    const res = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
      body: JSON.stringify(Array.from({ length: 21 }, () => op)),
    });
    expect(res.status).toBe(413);
    expect(JSON.stringify(await res.json())).toContain('Batching is limited to 20 operations per request.');
    expect(await commandCount(fx.endpointId)).toBe(0);
  });
});

describe('HTTP request limits', () => {
  const headers = { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` };
  const body = (padding: number) => JSON.stringify({ query: '{ __typename }', variables: { pad: 'p'.repeat(padding) } });

  it('refuses a body over graphql.maxRequestBytes with 413; one under it is served', async () => {
    const small = body(60 * 1024);
    const ok = await rawHttp(app, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(small)) }, chunks: [small] });
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text)).toEqual({ data: { __typename: 'Query' } });

    const big = body(100 * 1024);
    const refused = await rawHttp(app, { method: 'POST', headers: { ...headers, 'content-length': String(Buffer.byteLength(big)) }, chunks: [big] });
    expect(refused.status).toBe(413);
    expect(JSON.parse(refused.text).errors[0].extensions).toEqual({ code: 'PAYLOAD_TOO_LARGE' });
  });

  it('refuses a chunked POST without Content-Length with 411', async () => {
    const text = body(10);
    const res = await rawHttp(app, {
      method: 'POST',
      headers: { ...headers, 'transfer-encoding': 'chunked' },
      chunks: [text.slice(0, 10), text.slice(10)],
    });
    expect(res.status).toBe(411);
    expect(JSON.parse(res.text).errors[0].message).toBe('A GraphQL POST needs a Content-Length header.');
  });
});

describe('CSRF: simple cross-site requests are refused', () => {
  const refusal = {
    errors: [
      {
        message: 'Send GraphQL requests with Content-Type: application/json, or an Authorization or X-GraphQL-CSRF header.',
        extensions: { code: 'BAD_REQUEST' },
      },
    ],
  };

  it('a form-encoded or text/plain POST without an Authorization or X-GraphQL-CSRF header gets 400', async () => {
    const form = await fetch(`${app.url}/graphql`, { method: 'POST', body: new URLSearchParams({ query: '{ __typename }' }) });
    expect(form.status).toBe(400);
    expect(await form.json()).toEqual(refusal);
    // fetch sends a string body as text/plain: what a cross-site <form enctype="text/plain"> can do.
    const plain = await fetch(`${app.url}/graphql`, { method: 'POST', body: JSON.stringify({ query: '{ __typename }' }) });
    expect(plain.headers.get('content-type')).toMatch(/json/);
    expect(plain.status).toBe(400);
    expect(await plain.json()).toEqual(refusal);
  });

  it('a plain GET with a query gets 400; with X-GraphQL-CSRF or Authorization it is served', async () => {
    const url = `${app.url}/graphql?query=${encodeURIComponent('{ __typename }')}`;
    const plain = await fetch(url);
    expect(plain.status).toBe(400);
    expect(await plain.json()).toEqual(refusal);
    const extras: Record<string, string>[] = [{ 'x-graphql-csrf': '1' }, { authorization: `Bearer ${ADMIN_KEY}` }];
    for (const extra of extras) {
      const res = await fetch(url, { headers: { accept: 'application/json', ...extra } });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ data: { __typename: 'Query' } });
    }
    // A JSON POST (which browsers preflight) needs neither.
    const json = await fetch(`${app.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: '{ __typename }' }),
    });
    expect(await json.json()).toEqual({ data: { __typename: 'Query' } });
  });
});

describe('graphql-ws admission and limits', () => {
  it('closes the socket with 4403 without a key or with a wrong one', async () => {
    for (const payload of [{}, { authorization: 'Bearer not-a-key-0123456789' }, { authorization: ADMIN_KEY }]) {
      const ws = new RawWs(app);
      expect(await ws.opened).toBe(true);
      ws.send({ type: 'connection_init', payload });
      await waitFor(() => ws.close, 5_000);
      expect(ws.close!.code).toBe(4403);
      expect(ws.messages).toEqual([]);
    }
    // The control: the same socket with the key is acknowledged.
    const ws = new RawWs(app);
    await ws.opened;
    ws.send({ type: 'connection_init', payload: { authorization: `Bearer ${ADMIN_KEY}` } });
    await waitFor(() => ws.messages.length > 0, 5_000);
    expect(ws.messages).toEqual([{ type: 'connection_ack' }]);
    ws.end();
  });

  it('refuses the upgrade from a disallowed Origin; an allowed Origin and no Origin work', async () => {
    const evil = new RawWs(app, { origin: 'https://evil.example' });
    expect(await evil.opened).toBe(false);
    expect(evil.refusedWith).toBe(401);
    for (const origin of [ALLOWED_ORIGIN, undefined]) {
      const ws = new RawWs(app, { origin });
      expect(await ws.opened).toBe(true);
      ws.send({ type: 'connection_init', payload: { authorization: `Bearer ${ADMIN_KEY}` } });
      await waitFor(() => ws.messages.length > 0, 5_000);
      expect(ws.messages).toEqual([{ type: 'connection_ack' }]);
      ws.end();
    }
  });

  it('closes the socket with 1009 on a message over 1 MiB; 900 KiB is answered', async () => {
    const ws = new RawWs(app);
    await ws.opened;
    ws.send({ type: 'connection_init', payload: { authorization: `Bearer ${ADMIN_KEY}` } });
    await waitFor(() => ws.messages.length > 0, 5_000);
    // A ping is answered with a pong carrying its payload.
    ws.send({ type: 'ping', payload: { pad: 'p'.repeat(900 * 1024) } });
    await waitFor(() => ws.messages.length > 1, 5_000);
    expect(ws.messages[1].type).toBe('pong');
    ws.send({ type: 'ping', payload: { pad: 'p'.repeat(2 * MiB) } });
    await waitFor(() => ws.close, 5_000);
    expect(ws.close!.code).toBe(1009);
    expect(ws.messages).toHaveLength(2);
  });

  /** Opens subscriptions one at a time (each confirmed live) until one is refused. */
  async function subscribeUntilRefused(fx: Fixture, client: ReturnType<typeof wsClient>, attempts: number) {
    const live: Subscription<ResultOf<typeof CommandStatusChanged>>[] = [];
    for (let i = 0; i < attempts; i++) {
      const sub = collect(client, CommandStatusChanged, { endpointId: fx.endpointId });
      try {
        await untilSubscribed(sub, () => invokeCommand(app, fx.endpointId, 'poke'));
        live.push(sub);
      } catch {
        return { live, refused: sub, index: i + 1 };
      }
    }
    return { live, refused: undefined, index: undefined };
  }

  it(`refuses a subscription beyond maxSubscriptionsPerConnection with RATE_LIMITED; the live ones keep working`, async () => {
    const fx = await createEndpoint(app);
    const client = wsClient(app);
    try {
      const { live, refused } = await subscribeUntilRefused(fx, client, MAX_SUBSCRIPTIONS + 1);
      expect(refused, 'no subscription was refused').toBeDefined();
      expect(JSON.stringify(refused!.errors)).toContain('RATE_LIMITED');
      expect(JSON.stringify(refused!.errors)).toContain(`At most ${MAX_SUBSCRIPTIONS} subscriptions per connection.`);
      expect(live.length).toBeGreaterThan(0);
      const c = await invokeCommand(app, fx.endpointId, 'after');
      for (const sub of live) await sub.waitFor((events) => events.some((e) => e.commandStatusChanged.id === c.id));
      // A slot frees when a subscription ends.
      live.pop()!.dispose();
      const again = collect(client, CommandStatusChanged, { endpointId: fx.endpointId });
      await untilSubscribed(again, () => invokeCommand(app, fx.endpointId, 'poke'));
    } finally {
      await client.dispose();
    }
  });

  // graphql-ws registers the operation (ctx.subscriptions[id] = null) before it calls
  // onSubscribe, so the count there includes the new one: an off-by-one would refuse the Nth.
  it(`exactly maxSubscriptionsPerConnection (${MAX_SUBSCRIPTIONS}) subscriptions work on one socket`, async () => {
    const fx = await createEndpoint(app);
    const client = wsClient(app);
    try {
      const { index } = await subscribeUntilRefused(fx, client, MAX_SUBSCRIPTIONS + 1);
      expect(index).toBe(MAX_SUBSCRIPTIONS + 1);
    } finally {
      await client.dispose();
    }
  });

  it('closes a socket that sends no connection_init within 5 s with 4408', { timeout: 20_000 }, async () => {
    await waitFor(() => idleWs.close, Math.max(1, idleWs.openedAt + 12_000 - Date.now()));
    expect(idleWs.close!.code).toBe(4408);
    const after = idleWs.close!.at - idleWs.openedAt;
    expect(after).toBeGreaterThanOrEqual(4_500);
    expect(after).toBeLessThan(12_000);
  });
});

describe('error hygiene', () => {
  it('never suggests field, argument or type names ("Did you mean")', async () => {
    const probes = [
      '{ applicatons { id } }',
      '{ endpoint(id: "x") { nmae } }',
      'mutation { createApplication(nam: "x") { id } }',
      '{ ... on Qury { __typename } }',
      'mutation { invokeCommand(input: { endpointId: "x", commandTyp: "y" }) { id } }',
    ];
    for (const query of probes) {
      const res = await gql(app, query);
      expect(res.errors?.length, query).toBeGreaterThan(0);
      expect(JSON.stringify(res.errors), query).not.toMatch(/did you mean/i);
    }
  });

  // graphql-armor's blockFieldSuggestion only rewrites validation errors matching
  // /Did you mean ".+"\?/. Enum values ("Did you mean the enum value ...") and errors from
  // coercing variables (execution, not validation) are cleaned by hideSuggestions (guards.ts).
  it('never suggests enum values or input fields, in literals or in variables', async () => {
    const probes: [string, Record<string, unknown>][] = [
      ['mutation { createApiKey(name: "x", role: ADMN) { id } }', {}],
      ['mutation($r: ApiKeyRole!) { createApiKey(name: "x", role: $r) { id } }', { r: 'ADMN' }],
      ['mutation($i: InvokeCommandInput!) { invokeCommand(input: $i) { id } }', { i: { endpointId: 'x', commandTyp: 'y' } }],
      ['query($s: [CommandStatus!]) { commandHistory(endpointId: "x", statuses: $s) { edges { cursor } } }', { s: ['PENDNG'] }],
    ];
    for (const [query, variables] of probes) {
      const res = await gql(app, query, variables, null);
      expect(res.errors?.length, query).toBeGreaterThan(0);
      expect(JSON.stringify(res.errors), query).not.toMatch(/did you mean/i);
    }
  });

  it('masks unexpected errors: no stack, no SQL, no driver message', async () => {
    const fx = await createEndpoint(app);
    // PostgreSQL refuses \u0000 in jsonb: an error no rule of ours expects.
    const res = await gql(app, SetCommandSchema, {
      applicationVersion: fx.appVersion,
      commandType: 'x',
      schema: { type: 'object', description: 'nul \u0000 here' },
    });
    expect(res.errors).toEqual([
      expect.objectContaining({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }),
    ]);
    const text = JSON.stringify(res);
    for (const leak of ['stack', 'insert into', 'command_schemas', 'Unicode', 'Drizzle', 'at async']) expect(text).not.toContain(leak);

    const badJson = await fetch(`${app.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"query": ' });
    expect(badJson.status).toBe(400);
    const badText = await badJson.text();
    expect(badText).not.toMatch(/stack|at [A-Za-z.]+ \(|node:internal/);
  });

  it('serves GraphiQL when enabled (the control for the switch below)', async () => {
    const res = await fetch(`${app.url}/graphql`, { headers: { accept: 'text/html' } });
    expect(res.status).toBe(200);
    expect(await res.text()).toMatch(/graphiql/i);
  });
});

describe('locked-down server: GraphiQL off, anonymous introspection off, 5 mutations per minute', () => {
  let locked: App;
  beforeAll(async () => {
    locked = await startApp({
      graphql: { ...testConfig().graphql, graphiql: false, anonymousIntrospection: false, mutationsPerMinute: 5 },
    });
  });
  afterAll(() => locked?.stop());

  async function key(role: 'ADMIN' | 'OPERATOR' | 'VIEWER' = 'OPERATOR'): Promise<string> {
    // Through the service: GraphQL mutations would spend the admin key's budget.
    return (await locked.services.auth.createApiKey(ADMIN, unique('key'), role)).secret;
  }

  it('does not serve GraphiQL on GET /graphql with Accept: text/html', async () => {
    const res = await fetch(`${locked.url}/graphql`, { headers: { accept: 'text/html' } });
    const text = await res.text();
    expect(text).not.toMatch(/graphiql/i);
    expect(text).not.toMatch(/<html/i);
  });

  it('refuses anonymous introspection with UNAUTHENTICATED, also inside fragments; with a key it works', async () => {
    const probes = [
      '{ __schema { queryType { name } } }',
      '{ __type(name: "Mutation") { fields { name } } }',
      'query { ...F } fragment F on Query { __schema { types { name } } }',
      'query { ... on Query { __type(name: "Endpoint") { name } } }',
    ];
    for (const query of probes) {
      const res = await gql(locked, query, {}, null);
      expect(res.data ?? null, query).toBeNull();
      expect(res.errors, query).toEqual([
        expect.objectContaining({ message: 'Introspection needs an API key on this server.', extensions: { code: 'UNAUTHENTICATED' } }),
      ]);
    }
    const viewer = await key('VIEWER');
    const data = await gqlData(locked, '{ __schema { queryType { name } } }', {}, viewer);
    expect(data).toEqual({ __schema: { queryType: { name: 'Query' } } });
    // The control: the default server answers anonymous introspection.
    expect(await gqlData(app, '{ __schema { queryType { name } } }', {}, null)).toEqual({ __schema: { queryType: { name: 'Query' } } });
  });

  it('refuses the 6th mutation of a key with RATE_LIMITED and retryAfterSeconds; other keys and queries are unaffected', async () => {
    const a = await key();
    const b = await key();
    const names = Array.from({ length: 6 }, () => unique('rl'));
    for (const name of names.slice(0, 5)) {
      await gqlData(locked, CreateApplication, { name }, a);
    }
    const sixth = await gql(locked, CreateApplication, { name: names[5]! }, a);
    expect(sixth.data ?? null).toBeNull();
    expect(sixth.errors).toHaveLength(1);
    const error = sixth.errors![0]!;
    expect(error.extensions?.['code']).toBe('RATE_LIMITED');
    const retryAfter = error.extensions?.['retryAfterSeconds'];
    expect(Number.isInteger(retryAfter)).toBe(true);
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(12); // one mutation's worth at 5 per minute
    const stored = await applicationsNamed(names);
    expect(names.map((n) => stored.has(n))).toEqual([true, true, true, true, true, false]);
    // Queries of the same key still run.
    expect(await gqlData(locked, EndpointById, { id: NO_SUCH_ID }, a)).toEqual({ endpoint: null });

    // Another key has its own budget.
    await gqlData(locked, CreateApplication, { name: unique('rl') }, b);
  });

  /** Spends a fresh key's whole budget, then runs one more mutation over graphql-ws. */
  async function wsMutationOverBudget() {
    const k = await key();
    for (let i = 0; i < 5; i++) await gqlData(locked, CreateApplication, { name: unique('rl') }, k);
    const name = unique('rl-ws');
    const closes: number[] = [];
    // Not lazy: the client keeps the socket open until dispose(), so any close before is the server's.
    const client = wsClient(locked, k, { lazy: false, on: { closed: (event) => void closes.push((event as { code: number }).code) } });
    try {
      const outcome = await new Promise<{ kind: 'next' | 'error'; value: unknown }>((resolve) => {
        client.subscribe(
          { query: textOf(CreateApplication), variables: { name } },
          { next: (value) => resolve({ kind: 'next', value }), error: (value) => resolve({ kind: 'error', value }), complete: () => {} },
        );
      });
      // Whether the server closed the socket (before the client disposes of it).
      await sleep(200);
      const closedByServer = [...closes];
      const created = (await applicationsNamed([name])).has(name);
      return { outcome, created, closedByServer };
    } finally {
      await client.dispose();
    }
  }

  it('a key over its budget cannot run mutations over graphql-ws either', async () => {
    const { created } = await wsMutationOverBudget();
    expect(created).toBe(false);
  });

  // A guard that threw from onExecute would make graphql-ws close the whole socket with 4500
  // (ending every subscription on it); the refusal must be the operation's result.
  it('over graphql-ws a mutation over budget gets RATE_LIMITED and the socket stays open', async () => {
    const { outcome, closedByServer } = await wsMutationOverBudget();
    expect(outcome.kind).toBe('next');
    expect(JSON.stringify(outcome.value)).toContain('RATE_LIMITED');
    expect(closedByServer).toEqual([]);
  });

  it('counts aliased root mutations one by one: 6 in one request are refused at once', async () => {
    const c = await key();
    const names = Array.from({ length: 6 }, () => unique('rl'));
    const query = `mutation { ${names.map((n, i) => `m${i}: createApplication(name: "${n}") { id }`).join(' ')} }`;
    const res = await gql(locked, query, {}, c);
    expect(res.errors?.[0]?.extensions?.['code']).toBe('RATE_LIMITED');
    expect(await applicationsNamed(names)).toEqual(new Set());
    // The budget was not spent by the refusal: 5 single mutations still go through.
    for (const name of names.slice(0, 5)) await gqlData(locked, CreateApplication, { name }, c);
  });
});

describe('secrets never appear in logs or errors', () => {
  let logged: LoggedApp;
  beforeAll(async () => {
    logged = await startLoggedApp({}, 'trace');
  });
  afterAll(() => logged?.app.stop());

  it('an API key, a device token and MQTT credentials stay out of the log and of every GraphQL error', { timeout: 60_000 }, async () => {
    const target = logged.app;
    const errors: unknown[] = [];
    const call = async <R, V>(document: TadaDocumentNode<R, V>, ...args: GqlArguments<V>) => {
      const res = await gql(target, document, ...args);
      if (res.errors) errors.push(...res.errors);
      return res;
    };

    // An API key, created and used, then used wrongly and revoked.
    const created = await call(CreateApiKey, { name: unique('ops'), role: 'ADMIN' });
    const apiKey = created.data!.createApiKey.secret;
    const apiKeyId = created.data!.createApiKey.id;
    await call(EndpointById, { id: NO_SUCH_ID }, apiKey);
    await call(EndpointById, { id: NO_SUCH_ID }, `${apiKey}x`);

    // An endpoint with a chosen token, and MQTT credentials (including refused ones).
    const token = `tok-${unique('secret')}`;
    const application = unique('app');
    const appVersion = unique('v');
    await call(CreateApplication, { name: application }, apiKey);
    await call(CreateApplicationVersion, { applicationName: application, name: appVersion }, apiKey);
    const ep = await call(CreateEndpoint, { applicationVersion: appVersion, token }, apiKey);
    const fx: Fixture = { application, appVersion, endpointId: ep.data!.createEndpoint.endpoint.id, token };
    await call(CreateEndpoint, { applicationVersion: appVersion, token }, apiKey);
    await call(CreateEndpoint, { applicationVersion: appVersion, token: `${token} with space` }, apiKey);
    const username = unique('user');
    const password = `pw-${unique('secret')}`;
    const wrongPassword = `wrong-${unique('secret')}`;
    await call(SetEndpointCredentials, { endpointId: fx.endpointId, username, password: 'short' }, apiKey); // too short: BAD_USER_INPUT
    await call(SetEndpointCredentials, { endpointId: fx.endpointId, username, password }, apiKey);
    expect(errors.length).toBeGreaterThanOrEqual(3);

    // MQTT: with the credentials (request, push, result), and refused attempts.
    const device = await connectDevice(target, { clientId: unique('logged'), username, password });
    expect((await device.request(kp1Topic(fx, 'cex', 'command/reboot'), '{"observe":true}')).kind).toBe('status');
    const c = await invokeCommand(target, fx.endpointId, 'reboot', { delay: 1 });
    await device.until(() => idsReceived(device, fx, 'reboot').has(Number(c.id)));
    expect((await device.request(kp1Topic(fx, 'cex', 'result/reboot'), JSON.stringify([{ id: Number(c.id), statusCode: 200 }]))).kind).toBe('status');
    expect(await connackOf(target.mqttPort, { username, password: Buffer.from(wrongPassword) })).toBe(4);
    const tokenOnly = await connectDevice(target);
    await tokenOnly.publish(kp1Topic(fx, 'cex', 'command/reboot/1'), '{}');
    await tokenOnly.publish(kp1Topic(fx, 'cex', 'result/reboot/2'), '{bad');

    // HTTP: Basic with the right and a wrong password, the token alone, errors.
    const basic = (p: string) => ({ authorization: `Basic ${Buffer.from(`${username}:${p}`).toString('base64')}` });
    const kp1 = (resource: string, body: string, headers: Record<string, string> = {}) =>
      fetch(`${target.url}/kp1/${appVersion}/cex/${token}/${resource}`, { method: 'POST', body, headers }).then((r) => r.status);
    expect(await kp1('command/reboot', '{}', basic(password))).toBe(200);
    expect(await kp1('command/reboot', '{}', basic(wrongPassword))).toBe(401);
    expect(await kp1('command/reboot', '{}')).toBe(401);
    expect(await kp1('result/reboot', '{bad', basic(password))).toBe(400);

    // graphql-ws with a wrong key.
    const ws = new RawWs(target);
    await ws.opened;
    ws.send({ type: 'connection_init', payload: { authorization: `Bearer ${apiKey}x` } });
    await waitFor(() => ws.close, 5_000);

    await call(RevokeApiKey, { id: apiKeyId });
    await call(EndpointById, { id: NO_SUCH_ID }, apiKey);

    // The log saw all of this (so the check is not vacuous) ...
    const log = () => logged.text();
    await waitFor(() => log().includes('endpoint credentials set') && log().includes('API key revoked') && log().includes('command executed'), 5_000);
    expect(log()).toContain(fx.endpointId);
    expect(log()).toContain(apiKeyId);
    // ... and none of the secrets, in the clear or as Basic auth.
    const secrets = [ADMIN_KEY, apiKey, token, password, wrongPassword];
    const encoded = [password, wrongPassword].map((p) => Buffer.from(`${username}:${p}`).toString('base64'));
    for (const secret of [...secrets, ...encoded]) {
      expect(log().includes(secret), `the log contains ${secret}`).toBe(false);
    }
    expect(log()).not.toContain('scrypt$');
    // Nor any GraphQL error (messages, extensions).
    const errorText = JSON.stringify(errors);
    expect(errors.length).toBeGreaterThanOrEqual(5);
    for (const secret of [...secrets, ...encoded]) {
      expect(errorText.includes(secret), `a GraphQL error contains ${secret}`).toBe(false);
    }
  });

  // A kp1 path contains the endpoint token: an aborted upload is not an error, and no log line
  // carries the token.
  it('a kp1 HTTP upload aborted by the device does not log its token', async () => {
    const target = logged.app;
    const fx = await createEndpoint(target);
    const before = logged.text().length;
    await new Promise<void>((resolve) => {
      const socket = tcpConnect(target.httpPort, '127.0.0.1', () => {
        socket.write(
          `POST /kp1/${fx.appVersion}/cex/${fx.token}/result/x HTTP/1.1\r\nHost: device\r\nContent-Length: 500\r\n\r\n[{"id":1,`,
          () => setTimeout(() => socket.destroy(), 200),
        );
      });
      socket.on('close', () => resolve());
      socket.on('error', () => resolve());
    });
    // Give the server a moment to log whatever it logs about the abort.
    await waitFor(() => logged.text().length > before, 1_000).catch(() => undefined);
    expect((await fetch(`${target.url}/healthz`)).status).toBe(200);
    expect(logged.text().slice(before)).not.toContain(fx.token);
  });
});
