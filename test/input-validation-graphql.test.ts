// Operator input the database cannot store or should never see (issue 12 item 7): every string
// argument of the schema refuses NUL and lone surrogates, every list argument is capped, JSON
// arguments are checked for depth without recursion, all as BAD_USER_INPUT naming the field; and
// the log of a real database failure carries no SQL parameters.
import {
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLInputType,
  getNamedType,
  isEnumType,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
} from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { MAX_ITEMS, MAX_LIST_ARGUMENT_ITEMS, MAX_STRING_ARGUMENT_LENGTH } from '../src/graphql/arguments.ts';
import { schema } from '../src/graphql/schema.ts';
import { createEndpoint } from './support/api.ts';
import { ADMIN_KEY, gql, unique, type GqlError } from './support/app.ts';
import { rawQuery } from './support/db.ts';
import { startLoggedApp } from './support/security.ts';

let app: App;
let logText: () => string;

beforeAll(async () => {
  const logged = await startLoggedApp({}, 'info');
  app = logged.app;
  logText = logged.text;
});
afterAll(() => app?.stop());

type Kind = 'query' | 'mutation' | 'subscription';
/** A place in an argument's value: the path of input fields and list items leading to it. */
/** `maxItems`: the list limit of the input field the slot is in (its MAX_ITEMS extension, or the default). */
type Slot = { path: (string | number)[]; type: GraphQLInputType; field: string; maxItems: number };

/** Every leaf of `type` that `pick` selects, reached through input objects and list items. */
function slots(
  type: GraphQLInputType,
  pick: (t: GraphQLInputType) => boolean,
  path: (string | number)[],
  field: string,
  maxItems = MAX_LIST_ARGUMENT_ITEMS,
): Slot[] {
  if (isNonNullType(type)) return slots(type.ofType, pick, path, field, maxItems);
  const here = pick(type) ? [{ path, type, field, maxItems }] : [];
  if (isListType(type)) return [...here, ...slots(type.ofType, pick, [...path, 0], field)];
  if (isInputObjectType(type)) {
    return [
      ...here,
      ...Object.values(type.getFields()).flatMap((f) =>
        slots(f.type, pick, [...path, f.name], f.name, (f.extensions[MAX_ITEMS] as number | undefined) ?? MAX_LIST_ARGUMENT_ITEMS),
      ),
    ];
  }
  return here;
}

/** A value graphql-js accepts for `type` (required parts filled in, optional ones left out). */
function sample(type: GraphQLInputType): unknown {
  if (isNonNullType(type)) return sample(type.ofType);
  if (isListType(type)) return [];
  if (isInputObjectType(type)) {
    const fields = Object.values(type.getFields()).filter((f) => isNonNullType(f.type));
    return Object.fromEntries(fields.map((f) => [f.name, sample(f.type)]));
  }
  if (isEnumType(type)) return type.getValues()[0]!.name; // variables take the name (an enum may map it to an internal value)
  if (isScalarType(type)) {
    return { Int: 1, Float: 1, Boolean: false, JSON: {}, DateTime: '2024-01-01T00:00:00Z' }[type.name] ?? 'x';
  }
  throw new Error(`no sample for ${String(type)}`);
}

/** `sample(type)` with `leaf` placed at `path` (intermediate lists and objects made as needed). */
function withLeaf(type: GraphQLInputType, path: (string | number)[], leaf: unknown): unknown {
  if (path.length === 0) return leaf;
  const root = sample(type) as Record<string | number, unknown>;
  let node = root;
  path.forEach((key, i) => {
    if (i === path.length - 1) node[key] = leaf;
    else node = (node[key] ??= typeof path[i + 1] === 'number' ? [] : {}) as Record<string | number, unknown>;
  });
  return root;
}

interface Case {
  name: string;
  kind: Kind;
  query: string;
  variables: Record<string, unknown>;
  field: string;
}

/** One request per slot of every root field's arguments, with `leaf` at the slot. */
function casesFor(pick: (t: GraphQLInputType) => boolean, leaf: (slot: Slot) => unknown): Case[] {
  const roots: [Kind, ReturnType<typeof schema.getQueryType>][] = [
    ['query', schema.getQueryType()],
    ['mutation', schema.getMutationType()],
    ['subscription', schema.getSubscriptionType()],
  ];
  const cases: Case[] = [];
  for (const [kind, root] of roots) {
    for (const field of Object.values(root!.getFields()) as GraphQLField<unknown, unknown>[]) {
      for (const target of field.args) {
        for (const slot of slots(target.type, pick, [], target.name)) {
          const args = field.args.filter((a: GraphQLArgument) => a === target || isNonNullType(a.type));
          const variables = Object.fromEntries(
            args.map((a) => [a.name, a === target ? withLeaf(a.type, slot.path, leaf(slot)) : sample(a.type)]),
          );
          const declared = args.map((a) => `$${a.name}: ${String(a.type)}`).join(', ');
          const passed = args.map((a) => `${a.name}: $${a.name}`).join(', ');
          const selection = isObjectType(getNamedType(field.type)) ? '{ __typename }' : '';
          cases.push({
            name: `${field.name}(${[target.name, ...slot.path].join('.')})`,
            kind,
            query: `${kind} (${declared}) { ${field.name}(${passed}) ${selection} }`,
            variables,
            field: slot.field,
          });
        }
      }
    }
  }
  return cases;
}

