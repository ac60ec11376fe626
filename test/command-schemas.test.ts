import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import {
  commandSchemas,
  createApiKey,
  createEndpoint,
  invokeCommand,
  removeCommandSchema,
  rerunCommand,
  setCommandSchema,
  validateCommand,
  type Fixture,
} from './support/api.ts';
import { gql, startApp } from './support/app.ts';
import { rawQuery } from './support/db.ts';
import { InvokeCommand, SetCommandSchema } from './support/documents.ts';
import { lightControllerSchema } from './support/fixtures.ts';

const dimmingSchema = lightControllerSchema;


let app: App;
let fx: Fixture;
beforeAll(async () => {
  app = await startApp();
  fx = await createEndpoint(app);
  await setCommandSchema(app, fx.appVersion, 'dimming', dimmingSchema);
});
afterAll(() => app.stop());

/** A dimming command that the schema may refuse. */
const attempt = (payload: unknown) => gql(app, InvokeCommand, { input: { endpointId: fx.endpointId, commandType: 'dimming', payload } });
const dimming = (payload: unknown) => invokeCommand(app, fx.endpointId, 'dimming', payload);

async function pendingCount(endpointId: string): Promise<number> {
  const rows = await rawQuery<{ n: string | number }>('select count(*) as n from commands where endpoint_id = $1', [endpointId]);
  return Number(rows[0]!.n);
}

describe('the LoRaWAN dimming example', () => {
  it('stores and delivers exactly the composed payload', async () => {
    const command = await dimming({ priority: 'NORMAL', output_mode: 'blinking', dimming: 50, period_s: 5 });
    expect(JSON.stringify(command.payload)).toBe(
      '{"f_port":60,"priority":"NORMAL","confirmed":"false","command":"dimming","output_mode":"blinking","dimming":50,"period_s":5}',
    );
    expect(command.schemaVersion).toBe(1);
    // What a device receives is what was stored.
    const poll = await fetch(`${app.url}/kp1/${fx.appVersion}/cex/${fx.token}/command/dimming`, { method: 'POST', body: '{}' });
    const delivered = (await poll.json()) as { id: number; payload: unknown }[];
    expect(delivered.find((c) => String(c.id) === command.id)?.payload).toEqual(command.payload);
  });

  it('fills in the default priority LOW', async () => {
    const command = await dimming({ output_mode: 'on', dimming: 10 });
    expect(command.payload).toEqual({
      f_port: 60,
      priority: 'LOW',
      confirmed: 'false',
      command: 'dimming',
      output_mode: 'on',
      dimming: 10,
    });
  });

  it.each([
    [{ priority: 'NORMAL', output_mode: 'blinking', dimming: 50 }, '/period_s', /required when output_mode is blinking/],
    [{ output_mode: 'on', dimming: 150 }, '/dimming', /<= 100/],
    [{ output_mode: 'strobe', dimming: 50 }, '/output_mode', /off, on, blinking/],
    [{ output_mode: 'on', dimming: 5, f_port: 61 }, '/f_port', /60/],
  ])('refuses %j at %s and stores nothing', async (payload, path, message) => {
    const before = await pendingCount(fx.endpointId);
    const res = await attempt(payload);
    expect(res.data).toBeNull();
    const error = res.errors![0]!;
    expect(error.extensions!.code).toBe('BAD_USER_INPUT');
    const fault = error.extensions!.validationErrors!.find((e) => e.path === path);
    expect(fault?.message).toMatch(message);
    expect(await pendingCount(fx.endpointId)).toBe(before);
  });

  it('reports every violation at once', async () => {
    const res = await attempt({ output_mode: 'strobe', dimming: 150, f_port: 1 });
    const paths = res.errors![0]!.extensions!.validationErrors!.map((e) => e.path).sort();
    expect(paths).toEqual(['/dimming', '/f_port', '/output_mode']);
  });
});

