// The GraphQL additions the operator console needs (console-api.md): viewer, the endpoints and
// fleet-wide commands connections, API keys, application details, renaming and token rotation.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import {
  apiKeys,
  applicationVersion,
  commands,
  createApiKey,
  createApplication,
  createApplicationVersion,
  createEndpoint,
  endpointById,
  endpoints,
  invokeCommand,
  removeCommandSchema,
  renameEndpoint,
  revokeApiKey,
  revokeEndpoint,
  rotateEndpointToken,
  setCommandSchema,
  viewer,
  type Fixture,
} from './support/api.ts';
import { gql, gqlData, startApp, unique, waitFor, type GqlResponse } from './support/app.ts';
import { rawQuery } from './support/db.ts';
import {
  ApiKeys,
  ApplicationVersion,
  Commands,
  CommandSchemaHistory,
  Endpoints,
  RenameEndpoint,
  RotateEndpointToken,
  Viewer,
} from './support/documents.ts';
import { closeDevices, connectDevice, kp1Topic } from './support/mqtt.ts';

let app: App;
let viewerKey: string;
let operatorKey: string;
beforeAll(async () => {
  app = await startApp();
  viewerKey = (await createApiKey(app, 'VIEWER')).secret;
  operatorKey = (await createApiKey(app, 'OPERATOR')).secret;
});
afterEach(() => closeDevices());
afterAll(() => app?.stop());

const codeOf = (res: GqlResponse<unknown>) => res.errors?.[0]?.extensions?.code;

async function application(versions = 1): Promise<{ name: string; versions: string[] }> {
  const name = unique('app');
  await createApplication(app, name);
  const names: string[] = [];
  for (let i = 0; i < versions; i++) {
    const v = unique('v');
    await createApplicationVersion(app, name, v);
    names.push(v);
  }
  return { name, versions: names };
}

async function endpoint(appVersion: string, name: string | null): Promise<Fixture & { name: string | null }> {
  return { ...(await createEndpoint(app, { appVersion, name })), name };
}

interface Page<N> {
  edges: { node: N }[];
  pageInfo: { hasNextPage: boolean; endCursor?: string | null };
}

/** Every page of a connection, following endCursor. */
async function allPages<V, N>(
  list: (app: App, variables: V & { first: number; after: string | null }) => Promise<Page<N>>,
  variables: NoInfer<V>,
  first: number,
): Promise<N[]> {
  const nodes: N[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 100; pages++) {
    const page: Page<N> = await list(app, { ...variables, first, after });
    expect(page.edges.length).toBeLessThanOrEqual(first);
    nodes.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return nodes;
    after = page.pageInfo.endCursor ?? null;
  }
  throw new Error('more than 100 pages');
}