/** Stands for DEEP_JSON in variables: the test's own JSON.stringify cannot write 5,000 levels. */
const DEEP_MARKER = '<5000 levels>';
const DEEP_JSON = '{"a":'.repeat(5000) + '1' + '}'.repeat(5000);

/** The errors of a request, over SSE for subscriptions (a refused one answers and ends). */
async function errorsOf(c: Case): Promise<GqlError[]> {
  const sse = c.kind === 'subscription';
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: sse ? 'text/event-stream' : 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({ query: c.query, variables: c.variables }).replace(JSON.stringify(DEEP_MARKER), DEEP_JSON),
    signal: AbortSignal.timeout(10_000),
  });
  const text = await res.text();
  const bodies = sse ? text.split('\n').filter((l) => /^data:\s*\{/.test(l)).map((l) => l.slice(5)) : [text];
  return bodies.flatMap((b) => (JSON.parse(b) as { errors?: GqlError[] }).errors ?? []);
}

const isText = (t: GraphQLInputType) => isScalarType(t) && (t.name === 'String' || t.name === 'ID');
const isList = (t: GraphQLInputType) => isListType(t);
const isJson = (t: GraphQLInputType) => isScalarType(t) && t.name === 'JSON';

function expectRefused(errors: GqlError[], c: Case, message: RegExp): void {
  expect(errors, c.name).toHaveLength(1);
  expect(errors[0], c.name).toMatchObject({ message: expect.stringMatching(message), extensions: { code: 'BAD_USER_INPUT', field: c.field } });
}

describe('every string argument of the schema', () => {
  const nul = casesFor(isText, () => 'a\u0000b');
  const surrogate = casesFor(isText, () => 'a\ud800b');
  const long = casesFor(isText, () => 'x'.repeat(MAX_STRING_ARGUMENT_LENGTH + 1));

  it('the walk finds the arguments of the issue (endpoint and API key names, list items, input fields)', () => {
    const names = nul.map((c) => c.name);
    for (const name of ['createEndpoint(name)', 'createApiKey(name)', 'commandHistory(commandTypes.0)', 'invokeCommand(input.commandType)', 'commands(filter.commandTypes.0)', 'endpoints(search)', 'telemetryReceived(endpointId)']) {
      expect(names).toContain(name);
    }
    expect(nul.length).toBeGreaterThan(40);
  });

  it('refuses NUL (\\u0000) as BAD_USER_INPUT naming the field', async () => {
    for (const c of nul) expectRefused(await errorsOf(c), c, /NUL/);
  });

  it('refuses a lone surrogate as BAD_USER_INPUT naming the field', async () => {
    for (const c of surrogate) expectRefused(await errorsOf(c), c, /surrogate/);
  });

  it(`refuses more than ${MAX_STRING_ARGUMENT_LENGTH} characters, and takes ${MAX_STRING_ARGUMENT_LENGTH}`, async () => {
    for (const c of long) expectRefused(await errorsOf(c), c, new RegExp(`at most ${MAX_STRING_ARGUMENT_LENGTH}`));
    const res = await gql(app, 'query($n: String!) { applicationVersion(name: $n) { id } }', { n: 'x'.repeat(MAX_STRING_ARGUMENT_LENGTH) });
    expect(res.errors).toBeUndefined();
    expect(res.data).toEqual({ applicationVersion: null });
  });
});

describe('arguments of fields below the root', () => {
  it('are checked too: commandSchemaHistory(commandType:) of a version', async () => {
    const fx = await createEndpoint(app);
    const query = 'query($v: String!, $t: String!) { applicationVersion(name: $v) { commandSchemaHistory(commandType: $t) { version } } }';
    const res = await gql(app, query, { v: fx.appVersion, t: 'a\u0000' });
    // The central check answers, before the domain's own rule for command types would.
    expect(res.errors?.[0]).toMatchObject({
      message: '"commandType" contains a NUL character (\\u0000).',
      path: ['applicationVersion', 'commandSchemaHistory'],
      extensions: { code: 'BAD_USER_INPUT', field: 'commandType' },
    });
  });
});

