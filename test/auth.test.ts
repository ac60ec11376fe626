// API keys and roles over real HTTP and graphql-ws, and the bootstrap admin key on a fresh database.
import { randomBytes } from 'node:crypto';
import { PGlite } from '@electric-sql/pglite';
import postgres from 'postgres';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.ts';
import type { Config } from '../src/config.ts';
import { createLogger } from '../src/logger.ts';
import { graphql, type ResultOf, type TadaDocumentNode } from '../src/graphql/typed.ts';
import { commandHistory, createApiKey, createEndpoint, invokeCommand, revokeApiKey } from './support/api.ts';
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
  usingPostgres,
  waitFor,
  wsClient,
  type GqlResponse,
} from './support/app.ts';
import { rawQuery } from './support/db.ts';
import {
  ApiKeys,
  Applications,
  CommandHistory,
  CommandStatusChanged,
  CreateApiKey,
  CreateApplication,
  CreateApplicationVersion,
  CreateEndpoint,
  InvokeCommand,
  RerunCommand,
  RevokeApiKey,
  Viewer,
} from './support/documents.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

/** Everything a VIEWER may read, in one request. */
const BootstrapAudit = graphql(`
  query BootstrapAudit { auditLog { edges { node { action actor { apiKeyId } target { type id } input } } } }
`);
const ViewerReads = graphql(`
  query ViewerReads($endpointId: ID!, $commandId: ID!) {
    applications { name }
    endpoint(id: $endpointId) { id }
    command(id: $commandId) { id }
    commandHistory(endpointId: $endpointId) { edges { node { id } } }
  }
`);

function codeOf(res: GqlResponse<unknown>): string | undefined {
  expect(res.errors, JSON.stringify(res)).toHaveLength(1);
  return res.errors![0]!.extensions?.code;
}

