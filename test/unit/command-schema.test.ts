import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  COMMAND_SCHEMA_DIALECT,
  CommandSchemaCache,
  InvalidCommandSchemaError,
  checkSchema,
  compileCommandSchema,
  composePayload,
  formFields,
  type CompiledCommandSchema,
} from '../../src/domain/command-schema.ts';
import { lightControllerSchema } from '../support/fixtures.ts';

const lightController = lightControllerSchema;

function compile(schema: unknown): CompiledCommandSchema {
  const result = compileCommandSchema(schema);
  if (!result.ok) throw new Error(`schema refused: ${JSON.stringify(result.errors)}`);
  return result.compiled;
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

const byPath = (a: { path: string; message: string }, b: { path: string; message: string }) =>
  a.path === b.path ? a.message.localeCompare(b.message) : a.path.localeCompare(b.path);

describe('the LoRaWAN light controller example', () => {
  const light = compile(lightController);

  it('fills the constants and keeps what the operator chose, in schema order', () => {
    const result = composePayload(light, { priority: 'NORMAL', output_mode: 'blinking', dimming: 50, period_s: 5 });
    const expected = {
      f_port: 60,
      priority: 'NORMAL',
      confirmed: 'false',
      command: 'dimming',
      output_mode: 'blinking',
      dimming: 50,
      period_s: 5,
    };
    expect(result).toEqual({ valid: true, payload: expected, errors: [] });
    expect(JSON.stringify(result.payload)).toBe(
      '{"f_port":60,"priority":"NORMAL","confirmed":"false","command":"dimming","output_mode":"blinking","dimming":50,"period_s":5}',
    );
  });

  it('defaults priority to LOW', () => {
    const result = composePayload(light, { output_mode: 'on', dimming: 80 });
    expect(result.valid).toBe(true);
    expect(JSON.stringify(result.payload)).toBe(
      '{"f_port":60,"priority":"LOW","confirmed":"false","command":"dimming","output_mode":"on","dimming":80}',
    );
  });

  it('accepts the fixed values when the operator repeats them', () => {
    const result = composePayload(light, { f_port: 60, confirmed: 'false', command: 'dimming', output_mode: 'off', dimming: 0 });
    expect(result.valid).toBe(true);
  });

  it('refuses blinking without period_s, at /period_s', () => {
    const result = composePayload(light, { output_mode: 'blinking', dimming: 50 });
    expect(result.valid).toBe(false);
    expect(result.errors).toEqual([{ path: '/period_s', message: 'is required when output_mode is blinking' }]);
  });

  it('refuses dimming 150, at /dimming', () => {
    const result = composePayload(light, { output_mode: 'on', dimming: 150 });
    expect(result.errors).toEqual([{ path: '/dimming', message: 'must be <= 100' }]);
  });

  it('refuses output_mode strobe, naming the allowed values', () => {
    const result = composePayload(light, { output_mode: 'strobe', dimming: 10 });
    expect(result.errors).toEqual([{ path: '/output_mode', message: 'must be one of: off, on, blinking' }]);
  });

  it('reports every fault at once', () => {
    const result = composePayload(light, {
      f_port: 61,
      priority: 'URGENT',
      confirmed: false,
      output_mode: 'strobe',
      dimming: 150,
      period_s: 0,
      colour: 'red',
    });
    expect(result.valid).toBe(false);
    expect([...result.errors].sort(byPath)).toEqual([
      { path: '/colour', message: 'is not allowed: the schema does not define this property' },
      { path: '/confirmed', message: 'must be "false" (fixed by the schema)' },
      { path: '/dimming', message: 'must be <= 100' },
      { path: '/f_port', message: 'must be 60 (fixed by the schema)' },
      { path: '/output_mode', message: 'must be one of: off, on, blinking' },
      { path: '/period_s', message: 'must be >= 1' },
      { path: '/priority', message: 'must be one of: LOWEST, LOW, NORMAL, HIGH, HIGHEST' },
    ]);
    // The refused payload is still the composed one, so a preflight can show what was filled in.
    expect(result.payload).toEqual({
      f_port: 61,
      priority: 'URGENT',
      confirmed: false,
      command: 'dimming',
      output_mode: 'strobe',
      dimming: 150,
      period_s: 0,
      colour: 'red',
    });
  });

  it('reports a wrong type in words', () => {
    const result = composePayload(light, { output_mode: 'on', dimming: '50' });
    expect(result.errors).toEqual([{ path: '/dimming', message: 'must be number' }]);
  });

  it('treats a missing payload as {} and says what is still needed', () => {
    for (const payload of [null, undefined]) {
      const result = composePayload(light, payload);
      expect(result).toEqual({
        valid: false,
        payload: { f_port: 60, priority: 'LOW', confirmed: 'false', command: 'dimming' },
        errors: [
          { path: '/output_mode', message: 'is required' },
          { path: '/dimming', message: 'is required' },
        ],
      });
    }
  });

  it('refuses a payload that is not an object', () => {
    expect(composePayload(light, [1, 2]).errors).toEqual([{ path: '', message: 'must be object' }]);
    expect(composePayload(light, 'dim').errors).toEqual([{ path: '', message: 'must be object' }]);
  });

  it('never mutates the caller input', () => {
    const input = deepFreeze({ output_mode: 'blinking', dimming: 50, period_s: 5 });
    const result = composePayload(light, input);
    expect(result.valid).toBe(true);
    expect(result.payload).not.toBe(input);
    expect(input).toEqual({ output_mode: 'blinking', dimming: 50, period_s: 5 });
  });
});

describe('a command type without a schema', () => {
  it('accepts any JSON as given', () => {
    expect(composePayload(undefined, { anything: [1, 'two'] })).toEqual({ valid: true, payload: { anything: [1, 'two'] }, errors: [] });
    expect(composePayload(null, 42)).toEqual({ valid: true, payload: 42, errors: [] });
    expect(composePayload(undefined, undefined)).toEqual({ valid: true, payload: null, errors: [] });
  });
});

describe('nested defaults', () => {
  const schema = {
    type: 'object',
    properties: {
      schedule: {
        type: 'object',
        default: {},
        properties: {
          start: { type: 'string', format: 'date-time' },
          repeat: { type: 'integer', default: 1 },
          unit: { const: 's' },
        },
      },
      options: {
        type: 'object',
        properties: { level: { type: 'integer', default: 3 }, mode: { type: 'string', default: 'auto' } },
      },
      target: {
        type: 'object',
        properties: { channel: { type: 'integer', default: 0 }, kind: { const: 'lamp' } },
        required: ['channel', 'kind'],
      },
      colour: { $ref: '#/$defs/colour' },
      steps: {
        type: 'array',
        items: {
          type: 'object',
          properties: { delay_ms: { type: 'integer', default: 10 }, op: { type: 'string' } },
          required: ['op'],
        },
      },
    },
    required: ['target'],
    $defs: { colour: { type: 'string', enum: ['white', 'warm'], default: 'white' } },
  };
  const compiled = compile(schema);

  it('creates defaulted and fully determined required objects, leaves optional ones absent', () => {
    const result = composePayload(compiled, {});
    expect(result).toEqual({
      valid: true,
      payload: { schedule: { repeat: 1, unit: 's' }, target: { channel: 0, kind: 'lamp' }, colour: 'white' },
      errors: [],
    });
    expect(JSON.stringify(result.payload)).toBe('{"schedule":{"repeat":1,"unit":"s"},"target":{"channel":0,"kind":"lamp"},"colour":"white"}');
  });

  it('fills objects the operator sent, in schema order, keeping their values', () => {
    const result = composePayload(compiled, { options: { mode: 'manual' }, target: { channel: 4 } });
    expect(JSON.stringify(result.payload)).toBe(
      '{"schedule":{"repeat":1,"unit":"s"},"options":{"level":3,"mode":"manual"},"target":{"channel":4,"kind":"lamp"},"colour":"white"}',
    );
  });

  it('fills array elements that are objects', () => {
    const result = composePayload(compiled, { steps: [{ op: 'on' }, { op: 'off', delay_ms: 5 }] });
    expect(result.valid).toBe(true);
    expect((result.payload as { steps: unknown }).steps).toEqual([
      { delay_ms: 10, op: 'on' },
      { delay_ms: 5, op: 'off' },
    ]);
    expect(composePayload(compiled, { steps: [{ delay_ms: 1 }] }).errors).toEqual([{ path: '/steps/0/op', message: 'is required' }]);
  });

  it('reports a nested constant the operator contradicted', () => {
    const result = composePayload(compiled, { target: { kind: 'fan' } });
    expect(result.errors).toEqual([{ path: '/target/kind', message: 'must be "lamp" (fixed by the schema)' }]);
  });

  it('does not create a required object the operator must still fill', () => {
    const manual = compile({
      type: 'object',
      properties: { manual: { type: 'object', properties: { x: { type: 'integer' } }, required: ['x'] } },
      required: ['manual'],
    });
    expect(composePayload(manual, {})).toEqual({ valid: false, payload: {}, errors: [{ path: '/manual', message: 'is required' }] });
  });

  it('stays cheap on a schema that requires objects recursively', () => {
    const tree = compile({
      type: 'object',
      properties: { left: { $ref: '#' }, right: { $ref: '#' }, leaf: { type: 'boolean', default: true } },
      required: ['left', 'right'],
    });
    const started = performance.now();
    const result = composePayload(tree, {});
    expect(performance.now() - started).toBeLessThan(2000);
    expect(result.valid).toBe(false);
    expect((result.payload as { leaf: unknown }).leaf).toBe(true);
  });

  it('hands out copies of defaults, never the schema objects', () => {
    const first = composePayload(compiled, {}).payload as { schedule: { repeat: number } };
    first.schedule.repeat = 99;
    const second = composePayload(compiled, {}).payload as { schedule: { repeat: number } };
    expect(second.schedule.repeat).toBe(1);
    expect((compiled.schema['properties'] as { schedule: { default: unknown } }).schedule.default).toEqual({});
  });
});

describe('formats', () => {
  const compiled = compile({
    type: 'object',
    properties: {
      at: { type: 'string', format: 'date-time' },
      notify: { type: 'string', format: 'email' },
    },
  });

  it('accepts valid values', () => {
    expect(composePayload(compiled, { at: '2024-05-01T12:00:00Z', notify: 'ops@example.com' }).valid).toBe(true);
  });

  it('refuses invalid ones in words', () => {
    expect(composePayload(compiled, { at: '2024-13-01', notify: 'nope' }).errors).toEqual([
      { path: '/at', message: 'must be a valid date-time (RFC 3339, e.g. 2024-05-01T12:00:00Z)' },
      { path: '/notify', message: 'must be a valid email address' },
    ]);
  });
});

describe('conditional rules', () => {
  const firmware = compile({
    type: 'object',
    properties: { mode: { type: 'string', enum: ['reboot', 'update'] } },
    required: ['mode'],
    allOf: [
      {
        if: { properties: { mode: { const: 'reboot' } } },
        then: { properties: { delay_s: { type: 'integer', default: 5 } } },
        else: {
          properties: { url: { type: 'string', format: 'uri' }, channel: { const: 'stable' } },
          required: ['url'],
        },
      },
    ],
  });

  it('fills defaults of the branch whose condition holds', () => {
    expect(composePayload(firmware, { mode: 'reboot' })).toEqual({ valid: true, payload: { mode: 'reboot', delay_s: 5 }, errors: [] });
  });

  it('fills constants of the else branch and names the condition of its requirements', () => {
    expect(composePayload(firmware, { mode: 'update' })).toEqual({
      valid: false,
      payload: { mode: 'update', channel: 'stable' },
      errors: [{ path: '/url', message: 'is required when mode is not reboot' }],
    });
    const ok = composePayload(firmware, { mode: 'update', url: 'https://fw.example.com/1.2.bin' });
    expect(JSON.stringify(ok.payload)).toBe('{"mode":"update","url":"https://fw.example.com/1.2.bin","channel":"stable"}');
    expect(ok.valid).toBe(true);
  });

  it('supports dependentRequired and dependentSchemas', () => {
    const window = compile({
      type: 'object',
      properties: { start: { type: 'string', format: 'time' }, end: { type: 'string', format: 'time' } },
      dependentRequired: { start: ['end'] },
      dependentSchemas: { end: { properties: { tz: { type: 'string', default: 'UTC' } } } },
    });
    expect(composePayload(window, { start: '10:00:00Z' }).errors).toEqual([{ path: '/end', message: 'is required when start is present' }]);
    expect(composePayload(window, { start: '10:00:00Z', end: '11:00:00Z' })).toEqual({
      valid: true,
      payload: { start: '10:00:00Z', end: '11:00:00Z', tz: 'UTC' },
      errors: [],
    });
    expect(composePayload(window, {})).toEqual({ valid: true, payload: {}, errors: [] });
  });
});

describe('messages and paths', () => {
  it('escapes JSON Pointer paths (RFC 6901)', () => {
    const compiled = compile({ type: 'object', required: ['a/b', 'c~d'] });
    expect(composePayload(compiled, {}).errors).toEqual([
      { path: '/a~1b', message: 'is required' },
      { path: '/c~0d', message: 'is required' },
    ]);
  });

  it('lists the values of a labelled oneOf enum', () => {
    const compiled = compile({
      type: 'object',
      properties: { level: { oneOf: [{ const: 1, title: 'Low' }, { const: 2, title: 'High' }] } },
    });
    expect(composePayload(compiled, { level: 3 }).errors).toEqual([{ path: '/level', message: 'must be one of: 1, 2' }]);
  });

  it('words lengths and multiples', () => {
    const compiled = compile({
      type: 'object',
      properties: { name: { type: 'string', minLength: 3 }, step: { type: 'integer', multipleOf: 5 } },
    });
    expect(composePayload(compiled, { name: 'ab', step: 7 }).errors).toEqual([
      { path: '/name', message: 'must be at least 3 characters long' },
      { path: '/step', message: 'must be a multiple of 5' },
    ]);
  });
});

describe('checkSchema', () => {
  it('accepts the example, with or without the 2020-12 $schema', () => {
    expect(checkSchema(lightController)).toEqual({ ok: true });
    expect(checkSchema({ $schema: COMMAND_SCHEMA_DIALECT, ...lightController })).toEqual({ ok: true });
  });

  it('refuses an unknown type with the allowed ones', () => {
    expect(checkSchema({ type: 'nope' })).toEqual({
      ok: false,
      errors: [{ path: '/type', message: 'must be one of: array, boolean, integer, null, number, object, string, or an array' }],
    });
  });

  it('refuses a non-numeric minimum', () => {
    expect(checkSchema({ type: 'object', minimum: 'x' })).toEqual({ ok: false, errors: [{ path: '/minimum', message: 'must be number' }] });
    expect(checkSchema({ minimum: 'x' })).toEqual({
      ok: false,
      errors: [
        { path: '/minimum', message: 'must be number' },
        { path: '/type', message: 'must be "object": a command schema describes a JSON object payload' },
      ],
    });
  });

  it('requires an object schema', () => {
    expect(checkSchema({ type: 'array' }).ok).toBe(false);
    for (const notASchema of [[], 'object', null, true]) {
      expect(checkSchema(notASchema)).toEqual({
        ok: false,
        errors: [{ path: '', message: 'must be a JSON object: a JSON Schema describing the command payload' }],
      });
    }
  });

  it('reports unknown keywords, bad regular expressions and unknown formats all at once', () => {
    const result = checkSchema({
      type: 'object',
      unit: 'percent',
      properties: {
        code: { type: 'string', pattern: '(' },
        when: { type: 'string', format: 'someday' },
        other: { constructor: 1, format: 'toString' },
      },
    });
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.errors).toHaveLength(5);
    expect(result.errors.slice(3).map((e) => e.path)).toEqual(['/properties/other/constructor', '/properties/other/format']);
    expect(result.errors[0]).toEqual({
      path: '/unit',
      message: 'unknown keyword "unit": only JSON Schema 2020-12 keywords are accepted (put notes in "description" or "$comment")',
    });
    expect(result.errors[1]).toEqual({ path: '/properties/code/pattern', message: 'is not a valid regular expression: /(/u: Unterminated group' });
    expect(result.errors[2]?.path).toBe('/properties/when/format');
    expect(result.errors[2]?.message).toMatch(/^unknown format "someday"; known formats: date, time, date-time, /);
  });

  it('refuses references it would have to fetch, and dangling local ones', () => {
    expect(checkSchema({ type: 'object', properties: { b: { $ref: 'https://schemas.example.com/b.json' } } })).toEqual({
      ok: false,
      errors: [
        {
          path: '/properties/b/$ref',
          message: 'cannot be resolved: "https://schemas.example.com/b.json" is not inside this schema (referenced schemas are never fetched)',
        },
      ],
    });
    expect(checkSchema({ type: 'object', properties: { b: { $ref: '#/$defs/missing' } } })).toEqual({
      ok: false,
      errors: [{ path: '/properties/b/$ref', message: 'cannot be resolved: "#/$defs/missing" is not inside this schema (referenced schemas are never fetched)' }],
    });
  });

  it('refuses other dialects, async schemas and oversized schemas', () => {
    expect(checkSchema({ $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' })).toEqual({
      ok: false,
      errors: [{ path: '/$schema', message: `must be "${COMMAND_SCHEMA_DIALECT}" or absent: only JSON Schema draft 2020-12 is supported` }],
    });
    expect(checkSchema({ $async: true, type: 'object' })).toEqual({
      ok: false,
      errors: [{ path: '/$async', message: 'asynchronous schemas are not supported' }],
    });
    const huge = checkSchema({ type: 'object', description: 'x'.repeat(70_000) });
    expect(huge).toEqual({ ok: false, errors: [{ path: '', message: 'is too large: 70034 characters of JSON, at most 65536' }] });
  });

  it('does not keep the schema object it was given', () => {
    const schema = structuredClone(lightController);
    const compiled = compile(schema);
    schema.properties.f_port.const = 61;
    expect(composePayload(compiled, { output_mode: 'on', dimming: 1 }).payload).toMatchObject({ f_port: 60 });
  });
});

describe('CommandSchemaCache', () => {
  afterEach(() => {
    vi.restoreAllMocks();
  });

  it('compiles once per key and reuses the same validator', () => {
    const cache = new CommandSchemaCache();
    const first = cache.getOrCompile('schema-1', lightController);
    const again = cache.getOrCompile('schema-1', lightController);
    expect(again).toBe(first);
    expect(again.validate).toBe(first.validate);
    expect(cache.compilations).toBe(1);

    const other = cache.getOrCompile('schema-2', lightController);
    expect(other).not.toBe(first);
    expect(cache.compilations).toBe(2);
    expect(cache.size).toBe(2);
  });

  it('does not compile on the request path, conditions included', () => {
    const cache = new CommandSchemaCache();
    const compiled = cache.getOrCompile('light-v1', lightController);
    const compileSpy = vi.spyOn(Ajv2020.prototype, 'compile');
    const getSchemaSpy = vi.spyOn(Ajv2020.prototype, 'getSchema');
    const addSchemaSpy = vi.spyOn(Ajv2020.prototype, 'addSchema');
    for (let i = 0; i < 20; i += 1) {
      expect(composePayload(cache.getOrCompile('light-v1', lightController), { output_mode: 'blinking', dimming: i, period_s: 1 }).valid).toBe(true);
    }
    expect(cache.getOrCompile('light-v1', lightController)).toBe(compiled);
    expect(cache.compilations).toBe(1);
    expect(compileSpy).not.toHaveBeenCalled();
    expect(getSchemaSpy).not.toHaveBeenCalled();
    expect(addSchemaSpy).not.toHaveBeenCalled();

    // The spies do see compilation: compiling a new version goes through them.
    cache.getOrCompile('light-v2', lightController);
    expect(addSchemaSpy).toHaveBeenCalled();
    expect(getSchemaSpy).toHaveBeenCalled();
  });

  it('throws on an invalid schema and caches nothing', () => {
    const cache = new CommandSchemaCache();
    expect(() => cache.getOrCompile('bad', { type: 'nope' })).toThrow(InvalidCommandSchemaError);
    try {
      cache.getOrCompile('bad', { type: 'nope' });
    } catch (error) {
      expect((error as InvalidCommandSchemaError).errors[0]?.path).toBe('/type');
    }
    expect(cache.size).toBe(0);
  });

  it('evicts the least recently used schema beyond its bound', () => {
    const cache = new CommandSchemaCache({ maxEntries: 2 });
    const a = cache.getOrCompile('a', lightController);
    cache.getOrCompile('b', lightController);
    cache.getOrCompile('a', lightController);
    cache.getOrCompile('c', lightController);
    expect(cache.peek('a')).toBe(a);
    expect(cache.peek('b')).toBeUndefined();
    expect(cache.size).toBe(2);
    expect(cache.compilations).toBe(3);
  });

  it('takes an artefact compiled by the check that accepted the schema', () => {
    const cache = new CommandSchemaCache();
    const compiled = compile(lightController);
    cache.prime('v7', compiled);
    expect(cache.getOrCompile('v7', { type: 'nope' })).toBe(compiled);
    expect(cache.compilations).toBe(0);
  });
});

describe('formFields', () => {
  it('describes the example for a form', () => {
    const fields = formFields(lightController);
    expect(fields.map((f) => f.name)).toEqual(['f_port', 'priority', 'confirmed', 'command', 'output_mode', 'dimming', 'period_s']);
    expect(fields[0]).toEqual({ name: 'f_port', type: 'number', fixed: true, const: 60, required: true });
    expect(fields[1]).toEqual({
      name: 'priority',
      type: 'string',
      enum: ['LOWEST', 'LOW', 'NORMAL', 'HIGH', 'HIGHEST'],
      default: 'LOW',
      fixed: false,
      required: true,
    });
    expect(fields[5]).toEqual({
      name: 'dimming',
      description: 'Brightness in percent',
      type: 'number',
      fixed: false,
      minimum: 0,
      maximum: 100,
      required: true,
    });
    expect(fields[6]).toEqual({
      name: 'period_s',
      title: 'Blink period (s)',
      type: 'number',
      fixed: false,
      minimum: 1,
      maximum: 255,
      required: false,
      requiredWhen: [{ text: 'output_mode is blinking', conditions: [{ field: 'output_mode', op: 'in', values: ['blinking'] }] }],
    });
  });

  it('describes nested objects, arrays, labelled enums and conditional requirements', () => {
    const fields = formFields({
      type: 'object',
      properties: {
        target: {
          type: 'object',
          properties: { channel: { type: 'integer', default: 0 } },
          required: ['channel'],
        },
        level: { oneOf: [{ const: 1, title: 'Low' }, { const: 2, title: 'High' }] },
        tags: { type: 'array', items: { type: 'string', maxLength: 8 } },
        start: { type: 'string', format: 'time' },
        end: { type: 'string', format: 'time' },
      },
      dependentRequired: { start: ['end'] },
    });
    expect(fields).toEqual([
      {
        name: 'target',
        type: 'object',
        fixed: false,
        fields: [{ name: 'channel', type: 'integer', default: 0, fixed: false, required: true }],
        required: false,
      },
      { name: 'level', enum: [1, 2], enumTitles: ['Low', 'High'], fixed: false, required: false },
      { name: 'tags', type: 'array', fixed: false, items: { type: 'string', fixed: false, maxLength: 8 }, required: false },
      { name: 'start', type: 'string', fixed: false, format: 'time', required: false },
      {
        name: 'end',
        type: 'string',
        fixed: false,
        format: 'time',
        required: false,
        requiredWhen: [{ text: 'start is present', conditions: [{ field: 'start', op: 'present' }] }],
      },
    ]);
  });

  it('returns no fields for something that is not a schema object', () => {
    expect(formFields(null)).toEqual([]);
    expect(formFields(true)).toEqual([]);
  });
});
