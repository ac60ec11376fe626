// schema.graphql is printed from the code; it must not drift, every part of the schema is
// described (introspection tooling shows the descriptions), and the public contract's names of
// docs/api.md exist.
import { readFileSync } from 'node:fs';
import {
  getNamedType,
  isEnumType,
  isInputObjectType,
  isInterfaceType,
  isObjectType,
  isScalarType,
  isSpecifiedScalarType,
  isUnionType,
  type GraphQLNamedType,
} from 'graphql';
import { describe, expect, it } from 'vitest';
import { schema } from '../src/graphql/schema.ts';
import { SCHEMA_FILE, TYPED_SCHEMA_FILE, printSchemaFile, printTypedSchemaFile } from '../scripts/schema-files.ts';

describe('schema.graphql', () => {
  it('equals the schema printed from the code (run `npm run schema` after changing types)', () => {
    expect(printSchemaFile()).toBe(readFileSync(SCHEMA_FILE, 'utf8'));
  });

  it('graphql-env.d.ts, which types the documents of the console and the tests, is printed from the same schema', () => {
    expect(printTypedSchemaFile()).toBe(readFileSync(TYPED_SCHEMA_FILE, 'utf8'));
  });
});

/** Everything in the schema that should carry a description, as "Type.field(arg)" paths. */
function undescribed(): string[] {
  const missing: string[] = [];
  const need = (path: string, description: string | null | undefined) => {
    if (!description?.trim()) missing.push(path);
  };
  for (const type of Object.values(schema.getTypeMap()) as GraphQLNamedType[]) {
    if (type.name.startsWith('__') || (isScalarType(type) && isSpecifiedScalarType(type))) continue;
    need(type.name, type.description);
    if (isObjectType(type) || isInterfaceType(type)) {
      for (const field of Object.values(type.getFields())) {
        need(`${type.name}.${field.name}`, field.description);
        for (const arg of field.args) need(`${type.name}.${field.name}(${arg.name})`, arg.description);
      }
    } else if (isInputObjectType(type)) {
      for (const field of Object.values(type.getFields())) need(`${type.name}.${field.name}`, field.description);
    } else if (isEnumType(type)) {
      for (const value of type.getValues()) need(`${type.name}.${value.name}`, value.description);
    } else if (isUnionType(type)) {
      // described above; members are types of their own
    }
  }
  return missing;
}

describe('descriptions', () => {
  it('describes every type, field, argument, enum value and input field', () => {
    expect(undescribed()).toEqual([]);
  });

  it('walks the whole schema (the check above looked at something)', () => {
    const named = Object.keys(schema.getTypeMap()).filter((n) => !n.startsWith('__'));
    expect(named.length).toBeGreaterThan(15);
    expect(named).toContain('InvokeCommandInput');
    expect(named).toContain('CommandStatus');
  });
});

// The public contract (api.md): name → fields (and for root fields, argument names).
const CONTRACT: Record<string, Record<string, string[]>> = {
  Query: {
    applications: [],
    endpoint: ['id'],
    command: ['id'],
    commandHistory: ['endpointId', 'commandTypes', 'statuses', 'delivered', 'first', 'after'],
  },
  Mutation: {
    createApplication: ['name'],
    createApplicationVersion: ['applicationName', 'name'],
    createEndpoint: ['applicationVersion', 'name', 'token'],
    invokeCommand: ['input'],
    rerunCommand: ['id', 'retentionSeconds', 'idempotencyKey'],
    cancelCommand: ['id'],
    createApiKey: ['name', 'role'],
    revokeApiKey: ['id'],
  },
  Subscription: {
    commandStatusChanged: ['endpointId', 'commandId'],
    telemetryReceived: ['endpointId'],
  },
  Application: { id: [], name: [], versions: [] },
  ApplicationVersion: { id: [], name: [], application: [] },
  Endpoint: { id: [], name: [], applicationVersion: [], createdAt: [], telemetry: ['last'] },
  TelemetrySample: { endpoint: [], timestamp: [], receivedAt: [], data: [] },
  Command: {
    id: [],
    endpoint: [],
    commandType: [],
    payload: [],
    status: [],
    statusCode: [],
    reasonPhrase: [],
    resultPayload: [],
    createdAt: [],
    updatedAt: [],
    expiresAt: [],
    executedAt: [],
    rerunOf: [],
    invokedBy: [],
    canceledAt: [],
    canceledBy: [],
    expiredAt: [],
    deliveredAt: [],
    deliveryCount: [],
    lastDeliveredVia: [],
    events: [],
  },
  CommandEvent: { type: [], at: [], cause: [] },
  CommandEventCause: { kind: [], invoker: [], via: [], endpoint: [] },
  Invoker: { door: [], apiKeyId: [], name: [] },
  CommandConnection: { edges: [], pageInfo: [] },
  CommandEdge: { cursor: [], node: [] },
  PageInfo: { hasNextPage: [], endCursor: [] },
  CreateEndpointPayload: { endpoint: [], token: [] },
  CreateApiKeyPayload: { id: [], name: [], role: [], secret: [] },
};

