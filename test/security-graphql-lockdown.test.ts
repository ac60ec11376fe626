// What the operator API withholds: error details, GraphiQL, introspection, mutations over the rate limit, secrets.
import { connect as tcpConnect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { TadaDocumentNode } from '../src/graphql/typed.ts';
import { createEndpoint, invokeCommand, type Fixture } from './support/api.ts';
import { ADMIN_KEY, ADMIN_PRINCIPAL, gql, type GqlArguments, gqlData, startApp, testConfig, textOf, unique, waitFor, wsClient, type GqlResponse } from './support/app.ts';
import { rawQuery } from './support/db.ts';
import {
  CreateApiKey,
  CreateApplication,
  CreateApplicationVersion,
  CreateEndpoint,
  EndpointById,
  RevokeApiKey,
  SetEndpointCredentials,
} from './support/documents.ts';
import { closeDevices, connectDevice, idsReceived, kp1Topic } from './support/mqtt.ts';
import { RawWs, connackOf, startLoggedApp, type LoggedApp } from './support/security.ts';

let app: App;

beforeAll(async () => {
  app = await startApp();
});
afterEach(() => closeDevices());
afterAll(async () => {
  await app?.stop();
});

const NO_SUCH_ID = '00000000-0000-4000-8000-000000000000';

/** Which of these application names exist (read from the database, not through the API). */
async function applicationsNamed(names: string[]): Promise<Set<string>> {
  const rows = await rawQuery<{ name: string }>('select name from applications where name = any($1)', [names]);
  return new Set(rows.map((r) => r.name));
}

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
    // A CHECK constraint the service knows nothing about refuses this one name: the driver's
    // error is one the service does not expect.
    const name = unique('refused-key');
    const constraint = unique('test_check').replaceAll('-', '_');
    await rawQuery(`alter table api_keys add constraint ${constraint} check (name is distinct from '${name}') not valid`);
    const res = await gql(app, CreateApiKey, { name, role: 'VIEWER' }).finally(() =>
      rawQuery(`alter table api_keys drop constraint ${constraint}`),
    );
    expect(res.errors).toEqual([
      expect.objectContaining({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } }),
    ]);
    const text = JSON.stringify(res);
    for (const leak of ['stack', 'insert into', 'api_keys', constraint, 'Drizzle', 'at async']) expect(text).not.toContain(leak);

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
    return (await locked.services.auth.createApiKey(ADMIN_PRINCIPAL, unique('key'), role)).secret;
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
    const closes: (number | string)[] = [];
    // Not lazy: the client keeps the socket open until dispose(), so any close before is the server's.
    let connections = 0;
    const client = wsClient(locked, k, {
      lazy: false,
      on: { connected: () => void connections++, closed: (event) => void closes.push((event as { code: number }).code) },
    });
    try {
      const outcome = await new Promise<{ kind: 'next' | 'error'; value: unknown }>((resolve) => {
        client.subscribe(
          { query: textOf(CreateApplication), variables: { name } },
          { next: (value) => resolve({ kind: 'next', value }), error: (value) => resolve({ kind: 'error', value }), complete: () => {} },
        );
      });
      // A query answered on the same socket after the refusal: the server did not close it.
      const after = await new Promise<unknown>((resolve, reject) => {
        client.subscribe({ query: '{ __typename }' }, { next: resolve, error: reject, complete: () => {} });
      });
      expect(after).toEqual({ data: { __typename: 'Query' } });
      const closedByServer = [...closes, ...(connections > 1 ? ['reconnected'] : [])];
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

  it('counts each operation of a batch: 6 mutations in one JSON array run 5, the 6th is RATE_LIMITED', async () => {
    const d = await key();
    const names = Array.from({ length: 6 }, () => unique('rl-batch'));
    const res = await fetch(`${locked.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${d}` },
      body: JSON.stringify(names.map((name) => ({ query: textOf(CreateApplication), variables: { name } }))),
    });
    expect(res.status).toBe(200);
    const results = (await res.json()) as GqlResponse<unknown>[];
    expect(results).toHaveLength(6);
    const codes = results.map((r) => r.errors?.[0]?.extensions?.['code'] ?? 'OK');
    expect(codes.filter((c) => c === 'OK')).toHaveLength(5);
    expect(codes.filter((c) => c === 'RATE_LIMITED')).toHaveLength(1);
    expect((await applicationsNamed(names)).size).toBe(5);
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
    // The server logs the abort (at debug level): the check below reads that line, not an empty log.
    await waitFor(() => logged.text().slice(before).includes('device HTTP request aborted'), 5_000);
    expect((await fetch(`${target.url}/healthz`)).status).toBe(200);
    expect(logged.text().slice(before)).not.toContain(fx.token);
  });
});
