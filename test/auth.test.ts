// API keys and roles over real HTTP and graphql-ws, and the bootstrap admin key on a fresh database.
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import postgres from 'postgres';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.ts';
import type { Config } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import {
  ADMIN_KEY,
  COMMAND_FIELDS,
  collect,
  createApiKey,
  createEndpoint,
  gql,
  gqlData,
  invoke,
  startApp,
  testConfig,
  unique,
  untilSubscribed,
  usingPostgres,
  wsClient,
  type GqlResponse,
} from './support/app.ts';
import { rawQuery } from './support/db.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

const APPLICATIONS = '{ applications { id name } }';
const CREATE_APPLICATION = 'mutation($n: String!) { createApplication(name: $n) { id name } }';
const CREATE_VERSION = 'mutation($a: String!, $n: String!) { createApplicationVersion(applicationName: $a, name: $n) { id name } }';
const CREATE_ENDPOINT = 'mutation($v: String!) { createEndpoint(applicationVersion: $v) { endpoint { id } token } }';
const INVOKE = `mutation($input: InvokeCommandInput!) { invokeCommand(input: $input) { ${COMMAND_FIELDS} } }`;
const RERUN = 'mutation($id: ID!) { rerunCommand(id: $id) { id rerunOf { id } } }';
const CREATE_KEY = 'mutation($n: String!, $r: ApiKeyRole!) { createApiKey(name: $n, role: $r) { id name role secret } }';
const REVOKE_KEY = 'mutation($id: ID!) { revokeApiKey(id: $id) }';
const HISTORY = 'query($e: ID!) { commandHistory(endpointId: $e) { edges { node { id } } } }';

function codeOf(res: GqlResponse): string | undefined {
  expect(res.errors, JSON.stringify(res)).toHaveLength(1);
  return res.errors![0]!.extensions?.code;
}

