// Operator API request admission: query shape and batch limits (graphql-armor), body size, and CSRF.
import { request as httpRequest } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { ResultOf } from '../src/graphql/typed.ts';
import { createEndpoint } from './support/api.ts';
import { ADMIN_KEY, gql, startApp, testConfig, textOf, type GqlResponse } from './support/app.ts';
import { rawQuery } from './support/db.ts';
import { InvokeCommand } from './support/documents.ts';

let app: App;

beforeAll(async () => {
  app = await startApp({ graphql: { ...testConfig().graphql, maxRequestBytes: 64 * 1024 } });
});
afterAll(async () => {
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

  it('refuses more than 20 directives; 20 are fine', async () => {
    const fx = await createEndpoint(app);
    const fields = Array.from({ length: 20 }, (_, i) => `a${i}: id @include(if: true)`).join(' ');
    const ok = await gql<{ endpoint: Record<string, string> }>(app, `query($e: ID!) { endpoint(id: $e) { ${fields} } }`, { e: fx.endpointId });
    expect(ok.errors).toBeUndefined();
    expect(Object.keys(ok.data?.endpoint ?? {})).toHaveLength(20);
    const many = await gql(app, `query($e: ID!) { endpoint(id: $e) { ${fields} __typename @skip(if: false) } }`, { e: fx.endpointId });
    expect(many.data).toBeUndefined();
    expect(messagesOf(many)).toEqual(['Syntax Error: Directives limit of 20 exceeded, found 21.']);
  });

  it('refuses a document of more than 5,000 tokens; 4,500 are fine', async () => {
    const fx = await createEndpoint(app);
    // Each string in the JSON list is one token; the rest of the document is about 20.
    const validate = (n: number) =>
      `{ validateCommand(endpointId: "${fx.endpointId}", commandType: "a", payload: [${'"a" '.repeat(n)}]) { valid } }`;
    const ok = await gql<{ validateCommand: { valid: boolean } }>(app, validate(4500));
    expect(ok.errors).toBeUndefined();
    expect(ok.data?.validateCommand.valid).toBe(true);
    const res = await gql(app, validate(5000));
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
    expect(messagesOf(res)).toEqual([expect.stringMatching(/^This operation could return too much: its cost is \d+, the limit is 5000\./)]);
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
