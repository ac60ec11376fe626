import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { applications, createApplication, createApplicationVersion, createEndpoint, endpointById } from './support/api.ts';
import { gql, startApp, unique } from './support/app.ts';
import { rawQuery } from './support/db.ts';
import { CreateApplication, CreateApplicationVersion, CreateEndpoint } from './support/documents.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app.stop());

describe('applications and versions', () => {
  it('creates an application with a version and lists it', async () => {
    const name = unique('lights');
    const version = unique('lights-v');
    await createApplication(app, name);
    const created = await createApplicationVersion(app, name, version);
    expect(created).toMatchObject({ name: version, application: { name } });
    expect(await applications(app)).toContainEqual(expect.objectContaining({ name, versions: [{ name: version }] }));
  });

  it('refuses bad and duplicate names with a code', async () => {
    const bad = await gql(app, CreateApplication, { name: 'Bad Name' });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(bad.errors?.[0]?.message).toMatch(/a-z, 0-9/);

    const name = unique('dup');
    await createApplication(app, name);
    const again = await gql(app, CreateApplication, { name });
    expect(again.errors?.[0]?.extensions?.code).toBe('CONFLICT');

    const missing = await gql(app, CreateApplicationVersion, { applicationName: 'no-such-app', name: 'x1' });
    expect(missing.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });

  it('keeps application version names unique server-wide', async () => {
    const fx = await createEndpoint(app);
    const other = unique('other');
    await createApplication(app, other);
    const res = await gql(app, CreateApplicationVersion, { applicationName: other, name: fx.appVersion });
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
    expect(await endpointById(app, fx.endpointId)).toMatchObject({ id: fx.endpointId, applicationVersion: { name: fx.appVersion } });
  });

  it('accepts an operator-chosen token and refuses a reused one', async () => {
    const token = unique('my-device');
    const fx = await createEndpoint(app, { token });
    expect(fx.token).toBe(token);
    const res = await gql(app, CreateEndpoint, { applicationVersion: fx.appVersion, token });
    expect(res.errors?.[0]?.extensions?.code).toBe('CONFLICT');
  });

  it.each(['a+b', 'a#b', 'a/b', 'a.b', 'a b', '', 'x'.repeat(129)])('refuses the token %j', async (token) => {
    const fx = await createEndpoint(app);
    const res = await gql(app, CreateEndpoint, { applicationVersion: fx.appVersion, token });
    expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
    expect(res.errors?.[0]?.extensions?.field).toBe('token');
  });

  it('returns null for an unknown endpoint and NOT_FOUND for an unknown version', async () => {
    expect(await endpointById(app, '00000000-0000-0000-0000-000000000000')).toBeNull();
    const res = await gql(app, CreateEndpoint, { applicationVersion: 'no-such-version' });
    expect(res.errors?.[0]?.extensions?.code).toBe('NOT_FOUND');
  });
});