describe('schema versions', () => {
  it('refuses an invalid schema with ajv reasons and keeps the current one', async () => {
    const res = await gql(app, SetCommandSchema, {
      applicationVersion: fx.appVersion,
      commandType: 'dimming',
      schema: { type: 'object', properties: { a: { type: 'nope' } } },
    });
    expect(res.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(res.errors![0]!.extensions!.validationErrors!.length).toBeGreaterThan(0);
    expect(res.errors![0]!.extensions!.validationErrors![0]!.path).toContain('/properties/a');
    const validation = await validateCommand(app, fx.endpointId, 'dimming', { output_mode: 'on', dimming: 1 });
    expect(validation.valid).toBe(true);
  });

  it('increments the version, lists current schemas, records the version on commands, and re-runs against the current one', async () => {
    const own = await createEndpoint(app);
    const v1 = await setCommandSchema(app, own.appVersion, 'light', { type: 'object', properties: { on: { type: 'boolean' } } });
    expect(v1.version).toBe(1);
    const first = await invokeCommand(app, own.endpointId, 'light', { on: true });
    expect(first.schemaVersion).toBe(1);

    const v2 = await setCommandSchema(app, own.appVersion, 'light', {
      type: 'object',
      properties: { on: { type: 'boolean' }, level: { type: 'integer', default: 7 } },
    });
    expect(v2.version).toBe(2);
    const rerun = await rerunCommand(app, first.id);
    expect(rerun).toEqual(expect.objectContaining({ payload: { on: true, level: 7 }, schemaVersion: 2 }));

    expect(await commandSchemas(app, own.endpointId)).toMatchObject([{ commandType: 'light', version: 2 }]);
    const stored = await rawQuery<{ version: number }>(
      `select s.version from command_schemas s join application_versions v on v.id = s.application_version_id
       where v.name = $1 and s.command_type = 'light' order by s.version`,
      [own.appVersion],
    );
    expect(stored.map((r) => r.version)).toEqual([1, 2]);
  });

  it('removes a schema: the type accepts any JSON again', async () => {
    const own = await createEndpoint(app);
    await setCommandSchema(app, own.appVersion, 'strict', { type: 'object', additionalProperties: false });
    const refused = await gql(app, InvokeCommand, { input: { endpointId: own.endpointId, commandType: 'strict', payload: { x: 1 } } });
    expect(refused.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(await removeCommandSchema(app, own.appVersion, 'strict')).toBe(true);
    const accepted = await invokeCommand(app, own.endpointId, 'strict', [1, 'any']);
    expect(accepted).toMatchObject({ payload: [1, 'any'], schemaVersion: null });
    expect(await removeCommandSchema(app, own.appVersion, 'strict')).toBe(false);
  });

  it('needs OPERATOR to set a schema and an existing application version', async () => {
    const key = await createApiKey(app, 'VIEWER', 'viewer');
    const res = await gql(app, SetCommandSchema, { applicationVersion: fx.appVersion, commandType: 'x', schema: { type: 'object' } }, key.secret);
    expect(res.errors![0]!.extensions!.code).toBe('FORBIDDEN');
    const missing = await gql(app, SetCommandSchema, { applicationVersion: 'no-such-version', commandType: 'x', schema: { type: 'object' } });
    expect(missing.errors![0]!.extensions!.code).toBe('NOT_FOUND');
  });
});

describe('conditional rules and formats', () => {
  it('applies dependentRequired and formats', async () => {
    const own = await createEndpoint(app);
    await setCommandSchema(app, own.appVersion, 'notify', {
      type: 'object',
      properties: { email: { type: 'string', format: 'email' }, at: { type: 'string', format: 'date-time' }, cc: { type: 'string' } },
      dependentRequired: { cc: ['email'] },
    });
    const bad = await gql(app, InvokeCommand, {
      input: { endpointId: own.endpointId, commandType: 'notify', payload: { cc: 'x', at: 'tomorrow' } },
    });
    const paths = bad.errors![0]!.extensions!.validationErrors!.map((e) => e.path).sort();
    expect(paths).toEqual(['/at', '/email']);
    const ok = await invokeCommand(app, own.endpointId, 'notify', { cc: 'x', email: 'a@b.example', at: '2026-01-01T00:00:00Z' });
    expect(ok.schemaVersion).toBe(1);
  });
});

describe('validateCommand and form fields', () => {
  it('returns the composed payload or the errors without creating anything', async () => {
    const before = await pendingCount(fx.endpointId);
    const good = await validateCommand(app, fx.endpointId, 'dimming', { output_mode: 'off', dimming: 0 });
    expect(good).toEqual({
      valid: true,
      payload: { f_port: 60, priority: 'LOW', confirmed: 'false', command: 'dimming', output_mode: 'off', dimming: 0 },
      errors: [],
    });
    const bad = await validateCommand(app, fx.endpointId, 'dimming', { output_mode: 'blinking', dimming: 0 });
    expect(bad.valid).toBe(false);
    expect(bad.payload).toBeNull();
    expect(bad.errors).toEqual([{ path: '/period_s', message: expect.stringMatching(/required/) }]);
    expect(await pendingCount(fx.endpointId)).toBe(before);
  });

  it('describes the form: types, allowed values, defaults, fixed values and requirements', async () => {
    const [schema] = await commandSchemas(app, fx.endpointId);
    const byName = Object.fromEntries(schema!.fields.map((f) => [f.name, f]));
    expect(byName.f_port).toMatchObject({ type: ['number'], fixed: true, value: 60, required: true });
    expect(byName.priority).toMatchObject({
      allowedValues: ['LOWEST', 'LOW', 'NORMAL', 'HIGH', 'HIGHEST'],
      default: 'LOW',
      fixed: false,
      required: true,
    });
    expect(byName.dimming).toMatchObject({ minimum: 0, maximum: 100, required: true });
    expect(byName.period_s).toMatchObject({ required: false, minimum: 1, maximum: 255 });
    expect(byName.period_s!.requiredWhen.join(' ')).toMatch(/output_mode is blinking/);
  });
});