describe('viewer', () => {
  it('tells who is signed in, with which role; without a key it is UNAUTHENTICATED', async () => {
    expect(await viewer(app)).toEqual({
      id: 'env:ADMIN_API_KEY',
      name: 'ADMIN_API_KEY',
      role: 'ADMIN',
    });
    expect((await gqlData(app, Viewer, {}, viewerKey)).viewer.role).toBe('VIEWER');
    expect(codeOf(await gql(app, Viewer, {}, null))).toBe('UNAUTHENTICATED');
    expect(codeOf(await gql(app, Viewer, {}, 'cex_not-a-key'))).toBe('UNAUTHENTICATED');
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

    const all = await allPages(endpoints, { application: a.name }, 2);
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
    expect((await allPages(endpoints, { application: a.name }, 1)).map((n) => n.id)).toEqual(all.map((n) => n.id));

    const inVersion = await allPages(endpoints, { applicationVersion: a.versions[1] }, 100);
    expect(inVersion.map((n) => n.id).sort()).toEqual(made.filter((_, i) => i % 2 === 1).map((m) => m.endpointId).sort());
    expect(inVersion.every((n) => n.applicationVersion.name === a.versions[1])).toBe(true);
    // Filters combine with AND: a version of another application matches nothing.
    expect((await endpoints(app, { application: a.name, applicationVersion: other.versions[0] })).edges).toEqual([]);

    const lamps = await allPages(endpoints, { application: a.name, search: 'LAMP' }, 100);
    expect(lamps.map((n) => n.name).sort()).toEqual(['Kitchen lamp', 'hall lamp']);
    // % and _ are plain characters in a search, not wildcards.
    const percent = await allPages(endpoints, { application: a.name, search: '0%_' }, 100);
    expect(percent.map((n) => n.name)).toEqual(['attic 50%_fan']);
    expect((await endpoints(app, { application: a.name, search: '%' })).edges).toHaveLength(1);
    expect((await endpoints(app, { application: a.name, search: 'a_t' })).edges).toHaveLength(0);
    expect((await gqlData(app, Endpoints, {}, viewerKey)).endpoints.edges.length).toBeGreaterThan(0);
  });

  it('refuses bad input with a code', async () => {
    expect(codeOf(await gql(app, Endpoints, { first: 101 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, Endpoints, { first: -1 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, Endpoints, { after: 'bm9wZQ' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, Endpoints, { after: Buffer.from('command:5').toString('base64url') }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, Endpoints, { search: 'x'.repeat(201) }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, Endpoints, { application: unique('nope') }))).toBe('NOT_FOUND');
    expect(codeOf(await gql(app, Endpoints, { applicationVersion: unique('nope') }))).toBe('NOT_FOUND');
    expect(codeOf(await gql(app, Endpoints, {}, null))).toBe('UNAUTHENTICATED');
  });
});

describe('commands (fleet-wide)', () => {
  it('pages newest first across the versions of an application, and filters by version, endpoint, type, status, time', async () => {
    const a = await application(2);
    const e1 = await endpoint(a.versions[0]!, 'one');
    const e2 = await endpoint(a.versions[1]!, 'two');
    const elsewhere = await createEndpoint(app);
    const ids: string[] = [];
    for (let i = 0; i < 7; i++) {
      ids.push((await invokeCommand(app, (i % 2 ? e2 : e1).endpointId, i % 3 ? 'reboot' : 'zero', { i })).id);
      await invokeCommand(app, elsewhere.endpointId, 'reboot');
    }
    await app.services.commands.recordResults(e1.endpointId, 'zero', [{ id: Number(ids[0]), statusCode: 200 }]);
    const newestFirst = [...ids].reverse();

    const byApp = await allPages(commands, { filter: { application: a.name } }, 3);
    expect(byApp.map((c) => c.id)).toEqual(newestFirst);

    const byVersion = await allPages(commands, { filter: { applicationVersion: a.versions[1] } }, 2);
    const ofE2 = newestFirst.filter((id) => ids.indexOf(id) % 2 === 1);
    expect(byVersion.map((c) => c.id)).toEqual(ofE2);
    expect(byVersion.every((c) => c.endpoint.id === e2.endpointId)).toBe(true);

    const byEndpoint = await allPages(commands, { filter: { endpointId: e1.endpointId } }, 100);
    expect(byEndpoint.map((c) => c.id)).toEqual(newestFirst.filter((id) => ids.indexOf(id) % 2 === 0));
    // AND: the endpoint is not in the other application's version.
    expect(await allPages(commands, { filter: { endpointId: e1.endpointId, applicationVersion: a.versions[1] } }, 100)).toEqual([]);

    const zeros = await allPages(commands, { filter: { application: a.name, commandTypes: ['zero'] } }, 100);
    expect(zeros.map((c) => c.id)).toEqual(newestFirst.filter((id) => ids.indexOf(id) % 3 === 0));
    const executed = await allPages(commands, { filter: { application: a.name, statuses: ['EXECUTED'] } }, 100);
    expect(executed.map((c) => c.id)).toEqual([ids[0]]);

    const [created] = await rawQuery<{ at: Date }>('select created_at as at from commands where id = $1', [Number(ids[3])]);
    const at = new Date(created!.at);
    const before = await allPages(commands, { filter: { application: a.name, createdBefore: at.toISOString() } }, 100);
    expect(before.map((c) => c.id)).toEqual(newestFirst.filter((id) => Number(id) < Number(ids[3])));
    const after = await allPages(commands, { filter: { application: a.name, createdAfter: at.toISOString() } }, 100);
    expect(after.map((c) => c.id)).toContain(ids[3]);
    expect(after.every((c) => Number(c.id) >= Number(ids[3]))).toBe(true);

    const unfiltered = await gqlData(app, Commands, { first: 5 }, viewerKey);
    expect(unfiltered.commands.edges).toHaveLength(5);
    const ordered = unfiltered.commands.edges.map((e) => Number(e.node.id));
    expect(ordered).toEqual([...ordered].sort((x, y) => y - x));
  });

  it('refuses bad input with a code', async () => {
    expect(codeOf(await gql(app, Commands, { first: 101 }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, Commands, { after: 'x' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, Commands, { filter: { commandTypes: ['no spaces'] } }))).toBe('BAD_USER_INPUT');
    // GraphQL itself refuses values outside the enum (as for commandHistory).
    // @ts-expect-error DONE is no CommandStatus: the request is sent to be refused.
    expect((await gql(app, Commands, { filter: { statuses: ['DONE'] } })).errors?.[0]?.message).toMatch(/DONE/);
    expect(codeOf(await gql(app, Commands, { filter: { createdAfter: 'yesterday' } }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, Commands, { filter: { endpointId: 'nope' } }))).toBe('NOT_FOUND');
    expect(codeOf(await gql(app, Commands, { filter: { application: unique('nope') } }))).toBe('NOT_FOUND');
    expect(codeOf(await gql(app, Commands, {}, null))).toBe('UNAUTHENTICATED');
  });
});

describe('API keys and applications', () => {
  it('lists every API key newest first, revoked ones included, to ADMIN only', async () => {
    const key = await createApiKey(app, 'VIEWER');
    await revokeApiKey(app, key.id);
    const newer = await createApiKey(app, 'OPERATOR');
    const keys = await apiKeys(app);
    const revoked = keys.findIndex((k) => k.id === key.id);
    expect(keys[revoked]!.revokedAt).not.toBeNull();
    expect(keys.findIndex((k) => k.id === newer.id)).toBeLessThan(revoked);
    expect(JSON.stringify(keys)).not.toContain(newer.secret);
    expect(codeOf(await gql(app, ApiKeys, {}, operatorKey))).toBe('FORBIDDEN');
  });

  it('finds an application version by name, shows createdAt, and the history of a command schema', async () => {
    const a = await application(1);
    const version = a.versions[0]!;
    await setCommandSchema(app, version, 'dim', { type: 'object', title: 'one' });
    await setCommandSchema(app, version, 'dim', { type: 'object', title: 'two' });
    await removeCommandSchema(app, version, 'dim');
    await setCommandSchema(app, version, 'dim', { type: 'object', title: 'four' });
    const found = (await gqlData(app, ApplicationVersion, { name: version }, viewerKey)).applicationVersion;
    expect(found?.name).toBe(version);
    expect(found?.application.name).toBe(a.name);
    expect(Date.now() - Date.parse(found!.application.createdAt)).toBeLessThan(60_000);
    const history = (await gqlData(app, CommandSchemaHistory, { applicationVersion: version, commandType: 'dim' }, viewerKey))
      .applicationVersion?.commandSchemaHistory;
    expect(history?.map((s) => [s.version, (s.schema as { title: string }).title])).toEqual([
      [4, 'four'],
      [2, 'two'],
      [1, 'one'],
    ]);
    expect(await applicationVersion(app, unique('nope'))).toBeNull();
    expect(codeOf(await gql(app, CommandSchemaHistory, { applicationVersion: version, commandType: 'bad type' }))).toBe('BAD_USER_INPUT');
  });
});

describe('renameEndpoint', () => {
  it('sets and clears the name; VIEWER may not; bad input has a code', async () => {
    const fx = await createEndpoint(app);
    const renamed = await gqlData(app, RenameEndpoint, { endpointId: fx.endpointId, name: '  porch light ' }, operatorKey);
    expect(renamed.renameEndpoint.name).toBe('porch light');
    expect((await endpointById(app, fx.endpointId))?.name).toBe('porch light');
    expect((await renameEndpoint(app, fx.endpointId, null)).name).toBeNull();
    expect(codeOf(await gql(app, RenameEndpoint, { endpointId: fx.endpointId, name: 'x' }, viewerKey))).toBe('FORBIDDEN');
    expect(codeOf(await gql(app, RenameEndpoint, { endpointId: fx.endpointId, name: 'x'.repeat(201) }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, RenameEndpoint, { endpointId: '00000000-0000-0000-0000-000000000000', name: 'x' }))).toBe('NOT_FOUND');
    expect(codeOf(await gql(app, RenameEndpoint, { endpointId: 'nope', name: 'x' }))).toBe('NOT_FOUND');
  });
});

describe('rotateEndpointToken', () => {
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

      const byOperator = await gqlData(app, RotateEndpointToken, { endpointId: fx.endpointId, token: null }, operatorKey);
      const rotated = byOperator.rotateEndpointToken;
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
      expect((await rotateEndpointToken(app, fx.endpointId, chosen)).token).toBe(chosen);
      expect(await poll(other, { ...fx, token: chosen })).toBe(200);
    } finally {
      await other.stop();
    }
  });

  it('refuses a token in use, a bad token, a revoked endpoint and a VIEWER, with codes', async () => {
    const fx = await createEndpoint(app);
    const taken = await createEndpoint(app, { appVersion: fx.appVersion });
    expect(codeOf(await gql(app, RotateEndpointToken, { endpointId: fx.endpointId, token: taken.token }))).toBe('CONFLICT');
    expect(codeOf(await gql(app, RotateEndpointToken, { endpointId: fx.endpointId, token: 'a/b' }))).toBe('BAD_USER_INPUT');
    expect(codeOf(await gql(app, RotateEndpointToken, { endpointId: fx.endpointId, token: null }, viewerKey))).toBe('FORBIDDEN');
    expect(codeOf(await gql(app, RotateEndpointToken, { endpointId: 'nope', token: null }))).toBe('NOT_FOUND');
    await revokeEndpoint(app, fx.endpointId);
    expect(codeOf(await gql(app, RotateEndpointToken, { endpointId: fx.endpointId, token: null }))).toBe('BAD_USER_INPUT');
    expect(await poll(app, fx)).toBe(401);
  });
});