describe('every list argument of the schema', () => {
  it(`refuses more than ${MAX_LIST_ARGUMENT_ITEMS} items as BAD_USER_INPUT naming the field`, async () => {
    const cases = casesFor(isList, (slot) => {
      const list = (isNonNullType(slot.type) ? slot.type.ofType : slot.type) as { ofType: GraphQLInputType };
      return Array.from({ length: slot.maxItems + 1 }, () => sample(list.ofType));
    });
    expect(cases.map((c) => c.name)).toEqual(expect.arrayContaining(['commandHistory(commandTypes)', 'commands(filter.commandTypes)']));
    expect(cases.map((c) => c.name)).toContain('invokeCommands(input.target.endpointIds)');
    for (const c of cases) expectRefused(await errorsOf(c), c, /at most (100|10000) are allowed/);
  });

  it('answers 200,000 command types at once with BAD_USER_INPUT, not a database error', async () => {
    const fx = await createEndpoint(app);
    const commandTypes = Array.from({ length: 200_000 }, () => 'x');
    const res = await gql(app, 'query($e: ID!, $t: [String!]) { commandHistory(endpointId: $e, commandTypes: $t) { edges { cursor } } }', {
      e: fx.endpointId,
      t: commandTypes,
    });
    expect(res.errors?.[0]?.extensions).toEqual({ code: 'BAD_USER_INPUT', field: 'commandTypes' });
    const fine = await gql(app, 'query($e: ID!, $t: [String!]) { commandHistory(endpointId: $e, commandTypes: $t) { edges { cursor } } }', {
      e: fx.endpointId,
      t: commandTypes.slice(0, MAX_LIST_ARGUMENT_ITEMS),
    });
    expect(fine.errors).toBeUndefined();
  });
});

describe('JSON arguments', () => {
  it('refuses 5,000 levels of nesting in every JSON argument as BAD_USER_INPUT naming the field', async () => {
    const cases = casesFor(isJson, () => DEEP_MARKER);
    expect(cases.map((c) => c.name)).toEqual(expect.arrayContaining(['invokeCommand(input.payload)', 'setCommandSchema(schema)', 'validateCommand(payload)']));
    for (const c of cases) expectRefused(await errorsOf(c), c, /deeper than 100 levels/);
  });

  it('refuses NUL and lone surrogates inside a JSON payload, keys included', async () => {
    const fx = await createEndpoint(app);
    const invoke = 'mutation($i: InvokeCommandInput!) { invokeCommand(input: $i) { id } }';
    for (const payload of [{ s: 'a\u0000' }, { ['k\u0000']: 1 }, ['\udfff']]) {
      const res = await gql(app, invoke, { i: { endpointId: fx.endpointId, commandType: 'x', payload } });
      expect(res.errors?.[0]).toMatchObject({ message: expect.stringMatching(/input\.payload/), extensions: { code: 'BAD_USER_INPUT', field: 'payload' } });
    }
    const fine = await gql(app, invoke, { i: { endpointId: fx.endpointId, commandType: 'x', payload: { s: 'fine 😀', deep: JSON.parse('['.repeat(99) + ']'.repeat(99)) } } });
    expect(fine.errors).toBeUndefined();
  });
});

describe('DateTime arguments', () => {
  it('refuses instants the database cannot compare against, and takes the extremes it can', async () => {
    const query = 'query($f: CommandFilter) { commands(filter: $f) { edges { cursor } } }';
    for (const at of ['0000-01-01T00:00:00Z', '0000-12-31T23:59:59+23:59']) {
      const res = await gql(app, query, { f: { createdAfter: at } });
      expect(res.errors?.[0]).toMatchObject({ message: expect.stringMatching(/0001-01-01 to 9999-12-31/), extensions: { code: 'BAD_USER_INPUT' } });
    }
    for (const at of ['0001-01-01T00:00:00Z', '9999-12-31T23:59:59.999Z']) {
      expect((await gql(app, query, { f: { createdAfter: at, createdBefore: at } })).errors).toBeUndefined();
    }
  });
});

describe('the log of a database failure', () => {
  it('has no SQL parameters: neither the secret hash nor the name of a refused API key', async () => {
    const name = unique('refused-key');
    const constraint = unique('test_check').replaceAll('-', '_');
    // A CHECK the service knows nothing about: a real database error the service does not expect.
    await rawQuery(`alter table api_keys add constraint ${constraint} check (name is distinct from '${name}') not valid`);
    try {
      const res = await gql(app, 'mutation($n: String!) { createApiKey(name: $n, role: VIEWER) { secret } }', { n: name });
      expect(res.errors).toEqual([expect.objectContaining({ message: 'Unexpected error.', extensions: { code: 'INTERNAL_SERVER_ERROR' } })]);
    } finally {
      await rawQuery(`alter table api_keys drop constraint ${constraint}`);
    }
    const lines = logText().split('\n').filter((l) => l.includes(constraint));
    expect(lines.length).toBeGreaterThan(0);
    for (const line of lines) {
      expect(line).not.toContain(name);
      expect(line).not.toMatch(/[0-9a-f]{64}/); // a SHA-256 hex digest
      expect(line).not.toMatch(/params|parameters/);
      expect(line.length).toBeLessThan(4000);
    }
  });
});
