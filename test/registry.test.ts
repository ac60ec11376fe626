import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint, gql, gqlData, startApp, unique } from './support/app.ts';
import { rawQuery } from './support/db.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app.stop());

describe('applications and versions', () => {
  it('creates an application with a version and lists it', async () => {
    const name = unique('lights');
    const version = unique('lights-v');
    await gqlData(app, 'mutation($n: String!) { createApplication(name: $n) { id } }', { n: name });
    const created = await gqlData(
      app,
      'mutation($a: String!, $n: String!) { createApplicationVersion(applicationName: $a, name: $n) { name application { name } } }',
      { a: name, n: version },
    );
    expect(created.createApplicationVersion).toEqual({ name: version, application: { name } });
    const { applications } = await gqlData(app, '{ applications { name versions { name } } }');
    expect(applications).toContainEqual({ name, versions: [{ name: version }] });
  });

  it('refuses bad and duplicate names with a code', async () => {
    const bad = await gql(app, 'mutation { createApplication(name: "Bad Name") { id } }');
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(bad.errors?.[0]?.message).toMatch(/a-z, 0-9/);

    const name = unique('dup');
    await gqlData(app, 'mutation($n: String!) { createApplication(name: $n) { id } }', { n: name });
    const again = await gql(app, 'mutation($n: String!) { createApplication(name: $n) { id } }', { n: name });
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');

    const missing = await gql(app, 'mutation { createApplicationVersion(applicationName: "no-such-app", name: "x1") { id } }');
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('keeps application version names unique server-wide', async () => {
    const fx = await createEndpoint(app);
    const other = unique('other');
    await gqlData(app, 'mutation($n: String!) { createApplication(name: $n) { id } }', { n: other });
    const res = await gql(app, 'mutation($a: String!, $n: String!) { createApplicationVersion(applicationName: $a, name: $n) { id } }', {
      a: other,
      n: fx.appVersion,
    });
    expect(res.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });
});

describe('endpoints', () => {
  it('generates a token that is shown once and stored only as a hash', async () => {
    const fx = await createEndpoint(app);
    expect(fx.token).toMatch(/^[A-Za-z0-9_-]{16,128}$/);
    const rows = await rawQuery('select * from endpoints where id = $1', [fx.endpointId]);
    expect(rows).toHaveLength(1);
    expect(JSON.stringify(rows)).not.toContain(fx.token);
    const { endpoint } = await gqlData(app, 'query($id: ID!) { endpoint(id: $id) { id applicationVersion { name } } }', {
      id: fx.endpointId,
    });
    expect(endpoint).toEqual({ id: fx.endpointId, applicationVersion: { name: fx.appVersion } });
  });

  it('accepts an operator-chosen token and refuses a reused one', async () => {
    const token = unique('my-device');
    const fx = await createEndpoint(app, { token });
    expect(fx.token).toBe(token);
    const res = await gql(app, 'mutation($v: String!, $t: String) { createEndpoint(applicationVersion: $v, token: $t) { token } }', {
      v: fx.appVersion,
      t: token,
    });
    expect(res.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  it.each(['a+b', 'a#b', 'a/b', 'a.b', 'a b', '', 'x'.repeat(129)])('refuses the token %j', async (token) => {
    const fx = await createEndpoint(app);
    const res = await gql(app, 'mutation($v: String!, $t: String) { createEndpoint(applicationVersion: $v, token: $t) { token } }', {
      v: fx.appVersion,
      t: token,
    });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.extensions?.field).toBe('token');
  });

  it('returns null for an unknown endpoint and NOT_FOUND for an unknown version', async () => {
    const none = await gqlData(app, '{ endpoint(id: "00000000-0000-0000-0000-000000000000") { id } }');
    expect(none.endpoint).toBeNull();
    const res = await gql(app, 'mutation { createEndpoint(applicationVersion: "no-such-version") { token } }');
    expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
