// Checking, compiling and caching command schemas (docs/command-schemas.md, "Checking a schema"
// and "Compiling").
import { Ajv2020 } from 'ajv/dist/2020.js';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  CommandSchemaCache,
  InvalidCommandSchemaError,
  compileCommandSchema,
  composePayload,
} from '../../src/domain/command-schema/index.ts';
import { lightControllerSchema } from '../support/fixtures.ts';

const lightController = lightControllerSchema;
const DIALECT = 'https://json-schema.org/draft/2020-12/schema';

describe('compileCommandSchema', () => {
  it('accepts the example, with or without the 2020-12 $schema', () => {
    expect(compileCommandSchema(lightController).ok).toBe(true);
    expect(compileCommandSchema({ $schema: DIALECT, ...lightController }).ok).toBe(true);
  });

  it('refuses an unknown type with the allowed ones', () => {
    expect(compileCommandSchema({ type: 'nope' })).toEqual({
      ok: false,
      errors: [{ path: '/type', message: 'must be one of: array, boolean, integer, null, number, object, string, or an array' }],
    });
  });

  it('refuses a non-numeric minimum', () => {
    expect(compileCommandSchema({ type: 'object', minimum: 'x' })).toEqual({ ok: false, errors: [{ path: '/minimum', message: 'must be number' }] });
    expect(compileCommandSchema({ minimum: 'x' })).toEqual({
      ok: false,
      errors: [
        { path: '/minimum', message: 'must be number' },
        { path: '/type', message: 'must be "object": a command schema describes a JSON object payload' },
      ],
    });
  });

  it('requires an object schema', () => {
    expect(compileCommandSchema({ type: 'array' }).ok).toBe(false);
    for (const notASchema of [[], 'object', null, true]) {
      expect(compileCommandSchema(notASchema)).toEqual({
        ok: false,
        errors: [{ path: '', message: 'must be a JSON object: a JSON Schema describing the command payload' }],
      });
    }
  });

  it('reports unknown keywords, bad regular expressions and unknown formats all at once', () => {
    const result = compileCommandSchema({
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
    expect(compileCommandSchema({ type: 'object', properties: { b: { $ref: 'https://schemas.example.com/b.json' } } })).toEqual({
      ok: false,
      errors: [
        {
          path: '/properties/b/$ref',
          message: 'cannot be resolved: "https://schemas.example.com/b.json" is not inside this schema (referenced schemas are never fetched)',
        },
      ],
    });
    expect(compileCommandSchema({ type: 'object', properties: { b: { $ref: '#/$defs/missing' } } })).toEqual({
      ok: false,
      errors: [{ path: '/properties/b/$ref', message: 'cannot be resolved: "#/$defs/missing" is not inside this schema (referenced schemas are never fetched)' }],
    });
  });

  it('refuses other dialects, async schemas and oversized schemas', () => {
    expect(compileCommandSchema({ $schema: 'http://json-schema.org/draft-07/schema#', type: 'object' })).toEqual({
      ok: false,
      errors: [{ path: '/$schema', message: `must be "${DIALECT}" or absent: only JSON Schema draft 2020-12 is supported` }],
    });
    expect(compileCommandSchema({ $async: true, type: 'object' })).toEqual({
      ok: false,
      errors: [{ path: '/$async', message: 'asynchronous schemas are not supported' }],
    });
    const huge = compileCommandSchema({ type: 'object', description: 'x'.repeat(70_000) });
    expect(huge).toEqual({ ok: false, errors: [{ path: '', message: 'is too large: 70034 characters of JSON, at most 65536' }] });
  });

  it('does not keep the schema object it was given', () => {
    const schema = structuredClone(lightController);
    const result = compileCommandSchema(schema);
    schema.properties.f_port.const = 61;
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(composePayload(result.compiled, { output_mode: 'on', dimming: 1 }).payload).toMatchObject({ f_port: 60 });
  });
});

/** What `cache` holds under `key`: a schema that cannot compile shows a miss by throwing. */
function cachedUnder(cache: CommandSchemaCache, key: string) {
  try {
    return cache.getOrCompile(key, { type: 'nope' });
  } catch (error) {
    if (error instanceof InvalidCommandSchemaError) return undefined;
    throw error;
  }
}

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

    const other = cache.getOrCompile('schema-2', lightController);
    expect(other).not.toBe(first);
    expect(cachedUnder(cache, 'schema-1')).toBe(first);
    expect(cachedUnder(cache, 'schema-2')).toBe(other);
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
    const fixed = cache.getOrCompile('bad', lightController);
    expect(composePayload(fixed, { output_mode: 'on', dimming: 1 }).valid).toBe(true);
  });

  it('evicts the least recently used schema beyond its bound', () => {
    const cache = new CommandSchemaCache({ maxEntries: 2 });
    const a = cache.getOrCompile('a', lightController);
    cache.getOrCompile('b', lightController);
    cache.getOrCompile('a', lightController);
    const c = cache.getOrCompile('c', lightController);
    expect(cachedUnder(cache, 'a')).toBe(a);
    expect(cachedUnder(cache, 'b')).toBeUndefined();
    expect(cachedUnder(cache, 'c')).toBe(c);
  });

  it('takes an artefact compiled by the check that accepted the schema', () => {
    const cache = new CommandSchemaCache();
    const result = compileCommandSchema(lightController);
    if (!result.ok) throw new Error('the example must compile');
    cache.prime('v7', result.compiled);
    expect(cache.getOrCompile('v7', { type: 'nope' })).toBe(result.compiled);
  });
});
