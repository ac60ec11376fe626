// The GraphQL additions the operator console needs (console-api.md): viewer, the endpoints and
// fleet-wide commands connections, API keys, application details, renaming and token rotation.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import {
  createApiKey,
  createEndpoint,
  gql,
  gqlData,
  invoke,
  startApp,
  unique,
  waitFor,
  type Fixture,
} from './support/app.ts';
import { closeDevices, connectDevice, kp1Topic } from './support/mqtt.ts';
import { rawQuery } from './support/db.ts';

let app: App;
let viewer: string;
let operator: string;
beforeAll(async () => {
  app = await startApp();
  viewer = (await createApiKey(app, 'VIEWER')).secret;
  operator = (await createApiKey(app, 'OPERATOR')).secret;
});
afterEach(() => closeDevices());
afterAll(() => app?.stop());

const codeOf = (res: { errors?: { extensions?: Record<string, any> }[] }) => res.errors?.[0]?.extensions?.['code'];

async function application(versions = 1): Promise<{ name: string; versions: string[] }> {
  const name = unique('app');
  await gqlData(app, 'mutation($n: String!) { createApplication(name: $n) { id } }', { n: name });
  const names: string[] = [];
  for (let i = 0; i < versions; i++) {
    const v = unique('v');
    await gqlData(app, 'mutation($a: String!, $n: String!) { createApplicationVersion(applicationName: $a, name: $n) { id } }', {
      a: name,
      n: v,
    });
    names.push(v);
  }
  return { name, versions: names };
}

async function endpoint(appVersion: string, name: string | null): Promise<Fixture & { name: string | null }> {
  const data = await gqlData(
    app,
    'mutation($v: String!, $n: String) { createEndpoint(applicationVersion: $v, name: $n) { endpoint { id } token } }',
    { v: appVersion, n: name },
  );
  return { application: '', appVersion, endpointId: data.createEndpoint.endpoint.id, token: data.createEndpoint.token, name };
}

