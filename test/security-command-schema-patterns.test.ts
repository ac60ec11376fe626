// Command schema patterns run on RE2 (linear time): a catastrophic pattern cannot stall the
// server, and patterns RE2 cannot run (backreferences, lookaround, too heavy) are refused when
// the schema is set, with their path.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint, setCommandSchema, validateCommand, type Fixture } from './support/api.ts';
import { gql, startApp } from './support/app.ts';
import { SetCommandSchema } from './support/documents.ts';

let app: App;
let fx: Fixture;
beforeAll(async () => {
  app = await startApp();
  fx = await createEndpoint(app);
});
afterAll(() => app.stop());

const objectWith = (properties: Record<string, unknown>, extra: Record<string, unknown> = {}) => ({
  type: 'object',
  properties,
  ...extra,
});

async function refusal(schema: unknown) {
  const res = await gql(app, SetCommandSchema, { applicationVersion: fx.appVersion, commandType: 'patterned', schema });
  expect(res.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  return res.errors?.[0]?.extensions?.validationErrors ?? [];
}

describe('command schema patterns', () => {
  it('match a catastrophic pattern in linear time', async () => {
    await setCommandSchema(app, fx.appVersion, 'catastrophic', objectWith({ s: { type: 'string', pattern: '^(a+)+$' } }));
    // A backtracking engine takes seconds for 26 characters, doubling per character.
    const started = Date.now();
    const result = await validateCommand(app, fx.endpointId, 'catastrophic', { s: `${'a'.repeat(26)}b` });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result.valid).toBe(false);
    expect(result.errors[0]?.path).toBe('/s');
    expect((await validateCommand(app, fx.endpointId, 'catastrophic', { s: 'a'.repeat(40) })).valid).toBe(true);
  });

  it('match patternProperties in linear time too', async () => {
    await setCommandSchema(app, fx.appVersion, 'keys', {
      type: 'object',
      patternProperties: { '^(a|aa)+$': { type: 'integer' } },
      additionalProperties: false,
    });
    const started = Date.now();
    const result = await validateCommand(app, fx.endpointId, 'keys', { [`${'a'.repeat(38)}b`]: 1 });
    expect(Date.now() - started).toBeLessThan(2_000);
    expect(result.valid).toBe(false);
  });

  it('refuses backreferences and lookaround with the reason and path', async () => {
    const errors = await refusal(
      objectWith(
        { s: { type: 'string', pattern: '(a)\\1' } },
        { patternProperties: { '^(?=x)': { type: 'string' } } },
      ),
    );
    expect(errors).toEqual(
      expect.arrayContaining([
        { path: '/properties/s/pattern', message: expect.stringMatching(/cannot be matched in linear time.*backreferences/) },
        { path: '/patternProperties/^(?=x)', message: expect.stringMatching(/cannot be matched in linear time/) },
      ]),
    );
  });

  it('refuses patterns too heavy for the engine', async () => {
    const errors = await refusal(objectWith({ s: { type: 'string', pattern: '^\\p{L}{10}$' } }));
    expect(errors).toEqual([{ path: '/properties/s/pattern', message: expect.stringContaining('too complex a pattern') }]);
    // Ordinary patterns are accepted.
    await setCommandSchema(
      app,
      fx.appVersion,
      'ordinary',
      objectWith({
        id: { type: 'string', pattern: '^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$' },
        name: { type: 'string', pattern: '^\\p{L}[\\w .-]*$' },
        mac: { type: 'string', pattern: '^([0-9A-F]{2}:){5}[0-9A-F]{2}$' },
      }),
    );
    const ok = await validateCommand(app, fx.endpointId, 'ordinary', { id: '0a1b2c3d-0000-4000-8000-00000000000f', name: 'Ête 2', mac: '00:1A:2B:3C:4D:5E' });
    expect(ok.valid).toBe(true);
    expect((await validateCommand(app, fx.endpointId, 'ordinary', { mac: '00:1A:2B' })).valid).toBe(false);
  });
});