/** A GraphQL POST with an exact Authorization header value (or none). */
async function withHeader(target: App, authorization: string | null, query = APPLICATIONS): Promise<GqlResponse> {
  const res = await fetch(`${target.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === null ? {} : { authorization }) },
    body: JSON.stringify({ query }),
  });
  return { status: res.status, ...((await res.json()) as object) };
}

/** Runs one query or mutation over graphql-ws and returns its single result. */
function wsExecute(client: Client, query: string, variables: Record<string, unknown> = {}): Promise<GqlResponse> {
  return new Promise((resolve) => {
    let result: GqlResponse = { status: 0 };
    client.subscribe(
      { query, variables },
      {
        next: (msg) => (result = { status: 0, ...(msg as object) }),
        error: (e) => resolve({ status: 0, errors: [{ message: String((e as { code?: number })?.code ?? e), extensions: { closed: e } }] }),
        complete: () => resolve(result),
      },
    );
  });
}

describe('authentication', () => {
  it('refuses a request without Authorization with UNAUTHENTICATED', async () => {
    const res = await withHeader(app, null);
    expect(codeOf(res)).toBe('UNAUTHENTICATED');
    expect(res.data?.applications ?? null).toBeNull();
    const mutation = await gql(app, CREATE_APPLICATION, { n: unique('anon') }, null);
    expect(codeOf(mutation)).toBe('UNAUTHENTICATED');
  });

  it.each([
    ['a bare key', ADMIN_KEY],
    ['another scheme', `Basic ${ADMIN_KEY}`],
    ['Bearer without a key', 'Bearer'],
    ['Bearer and blanks', 'Bearer    '],
    ['two words', `Bearer ${ADMIN_KEY} extra`],
    ['an unknown key', `Bearer cex_${randomBytes(32).toString('base64url')}`],
    ['the admin key with a typo', `Bearer ${ADMIN_KEY}x`],
  ])('refuses %s with UNAUTHENTICATED', async (_what, header) => {
    expect(codeOf(await withHeader(app, header))).toBe('UNAUTHENTICATED');
  });

  it('accepts the ADMIN_API_KEY, with the scheme in any case', async () => {
    for (const header of [`Bearer ${ADMIN_KEY}`, `bearer ${ADMIN_KEY}`]) {
      const res = await withHeader(app, header);
      expect(res.errors).toBeUndefined();
      expect(Array.isArray(res.data.applications)).toBe(true);
    }
  });
});

describe('API keys', () => {
  it('returns the secret once and stores only a hash of it', async () => {
    const name = unique('ci-bot');
    const { createApiKey: created } = await gqlData(app, CREATE_KEY, { n: name, r: 'OPERATOR' });
    expect(created).toMatchObject({ name, role: 'OPERATOR' });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.secret.length).toBeGreaterThanOrEqual(32);

    const rows = await rawQuery<any>('select * from api_keys where id = $1', [created.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name, role: 'OPERATOR', revoked_at: null });
    expect(JSON.stringify(rows)).not.toContain(created.secret);
    expect(rows[0].secret_hash).not.toBe(created.secret);

    const other = await createApiKey(app, 'OPERATOR');
    expect(other.secret).not.toBe(created.secret);

    // The secret works, as the role it was given.
    const res = await gql(app, CREATE_APPLICATION, { n: unique('by-key') }, created.secret);
    expect(res.errors).toBeUndefined();
  });

  it.each(['', '   ', 'x'.repeat(101)])('refuses the key name %j with BAD_USER_INPUT', async (n) => {
    expect(codeOf(await gql(app, CREATE_KEY, { n, r: 'VIEWER' }))).toBe('BAD_USER_INPUT');
  });

  it('lets a VIEWER read but not write', async () => {
    const viewer = (await createApiKey(app, 'VIEWER')).secret;
    const fx = await createEndpoint(app);
    const c = await invoke(app, fx.endpointId, 'reboot');

    const read = await gqlData(
      app,
      'query($e: ID!, $c: ID!) { applications { name } endpoint(id: $e) { id } command(id: $c) { id } commandHistory(endpointId: $e) { edges { node { id } } } }',
      { e: fx.endpointId, c: c.id },
      viewer,
    );
    expect(read.applications.map((a: any) => a.name)).toContain(fx.application);
    expect(read.endpoint).toEqual({ id: fx.endpointId });
    expect(read.command).toEqual({ id: c.id });
    expect(read.commandHistory.edges).toEqual([{ node: { id: c.id } }]);

    const name = unique('viewer-app');
    expect(codeOf(await gql(app, CREATE_APPLICATION, { n: name }, viewer))).toBe('FORBIDDEN');
    expect(codeOf(await gql(app, CREATE_VERSION, { a: fx.application, n: unique('v') }, viewer))).toBe('FORBIDDEN');
    expect(codeOf(await gql(app, CREATE_ENDPOINT, { v: fx.appVersion }, viewer))).toBe('FORBIDDEN');
    expect(codeOf(await gql(app, INVOKE, { input: { endpointId: fx.endpointId, commandType: 'reboot' } }, viewer))).toBe(
      'FORBIDDEN',
    );
    expect(codeOf(await gql(app, RERUN, { id: c.id }, viewer))).toBe('FORBIDDEN');
    expect(codeOf(await gql(app, CREATE_KEY, { n: unique('k'), r: 'VIEWER' }, viewer))).toBe('FORBIDDEN');

    // Nothing was written by the refused calls.
    const after = await gqlData(app, HISTORY, { e: fx.endpointId });
    expect(after.commandHistory.edges).toEqual([{ node: { id: c.id } }]);
    const { applications } = await gqlData(app, APPLICATIONS);
    expect(applications.map((a: any) => a.name)).not.toContain(name);
  });

  it('lets an OPERATOR manage applications and endpoints, invoke and re-run, but not manage keys', async () => {
    const operator = (await createApiKey(app, 'OPERATOR')).secret;
    const application = unique('op-app');
    const version = unique('op-v');
    await gqlData(app, CREATE_APPLICATION, { n: application }, operator);
    await gqlData(app, CREATE_VERSION, { a: application, n: version }, operator);
    const { createEndpoint: ep } = await gqlData(app, CREATE_ENDPOINT, { v: version }, operator);
    const { invokeCommand: c } = await gqlData(app, INVOKE, { input: { endpointId: ep.endpoint.id, commandType: 'reboot' } }, operator);
    const { rerunCommand: r } = await gqlData(app, RERUN, { id: c.id }, operator);
    expect(r.rerunOf).toEqual({ id: c.id });
    const history = await gqlData(app, HISTORY, { e: ep.endpoint.id }, operator);
    expect(history.commandHistory.edges.map((e: any) => e.node.id)).toEqual([r.id, c.id]);

    expect(codeOf(await gql(app, CREATE_KEY, { n: unique('k'), r: 'VIEWER' }, operator))).toBe('FORBIDDEN');
    const target = await createApiKey(app, 'VIEWER');
    expect(codeOf(await gql(app, REVOKE_KEY, { id: target.id }, operator))).toBe('FORBIDDEN');
    // The key the operator tried to revoke still works.
    expect((await gql(app, APPLICATIONS, {}, target.secret)).errors).toBeUndefined();
  });

  it('lets a created ADMIN key manage keys', async () => {
    const admin = (await createApiKey(app, 'ADMIN')).secret;
    const { createApiKey: k } = await gqlData(app, CREATE_KEY, { n: unique('k'), r: 'VIEWER' }, admin);
    expect(await gqlData(app, REVOKE_KEY, { id: k.id }, admin)).toEqual({ revokeApiKey: true });
  });

  it('stops accepting a revoked key at once', async () => {
    const key = await createApiKey(app, 'OPERATOR');
    expect((await gql(app, APPLICATIONS, {}, key.secret)).errors).toBeUndefined();

    expect(await gqlData(app, REVOKE_KEY, { id: key.id })).toEqual({ revokeApiKey: true });
    expect(codeOf(await gql(app, APPLICATIONS, {}, key.secret))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gql(app, CREATE_APPLICATION, { n: unique('revoked') }, key.secret))).toBe('UNAUTHENTICATED');
    const [row] = await rawQuery<any>('select revoked_at from api_keys where id = $1', [key.id]);
    expect(row.revoked_at).not.toBeNull();

    // Revoking again, or an unknown key, is NOT_FOUND.
    expect(codeOf(await gql(app, REVOKE_KEY, { id: key.id }))).toBe('NOT_FOUND');
  });

  it.each(['00000000-0000-0000-0000-000000000000', 'not-a-key-id', ''])('refuses to revoke the unknown key %j with NOT_FOUND', async (id) => {
    expect(codeOf(await gql(app, REVOKE_KEY, { id }))).toBe('NOT_FOUND');
  });

  it('closes graphql-ws access of a revoked key at once', async () => {
    const key = await createApiKey(app, 'OPERATOR');
    const fx = await createEndpoint(app);
    let connections = 0;
    const client = wsClient(app, key.secret, { on: { connected: () => void connections++ } });
    // A subscription held open keeps one socket (the client is lazy: it would reconnect, and
    // authenticate again, for every operation otherwise).
    const held = collect(client, 'subscription($e: ID!) { commandStatusChanged(endpointId: $e) { id status } }', {
      e: fx.endpointId,
    });
    try {
      await untilSubscribed(held, () => invoke(app, fx.endpointId, 'probe'));
      const before = await wsExecute(client, INVOKE, { input: { endpointId: fx.endpointId, commandType: 'ws' } });
      expect(before.errors).toBeUndefined();
      expect(before.data.invokeCommand.status).toBe('PENDING');
      expect(connections).toBe(1);

      await gqlData(app, REVOKE_KEY, { id: key.id });
      const after = await wsExecute(client, INVOKE, { input: { endpointId: fx.endpointId, commandType: 'ws' } });
      // Either the operation is refused or the socket is closed; the command must not be stored.
      expect(after.data?.invokeCommand ?? null).toBeNull();
      expect(after.errors?.length).toBeGreaterThan(0);
      const history = await gqlData(app, 'query($e: ID!) { commandHistory(endpointId: $e, commandTypes: ["ws"]) { edges { node { id } } } }', {
        e: fx.endpointId,
      });
      expect(history.commandHistory.edges).toEqual([{ node: { id: before.data.invokeCommand.id } }]);
    } finally {
      held.dispose();
      await client.dispose();
    }
  });
});

// ---- bootstrap ---------------------------------------------------------------------------------

interface FreshDatabase {
  config(overrides?: Partial<Config>): Config;
  pglite: PGlite | undefined;
  /** How many API keys the database holds. */
  countKeys(): Promise<number>;
  drop(): Promise<void>;
}

/** An empty database of the project's kind: a new in-memory PGlite, or a new PostgreSQL database. */
async function freshDatabase(): Promise<FreshDatabase> {
  if (!usingPostgres) {
    const pglite = await PGlite.create('memory://');
    return {
      pglite,
      config: (overrides = {}) => testConfig({ adminApiKey: undefined, ...overrides }),
      countKeys: async () => Number((await pglite.query<{ n: number }>('select count(*)::int as n from api_keys')).rows[0]!.n),
      drop: () => pglite.close(),
    };
  }
  const name = `cex_boot_${randomBytes(6).toString('hex')}`;
  await rawQuery(`create database ${name}`);
  const url = new URL(process.env['TEST_DATABASE_URL']!);
  url.pathname = `/${name}`;
  return {
    pglite: undefined,
    config: (overrides = {}) =>
      testConfig({ adminApiKey: undefined, database: { kind: 'postgres', url: url.toString(), poolSize: 3 }, ...overrides }),
    countKeys: async () => {
      const sql = postgres(url.toString(), { max: 1, onnotice: () => {} });
      try {
        const [row] = await sql`select count(*)::int as n from api_keys`;
        return Number(row!['n']);
      } finally {
        await sql.end({ timeout: 5 });
      }
    },
    drop: async () => {
      await rawQuery(`drop database if exists ${name} with (force)`);
    },
  };
}

describe('bootstrap admin key', () => {
  const started: App[] = [];
  let db: FreshDatabase;

  function boot(secrets: string[], overrides: Partial<Config> = {}): App {
    const config = db.config(overrides);
    const created = createApp(config, {
      pglite: db.pglite,
      logger: createLogger(config.logLevel),
      onBootstrapKey: (secret) => secrets.push(secret),
    });
    started.push(created);
    return created;
  }

  beforeAll(async () => {
    db = await freshDatabase();
  });
  afterAll(async () => {
    for (const a of started) await a.stop();
    await db?.drop();
  });

  it('creates one ADMIN key on the first start of a fresh database, and none on the next start', async () => {
    const secrets: string[] = [];
    const first = boot(secrets);
    await first.start();
    expect(secrets).toHaveLength(1);
    const secret = secrets[0]!;
    expect(secret.length).toBeGreaterThanOrEqual(32);
    expect(await db.countKeys()).toBe(1);

    // It is an ADMIN key (creating keys needs ADMIN); the test ADMIN_API_KEY is not configured here.
    const { createApiKey: k } = await gqlData(first, CREATE_KEY, { n: unique('from-bootstrap'), r: 'VIEWER' }, secret);
    expect(k.role).toBe('VIEWER');
    expect(codeOf(await gql(first, APPLICATIONS, {}, ADMIN_KEY))).toBe('UNAUTHENTICATED');
    // Already bootstrapped: asking again creates nothing.
    expect(await first.services.auth.bootstrap()).toBeNull();
    await first.stop();

    const second = boot(secrets);
    await second.start();
    expect(secrets).toHaveLength(1);
    expect(await db.countKeys()).toBe(2); // the bootstrap key and the VIEWER key made with it
    expect(await second.services.auth.bootstrap()).toBeNull();
    const res = await gqlData(second, CREATE_KEY, { n: unique('again'), r: 'OPERATOR' }, secret);
    expect(res.createApiKey.role).toBe('OPERATOR');
    await second.stop();
  });
});

describe('bootstrap with several processes or ADMIN_API_KEY', () => {
  it('creates exactly one key when two apps start together on a fresh database', async () => {
    const db = await freshDatabase();
    const secrets: string[] = [];
    const apps: App[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const config = db.config();
        apps.push(createApp(config, { pglite: db.pglite, logger: createLogger(config.logLevel), onBootstrapKey: (s) => secrets.push(s) }));
      }
      await Promise.all(apps.map((a) => a.start()));
      expect(secrets).toHaveLength(1);
      expect(await db.countKeys()).toBe(1);
      for (const a of apps) expect((await gql(a, APPLICATIONS, {}, secrets[0]!)).errors).toBeUndefined();
    } finally {
      for (const a of apps) await a.stop();
      await db.drop();
    }
  });

  it('creates no key when ADMIN_API_KEY is set', async () => {
    const db = await freshDatabase();
    const secrets: string[] = [];
    const config = db.config({ adminApiKey: ADMIN_KEY });
    const a = createApp(config, { pglite: db.pglite, logger: createLogger(config.logLevel), onBootstrapKey: (s) => secrets.push(s) });
    try {
      await a.start();
      expect(secrets).toEqual([]);
      expect(await a.services.auth.bootstrap()).toBeNull();
      expect(await db.countKeys()).toBe(0);
      // The configured key works as ADMIN.
      const { createApiKey: k } = await gqlData(a, CREATE_KEY, { n: unique('first'), r: 'VIEWER' });
      expect(k.role).toBe('VIEWER');
      expect(await db.countKeys()).toBe(1);
    } finally {
      await a.stop();
      await db.drop();
    }
  });
});