describe('the public contract of api.md', () => {
  it.each(Object.keys(CONTRACT))('has %s with its fields and arguments', (typeName) => {
    const type = schema.getType(typeName);
    expect(type && isObjectType(type), `${typeName} is an object type`).toBe(true);
    if (!type || !isObjectType(type)) return;
    const fields = type.getFields();
    for (const [field, args] of Object.entries(CONTRACT[typeName]!)) {
      expect(fields[field], `${typeName}.${field}`).toBeDefined();
      const have = fields[field]!.args.map((a) => a.name);
      for (const arg of args) expect(have, `${typeName}.${field}(${arg})`).toContain(arg);
    }
  });

  it('has the input, enums and scalars with their members', () => {
    const input = schema.getType('InvokeCommandInput');
    expect(input && isInputObjectType(input)).toBe(true);
    if (input && isInputObjectType(input)) {
      expect(Object.keys(input.getFields())).toEqual(
        expect.arrayContaining(['commandType', 'endpointId', 'payload', 'retentionSeconds', 'idempotencyKey']),
      );
      expect(String(input.getFields()['endpointId']!.type)).toBe('ID!');
      expect(String(input.getFields()['retentionSeconds']!.type)).toBe('Int');
    }
    const enumValues = (name: string) => {
      const t = schema.getType(name);
      return t && isEnumType(t) ? t.getValues().map((v) => v.name).sort() : [];
    };
    expect(enumValues('CommandStatus')).toEqual(['CANCELED', 'EXECUTED', 'EXPIRED', 'PENDING']);
    expect(enumValues('Door')).toEqual(['GRAPHQL', 'REST']);
    expect(enumValues('ApiKeyRole')).toEqual(['ADMIN', 'OPERATOR', 'VIEWER']);
    for (const scalar of ['JSON', 'DateTime']) expect(isScalarType(schema.getType(scalar))).toBe(true);
  });

  it('keeps the nullability of the abridged SDL', () => {
    const fieldType = (type: string, field: string) => {
      const t = schema.getType(type);
      return t && isObjectType(t) ? String(t.getFields()[field]?.type) : undefined;
    };
    expect(fieldType('Command', 'id')).toBe('ID!');
    expect(fieldType('Command', 'status')).toBe('CommandStatus!');
    expect(fieldType('Command', 'payload')).toBe('JSON');
    expect(fieldType('Command', 'statusCode')).toBe('Int');
    expect(fieldType('Command', 'executedAt')).toBe('DateTime');
    expect(fieldType('Command', 'rerunOf')).toBe('Command');
    expect(fieldType('Query', 'command')).toBe('Command');
    expect(fieldType('Query', 'commandHistory')).toBe('CommandConnection!');
    expect(fieldType('Mutation', 'invokeCommand')).toBe('Command!');
    expect(fieldType('Mutation', 'revokeApiKey')).toBe('Boolean!');
    expect(fieldType('Subscription', 'commandStatusChanged')).toBe('Command!');
    expect(fieldType('PageInfo', 'endCursor')).toBe('String');
    const history = (schema.getType('Query') as any).getFields().commandHistory;
    const first = history.args.find((a: any) => a.name === 'first');
    expect(first.defaultValue).toBe(20);
    expect(String(history.args.find((a: any) => a.name === 'endpointId').type)).toBe('ID!');
    expect(String(getNamedType(history.args.find((a: any) => a.name === 'statuses').type))).toBe('CommandStatus');
  });
});