const ENDPOINTS = `query($a: String, $v: String, $s: String, $first: Int, $after: String) {
  endpoints(application: $a, applicationVersion: $v, search: $s, first: $first, after: $after) {
    edges { cursor node { id name lastSeenAt connected applicationVersion { name } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

/** Every page of a connection query, following endCursor. */
async function allPages(query: string, field: string, variables: Record<string, unknown>, first: number): Promise<any[]> {
  const nodes: any[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const data: Record<string, any> = await gqlData(app, query, { ...variables, first, after });
    const page = data[field];
    expect(page.edges.length).toBeLessThanOrEqual(first);
    nodes.push(...page.edges.map((e: any) => e.node));
    if (!page.pageInfo.hasNextPage) return nodes;
    after = page.pageInfo.endCursor;
  }
  throw new Error('more than 100 pages');
}

describe('viewer', () => {
  it('tells who is signed in, with which role; without a key it is UNAUTHENTICATED', async () => {
    expect((await gqlData(app, '{ viewer { id name role } }')).viewer).toEqual({
      id: 'env:ADMIN_API_KEY',
      name: 'ADMIN_API_KEY',
      role: 'ADMIN',
    });
    expect((await gqlData(app, '{ viewer { role } }', {}, viewer)).viewer.role).toBe('VIEWER');
    expect(codeOf(await gql(app, '{ viewer { role } }', {}, null))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gql(app, '{ viewer { role } }', {}, 'cex_not-a-key'))).toBe('UNAUTHENTICATED');
  });
});

describe('endpoints', () => {
  it('lists by name (unnamed last) then id, filters by application and version, searches names, pages', async () => {
    const a = await application(2);
    const other = await application(1);
    const names = ['Kitchen lamp', 'hall lamp', 'Garage door', null, 'attic 50%_fan', null, null, 'porch', null];
    const made = [];
    for (const [i, name] of names.entries()) made.push(await endpoint(a.versions[i % 2]!, name));
    await endpoint(other.versions[0]!, 'Kitchen lamp elsewhere');

    const all = await allPages(ENDPOINTS, 'endpoints', { a: a.name }, 2);
    const sortKey = (n: string | null) => n ?? '\uffff';
    const expected = [...made].sort((x, y) =>
      sortKey(x.name) === sortKey(y.name) ? (x.endpointId < y.endpointId ? -1 : 1) : sortKey(x.name) < sortKey(y.name) ? -1 : 1,
    );
    // PostgreSQL's collation decides the order of names; unnamed ones come last, by id.
    expect(all.map((n) => n.id).sort()).toEqual(made.map((m) => m.endpointId).sort());
    expect(all.slice(-4).map((n) => n.id)).toEqual(expected.slice(-4).map((m) => m.endpointId));
    expect(all.slice(-4).every((n) => n.name === null)).toBe(true);
    expect(all[0]).toMatchObject({ lastSeenAt: null, connected: false });
    // One by one, so that cursors of unnamed endpoints are followed too.
    expect((await allPages(ENDPOINTS, 'endpoints', { a: a.name }, 1)).map((n) => n.id)).toEqual(all.map((n) => n.id));

    const inVersion = await allPages(ENDPOINTS, 'endpoints', { v: a.versions[1] }, 100);
    expect(inVersion.map((n) => n.id).sort()).toEqual(made.filter((_, i) => i % 2 === 1).map((m) => m.endpointId).sort());
    expect(inVersion.every((n) => n.applicationVersion.name === a.versions[1])).toBe(true);
    // Filters combine with AND: a version of another application matches nothing.
    expect((await gqlData(app, ENDPOINTS, { a: a.name, v: other.versions[0] })).endpoints.edges).toEqual([]);

    const lamps = await allPages(ENDPOINTS, 'endpoints', { a: a.name, s: 'LAMP' }, 100);
    expect(lamps.map((n) => n.name).sort()).toEqual(['Kitchen lamp', 'hall lamp']);
    // % and _ are plain characters in a search, not wildcards.
    const percent = await allPages(ENDPOINTS, 'endpoints', { a: a.name, s: '0%_' }, 100);
    expect(percent.map((n) => n.name)).toEqual(['attic 50%_fan']);
    expect((await gqlData(app, ENDPOINTS, { a: a.name, s: '%' })).endpoints.edges).toHaveLength(1);
    expect((await gqlData(app, ENDPOINTS, { a: a.name, s: 'a_t' })).endpoints.edges).toHaveLength(0);
    expect((await gqlData(app, ENDPOINTS, {}, viewer)).endpoints.edges.length).toBeGreaterThan(0);
  });

  it('refuses bad input with a code', async () => {
    expect(codeOf(await gql(app, ENDPOINTS, { first: 101 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, ENDPOINTS, { first: -1 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, ENDPOINTS, { after: 'bm9wZQ' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, ENDPOINTS, { after: Buffer.from('command:5').toString('base64url') }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, ENDPOINTS, { s: 'x'.repeat(201) }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, ENDPOINTS, { a: unique('nope') }))).toBe('NOT_FOUND');
    expect(codeOf(await gql(app, ENDPOINTS, { v: unique('nope') }))).toBe('NOT_FOUND');
    expect(codeOf(await gql(app, ENDPOINTS, {}, null))).toBe('UNAUTHENTICATED');
  });
});

const COMMANDS = `query($f: CommandFilter, $first: Int, $after: String) {
  commands(filter: $f, first: $first, after: $after) {
    edges { cursor node { id commandType status endpoint { id } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

describe('commands (fleet-wide)', () => {
  it('pages newest first across the versions of an application, and filters by version, endpoint, type, status, time', async () => {
    const a = await application(2);
    const e1 = await endpoint(a.versions[0]!, 'one');
    const e2 = await endpoint(a.versions[1]!, 'two');
    const elsewhere = await createEndpoint(app);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push((await invoke(app, (i % 2 ? e2 : e1).endpointId, i % 3 ? 'reboot' : 'zero', { i })).id);
      await invoke(app, elsewhere.endpointId, 'reboot');
    }
    await app.services.commands.recordResults(e1.endpointId, 'zero', [{ id: Number(ids[0]), statusCode: 200 }]);
    const newestFirst = [...ids].reverse();

    const byApp = await allPages(COMMANDS, 'commands', { f: { application: a.name } }, 3);
    expect(byApp.map((c) => c.id)).toEqual(newestFirst);

    const byVersion = await allPages(COMMANDS, 'commands', { f: { applicationVersion: a.versions[1] } }, 2);
    const ofE2 = newestFirst.filter((id) => ids.indexOf(id) % 2 === 1);
    expect(byVersion.map((c) => c.id)).toEqual(ofE2);
    expect(byVersion.every((c) => c.endpoint.id === e2.endpointId)).toBe(true);

    const byEndpoint = await allPages(COMMANDS, 'commands', { f: { endpointId: e1.endpointId } }, 100);
    expect(byEndpoint.map((c) => c.id)).toEqual(newestFirst.filter((id) => ids.indexOf(id) % 2 === 0));
    // AND: the endpoint is not in the other application's version.
    expect(await allPages(COMMANDS, 'commands', { f: { endpointId: e1.endpointId, applicationVersion: a.versions[1] } }, 100)).toEqual([]);

    const zeros = await allPages(COMMANDS, 'commands', { f: { application: a.name, commandTypes: ['zero'] } }, 100);
    expect(zeros.map((c) => c.id)).toEqual(newestFirst.filter((id) => ids.indexOf(id) % 3 === 0));
    const executed = await allPages(COMMANDS, 'commands', { f: { application: a.name, statuses: ['EXECUTED'] } }, 100);
    expect(executed.map((c) => c.id)).toEqual([ids[0]]);

    const [created] = await rawQuery<{ at: Date }>('select created_at as at from commands where id = $1', [Number(ids[3])]);
    const at = new Date(created!.at);
    const before = await allPages(COMMANDS, 'commands', { f: { application: a.name, createdBefore: at.toISOString() } }, 100);
    expect(before.map((c) => c.id)).toEqual(newestFirst.filter((id) => Number(id) < Number(ids[3])));
    const after = await allPages(COMMANDS, 'commands', { f: { application: a.name, createdAfter: at.toISOString() } }, 100);
    expect(after.map((c) => c.id)).toContain(ids[3]);
    expect(after.every((c) => Number(c.id) >= Number(ids[3]))).toBe(true);

    const unfiltered = await gqlData(app, COMMANDS, { first: 5 }, viewer);
    expect(unfiltered.commands.edges).toHaveLength(5);
    const ordered = unfiltered.commands.edges.map((e: any) => Number(e.node.id));
    expect(ordered).toEqual([...ordered].sort((x, y) => y - x));
  });

  it('refuses bad input with a code', async () => {
    expect(codeOf(await gql(app, COMMANDS, { first: 101 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, COMMANDS, { after: 'x' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, COMMANDS, { f: { commandTypes: ['no spaces'] } }))).toBe('BAD_USER_INPUT');
    // GraphQL itself refuses values outside the enum (as for commandHistory).
    expect((await gql(app, COMMANDS, { f: { statuses: ['DONE'] } })).errors?.[0]?.message).toMatch(/DONE/);
    expect(codeOf(await gql(app, COMMANDS, { f: { createdAfter: 'yesterday' } }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, COMMANDS, { f: { endpointId: 'nope' } }))).toBe('NOT_FOUND');
    expect(codeOf(await gql(app, COMMANDS, { f: { application: unique('nope') } }))).toBe('NOT_FOUND');
    expect(codeOf(await gql(app, COMMANDS, {}, null))).toBe('UNAUTHENTICATED');
  });
});

describe('API keys and applications', () => {
  it('lists every API key newest first, revoked ones included, to ADMIN only', async () => {
    const key = await createApiKey(app, 'VIEWER');
    await gqlData(app, 'mutation($id: ID!) { revokeApiKey(id: $id) }', { id: key.id });
    const newer = await createApiKey(app, 'OPERATOR');
    const keys = (await gqlData(app, '{ apiKeys { id name role createdAt revokedAt } }')).apiKeys;
    const revoked = keys.findIndex((k: any) => k.id === key.id);
    expect(keys[revoked].revokedAt).not.toBeNull();
    expect(keys.findIndex((k: any) => k.id === newer.id)).toBeLessThan(revoked);
    expect(JSON.stringify(keys)).not.toContain(newer.secret);
    expect(codeOf(await gql(app, '{ apiKeys { id } }', {}, operator))).toBe('FORBIDDEN');
  });

  it('finds an application version by name, shows createdAt, and the history of a command schema', async () => {
    const a = await application(1);
    const version = a.versions[0]!;
    const q = `query($n: String!, $t: String!) { applicationVersion(name: $n) { name application { name createdAt }
      commandSchemaHistory(commandType: $t) { version schema } } }`;
    const set = (schema: unknown) =>
      gqlData(app, 'mutation($v: String!, $s: JSON!) { setCommandSchema(applicationVersion: $v, commandType: "dim", schema: $s) { version } }', {
        v: version,
        s: schema,
      });
    await set({ type: 'object', title: 'one' });
    await set({ type: 'object', title: 'two' });
    await gqlData(app, 'mutation($v: String!) { removeCommandSchema(applicationVersion: $v, commandType: "dim") }', { v: version });
    await set({ type: 'object', title: 'four' });
    const found = (await gqlData(app, q, { n: version, t: 'dim' }, viewer)).applicationVersion;
    expect(found.name).toBe(version);
    expect(found.application.name).toBe(a.name);
    expect(Date.now() - Date.parse(found.application.createdAt)).toBeLessThan(60_000);
    expect(found.commandSchemaHistory.map((s: any) => [s.version, s.schema.title])).toEqual([
      [4, 'four'],
      [2, 'two'],
      [1, 'one'],
    ]);
    expect((await gqlData(app, q, { n: unique('nope'), t: 'dim' })).applicationVersion).toBeNull();
    expect(codeOf(await gql(app, q, { n: version, t: 'bad type' }))).toBe('BAD_USER_INPUT');
  });
});

describe('renameEndpoint', () => {
  it('sets and clears the name; VIEWER may not; bad input has a code', async () => {
    const fx = await createEndpoint(app);
    const rename = 'mutation($id: ID!, $n: String) { renameEndpoint(endpointId: $id, name: $n) { id name } }';
    expect((await gqlData(app, rename, { id: fx.endpointId, n: '  porch light ' }, operator)).renameEndpoint.name).toBe('porch light');
    expect((await gqlData(app, 'query($id: ID!) { endpoint(id: $id) { name } }', { id: fx.endpointId })).endpoint.name).toBe('porch light');
    expect((await gqlData(app, rename, { id: fx.endpointId, n: null })).renameEndpoint.name).toBeNull();
    expect(codeOf(await gql(app, rename, { id: fx.endpointId, n: 'x' }, viewer))).toBe('FORBIDDEN');
    expect(codeOf(await gql(app, rename, { id: fx.endpointId, n: 'x'.repeat(201) }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, rename, { id: '00000000-0000-0000-0000-000000000000', n: 'x' }))).toBe('NOT_FOUND');
    expect(codeOf(await gql(app, rename, { id: 'nope', n: 'x' }))).toBe('NOT_FOUND');
  });
});

describe('rotateEndpointToken', () => {
  const ROTATE = 'mutation($id: ID!, $t: String) { rotateEndpointToken(endpointId: $id, token: $t) { endpoint { id } token } }';
  const poll = (target: App, fx: Pick<Fixture, 'appVersion' | 'token'>) =>
    fetch(`${target.url}/kp1/${fx.appVersion}/cex/${fx.token}/command/x`, { method: 'POST', body: '{}' }).then((r) => r.status);

  it('replaces the token: the old one stops working at once in every process, sessions are closed', async () => {
    const other = await startApp();
    try {
      const fx = await createEndpoint(app);
      const device = await connectDevice(app);
      expect((await device.request(kp1Topic(fx, 'cex', 'command/x'), '{}')).kind).toBe('status');
      // Both processes have the old token in their lookup caches now.
      expect(await poll(app, fx)).toBe(200);
      expect(await poll(other, fx)).toBe(200);

      const rotated = (await gqlData(app, ROTATE, { id: fx.endpointId, t: null }, operator)).rotateEndpointToken;
      expect(rotated.endpoint.id).toBe(fx.endpointId);
      expect(rotated.token).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]+$/);
      expect(await poll(app, fx)).toBe(401);
      await waitFor(() => device.closed, 5_000, () => 'the session of the old token is still open');
      // Well within the cache's lifetime (2 s): the event, not expiry, dropped the old token.
      const deadline = Date.now() + 1_000;
      while ((await poll(other, fx)) !== 401) {
        expect(Date.now()).toBeLessThan(deadline);
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await poll(app, { ...fx, token: rotated.token })).toBe(200);
      expect(await poll(other, { ...fx, token: rotated.token })).toBe(200);

      const chosen = unique('tok');
      expect((await gqlData(app, ROTATE, { id: fx.endpointId, t: chosen })).rotateEndpointToken.token).toBe(chosen);
      expect(await poll(other, { ...fx, token: chosen })).toBe(200);
    } finally {
      await other.stop();
    }
  });

  it('refuses a token in use, a bad token, a revoked endpoint and a VIEWER, with codes', async () => {
    const fx = await createEndpoint(app);
    const taken = await createEndpoint(app, { appVersion: fx.appVersion });
    expect(codeOf(await gql(app, ROTATE, { id: fx.endpointId, t: taken.token }))).toBe('CONFLICT');
    expect(codeOf(await gql(app, ROTATE, { id: fx.endpointId, t: 'a/b' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, ROTATE, { id: fx.endpointId, t: null }, viewer))).toBe('FORBIDDEN');
    expect(codeOf(await gql(app, ROTATE, { id: 'nope', t: null }))).toBe('NOT_FOUND');
    await gqlData(app, 'mutation($id: ID!) { revokeEndpoint(endpointId: $id) { id } }', { id: fx.endpointId });
    expect(codeOf(await gql(app, ROTATE, { id: fx.endpointId, t: null }))).toBe('BAD_USER_INPUT');
    expect(await poll(app, fx)).toBe(401);
  });
});
