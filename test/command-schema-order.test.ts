// A command schema reads back with its author's key order: the schema editor shows the text as
// written, and form fields follow the schema's property order (not the database's).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint, setCommandSchema, type Fixture } from './support/api.ts';
import { gqlData, startApp } from './support/app.ts';
import { graphql } from '../src/graphql/typed.ts';

// Neither alphabetical nor jsonb's order (shorter keys first), at every level.
const schema = {
  type: 'object',
  title: 'Irrigation valve',
  properties: {
    zone: { type: 'string', title: 'Zone' },
    duration_s: { type: 'integer', minimum: 1 },
    mode: { type: 'string', enum: ['timed', 'manual'] },
    schedule: {
      type: 'object',
      properties: { start: { type: 'string' }, at: { type: 'string' }, repeat_daily: { type: 'boolean' } },
    },
    a: { type: 'number' },
  },
  required: ['zone', 'mode'],
  if: { properties: { mode: { const: 'timed' } }, required: ['mode'] },
  then: { required: ['duration_s'] },
  additionalProperties: false,
};

const SchemaReads = graphql(`
  query SchemaOrderReads($name: String!, $commandType: String!) {
    applicationVersion(name: $name) {
      commandSchemas { commandType schema fields { name fields { name } } }
      commandSchemaHistory(commandType: $commandType) { schema }
    }
  }
`);

const reads = async () => {
  const { applicationVersion } = await gqlData(app, SchemaReads, { name: fx.appVersion, commandType: 'water' });
  return { current: applicationVersion!.commandSchemas.find((s) => s.commandType === 'water')!, history: applicationVersion!.commandSchemaHistory };
};

let app: App;
let fx: Fixture;
beforeAll(async () => {
  app = await startApp();
  fx = await createEndpoint(app);
});
afterAll(() => app.stop());

describe('command schema key order', () => {
  it('keeps the key order of the schema as set, in every read', async () => {
    const saved = await setCommandSchema(app, fx.appVersion, 'water', schema);
    const { current, history } = await reads();
    for (const read of [saved.schema, current.schema, history[0]!.schema]) expect(JSON.stringify(read)).toBe(JSON.stringify(schema));
  });

  it('lists form fields in the order of the schema properties, nested ones too', async () => {
    const { current } = await reads();
    expect(current.fields.map((f) => f.name)).toEqual(['zone', 'duration_s', 'mode', 'schedule', 'a']);
    expect(current.fields.find((f) => f.name === 'schedule')!.fields!.map((f) => f.name)).toEqual(['start', 'at', 'repeat_daily']);
  });
});