/** A GraphQL POST with an exact Authorization header value (or none). */
async function withHeader(target: App, authorization: string | null): Promise<GqlResponse<ResultOf<typeof Applications>>> {
  const res = await fetch(`${target.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(authorization === null ? {} : { authorization }) },
    body: JSON.stringify({ query: textOf(Applications) }),
  });
  return { status: res.status, ...((await res.json()) as object) };
}

/** Runs one query or mutation over graphql-ws and returns its single result. */
function wsExecute<R, V extends Record<string, unknown>>(client: Client, document: TadaDocumentNode<R, V>, variables: V): Promise<GqlResponse<R>> {
  return new Promise((resolve) => {
    let result: GqlResponse<R> = { status: 0 };
    client.subscribe(
      { query: textOf(document), variables },
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
    expect(res.errors?.[0]?.message).toBe('Send a valid API key as "Authorization: Bearer <key>".');
    expect(res.data?.applications ?? null).toBeNull();
    const mutation = await gql(app, CreateApplication, { name: unique('anon') }, null);
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
      expect(Array.isArray(res.data?.applications)).toBe(true);
    }
  });
});

describe('API keys', () => {
  it('returns the secret once and stores only a hash of it', async () => {
    const name = unique('ci-bot');
    const created = await createApiKey(app, 'OPERATOR', name);
    expect(created).toMatchObject({ name, role: 'OPERATOR' });
    expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(created.secret.length).toBeGreaterThanOrEqual(32);
    // The prefix lets secret scanners recognise a leaked key.
    expect(created.secret).toMatch(/^cex_/);

    const rows = await rawQuery<{ secret_hash: string }>('select * from api_keys where id = $1', [created.id]);
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ name, role: 'OPERATOR', revoked_at: null });
    expect(JSON.stringify(rows)).not.toContain(created.secret);
    expect(rows[0]!.secret_hash).not.toBe(created.secret);

    const other = await createApiKey(app, 'OPERATOR');
    expect(other.secret).not.toBe(created.secret);

    // The secret works, as the role it was given.
    const res = await gql(app, CreateApplication, { name: unique('by-key') }, created.secret);
    expect(res.errors).toBeUndefined();
  });

  it.each(['', '   ', 'x'.repeat(101)])('refuses the key name %j with BAD_USER_INPUT', async (n) => {
    expect(codeOf(await gql(app, CreateApiKey, { name: n, role: 'VIEWER' }))).toBe('BAD_USER_INPUT');
  });

  it.each([
    ['k', 'k'],
    [' spaced name ', 'spaced name'],
    [` ${'x'.repeat(100)} `, 'x'.repeat(100)],
  ])('accepts the key name %j, stored trimmed', async (name, stored) => {
    const { createApiKey: k } = await gqlData(app, CreateApiKey, { name, role: 'VIEWER' });
    expect(k.name).toBe(stored);
  });

  it('lets a VIEWER read but not write', async () => {
    const viewer = (await createApiKey(app, 'VIEWER')).secret;
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');

    const read = await gqlData(app, ViewerReads, { endpointId: fx.endpointId, commandId: c.id }, viewer);
    expect(read.applications.map((a) => a.name)).toContain(fx.application);
    expect(read.endpoint).toEqual({ id: fx.endpointId });
    expect(read.command).toEqual({ id: c.id });
    expect(read.commandHistory.edges).toEqual([{ node: { id: c.id } }]);

    const name = unique('viewer-app');
    expect(codeOf(await gql(app, CreateApplication, { name }, viewer))).toBe('FORBIDDEN');
    expect(codeOf(await gql(app, CreateApplicationVersion, { applicationName: fx.application, name: unique('v') }, viewer))).toBe('FORBIDDEN');
    expect(codeOf(await gql(app, CreateEndpoint, { applicationVersion: fx.appVersion }, viewer))).toBe('FORBIDDEN');
    expect(codeOf(await gql(app, InvokeCommand, { input: { endpointId: fx.endpointId, commandType: 'reboot' } }, viewer))).toBe(
      'FORBIDDEN',
    );
    expect(codeOf(await gql(app, RerunCommand, { id: c.id }, viewer))).toBe('FORBIDDEN');
    expect(codeOf(await gql(app, CreateApiKey, { name: unique('k'), role: 'VIEWER' }, viewer))).toBe('FORBIDDEN');

    // Nothing was written by the refused calls.
    const after = await gqlData(app, CommandHistory, { endpointId: fx.endpointId });
    expect(after.commandHistory.edges).toMatchObject([{ node: { id: c.id } }]);
    const { applications } = await gqlData(app, Applications);
    expect(applications.map((a) => a.name)).not.toContain(name);
  });

  it('lets an OPERATOR manage applications and endpoints, invoke and re-run, but not manage keys', async () => {
    const operator = (await createApiKey(app, 'OPERATOR')).secret;
    const application = unique('op-app');
    const version = unique('op-v');
    await gqlData(app, CreateApplication, { name: application }, operator);
    await gqlData(app, CreateApplicationVersion, { applicationName: application, name: version }, operator);
    const { createEndpoint: ep } = await gqlData(app, CreateEndpoint, { applicationVersion: version }, operator);
    const { invokeCommand: c } = await gqlData(app, InvokeCommand, { input: { endpointId: ep.endpoint.id, commandType: 'reboot' } }, operator);
    const { rerunCommand: r } = await gqlData(app, RerunCommand, { id: c.id }, operator);
    expect(r.rerunOf).toEqual({ id: c.id });
    const history = await gqlData(app, CommandHistory, { endpointId: ep.endpoint.id }, operator);
    expect(history.commandHistory.edges.map((e) => e.node.id)).toEqual([r.id, c.id]);

    expect(codeOf(await gql(app, CreateApiKey, { name: unique('k'), role: 'VIEWER' }, operator))).toBe('FORBIDDEN');
    const target = await createApiKey(app, 'VIEWER');
    expect(codeOf(await gql(app, RevokeApiKey, { id: target.id }, operator))).toBe('FORBIDDEN');
    // The key the operator tried to revoke still works.
    expect((await gql(app, Applications, {}, target.secret)).errors).toBeUndefined();
  });

  it('lets a created ADMIN key manage keys', async () => {
    const admin = (await createApiKey(app, 'ADMIN')).secret;
    const { createApiKey: k } = await gqlData(app, CreateApiKey, { name: unique('k'), role: 'VIEWER' }, admin);
    expect(await gqlData(app, RevokeApiKey, { id: k.id }, admin)).toEqual({ revokeApiKey: true });
  });

  it('stops accepting a revoked key at once', async () => {
    const key = await createApiKey(app, 'OPERATOR');
    expect((await gql(app, Applications, {}, key.secret)).errors).toBeUndefined();

    expect(await revokeApiKey(app, key.id)).toBe(true);
    expect(codeOf(await gql(app, Applications, {}, key.secret))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gql(app, CreateApplication, { name: unique('revoked') }, key.secret))).toBe('UNAUTHENTICATED');
    const [row] = await rawQuery<{ revoked_at: Date | string | null }>('select revoked_at from api_keys where id = $1', [key.id]);
    expect(row!.revoked_at).not.toBeNull();

    // Revoking again, or an unknown key, is NOT_FOUND.
    expect(codeOf(await gql(app, RevokeApiKey, { id: key.id }))).toBe('NOT_FOUND');
  });

  it.each(['00000000-0000-0000-0000-000000000000', 'not-a-key-id', ''])('refuses to revoke the unknown key %j with NOT_FOUND', async (id) => {
    const res = await gql(app, RevokeApiKey, { id });
    expect(codeOf(res)).toBe('NOT_FOUND');
    expect(res.errors?.[0]?.message).toBe(`No active API key with id "${id}".`);
  });

  // Not a UUID, so never sent to the database (which would refuse it with an error, not NOT_FOUND).
  it('refuses to revoke a key id with characters around a valid one with NOT_FOUND', async () => {
    const key = await createApiKey(app, 'VIEWER');
    for (const id of [`x${key.id}`, `${key.id}x`]) expect(codeOf(await gql(app, RevokeApiKey, { id })), id).toBe('NOT_FOUND');
    expect((await gql(app, Applications, {}, key.secret)).errors).toBeUndefined();
  });

  it('answers viewer with the calling key, and lists keys for ADMIN only', async () => {
    const operator = await createApiKey(app, 'OPERATOR');
    expect(await gqlData(app, Viewer, {}, operator.secret)).toEqual({ viewer: { id: operator.id, name: operator.name, role: 'OPERATOR' } });
    expect(codeOf(await gql(app, Viewer, {}, null))).toBe('UNAUTHENTICATED');
    // The configured ADMIN_API_KEY has no stored key: it is named, and an ADMIN, by the server.
    expect(await gqlData(app, Viewer, {})).toEqual({ viewer: { id: 'env:ADMIN_API_KEY', name: 'ADMIN_API_KEY', role: 'ADMIN' } });
    expect(codeOf(await gql(app, ApiKeys, {}, operator.secret))).toBe('FORBIDDEN');
    const { apiKeys } = await gqlData(app, ApiKeys, {});
    expect(apiKeys.find((k) => k.id === operator.id)).toMatchObject({ name: operator.name, role: 'OPERATOR', revokedAt: null });
  });

  it('closes the graphql-ws socket of a revoked key with 4403 and ends its subscription', async () => {
    const key = await createApiKey(app, 'OPERATOR');
    const fx = await createEndpoint(app);
    let connections = 0;
    const closeCodes: number[] = [];
    const client = wsClient(app, key.secret, {
      on: { connected: () => void connections++, closed: (event) => void closeCodes.push((event as { code: number }).code) },
    });
    // A subscription held open keeps one socket (the client is lazy: it would reconnect, and
    // authenticate again, for every operation otherwise).
    const held = collect(client, CommandStatusChanged, { endpointId: fx.endpointId });
    // The ADMIN key's subscription to the same endpoint is the marker: once it has an event, the
    // revoked key's subscription would have had it too.
    const witnessClient = wsClient(app);
    const witness = collect(witnessClient, CommandStatusChanged, { endpointId: fx.endpointId });
    try {
      await untilSubscribed(held, () => invokeCommand(app, fx.endpointId, 'probe'));
      await untilSubscribed(witness, () => invokeCommand(app, fx.endpointId, 'probe'));
      const before = await wsExecute(client, InvokeCommand, { input: { endpointId: fx.endpointId, commandType: 'ws' } });
      expect(before.errors).toBeUndefined();
      expect(before.data?.invokeCommand.status).toBe('PENDING');
      expect(connections).toBe(1);

      await revokeApiKey(app, key.id);
      // Closed by the revocation itself, before the client sends anything else.
      await waitFor(() => closeCodes.includes(4403), 5_000, () => JSON.stringify(closeCodes));
      expect(held.errors.length).toBeGreaterThan(0);
      const seen = held.events.length;
      const later = await invokeCommand(app, fx.endpointId, 'after-revocation');
      await witness.waitFor((events) => events.some((e) => e.commandStatusChanged.id === later.id));
      expect(held.events.length).toBe(seen);

      const after = await wsExecute(client, InvokeCommand, { input: { endpointId: fx.endpointId, commandType: 'ws' } });
      expect(after.data?.invokeCommand ?? null).toBeNull();
      expect(after.errors?.length).toBeGreaterThan(0);
      const history = await commandHistory(app, fx.endpointId, { commandTypes: ['ws'] });
      expect(history.edges).toMatchObject([{ node: { id: before.data?.invokeCommand.id } }]);
    } finally {
      held.dispose();
      witness.dispose();
      await client.dispose();
      await witnessClient.dispose();
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
    const { apiKeys } = await gqlData(first, ApiKeys, {}, secret);
    expect(apiKeys).toMatchObject([{ name: 'bootstrap admin', role: 'ADMIN' }]);
    // Its creation is in the audit log, by no key (the server made it).
    const { auditLog } = await gqlData(first, BootstrapAudit, {}, secret);
    expect(auditLog.edges.map((e) => e.node)).toEqual([
      { action: 'API_KEY_CREATED', actor: null, target: { type: 'API_KEY', id: apiKeys[0]!.id }, input: { name: 'bootstrap admin', role: 'ADMIN' } },
    ]);

    // It is an ADMIN key (creating keys needs ADMIN); the test ADMIN_API_KEY is not configured here.
    const { createApiKey: k } = await gqlData(first, CreateApiKey, { name: unique('from-bootstrap'), role: 'VIEWER' }, secret);
    expect(k.role).toBe('VIEWER');
    expect(codeOf(await gql(first, Applications, {}, ADMIN_KEY))).toBe('UNAUTHENTICATED');
    // Already bootstrapped: asking again creates nothing.
    expect(await first.services.auth.bootstrap()).toBeNull();
    await first.stop();

    const second = boot(secrets);
    await second.start();
    expect(secrets).toHaveLength(1);
    expect(await db.countKeys()).toBe(2); // the bootstrap key and the VIEWER key made with it
    expect(await second.services.auth.bootstrap()).toBeNull();
    const res = await gqlData(second, CreateApiKey, { name: unique('again'), role: 'OPERATOR' }, secret);
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
      for (const a of apps) expect((await gql(a, Applications, {}, secrets[0]!)).errors).toBeUndefined();
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
      const { createApiKey: k } = await gqlData(a, CreateApiKey, { name: unique('first'), role: 'VIEWER' });
      expect(k.role).toBe('VIEWER');
      expect(await db.countKeys()).toBe(1);
    } finally {
      await a.stop();
      await db.drop();
    }
  });
});
