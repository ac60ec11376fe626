// The console's form validator (rjsf over @cfworker/json-schema): the errors a person can act on,
// one per field, on the field itself; isValid for rjsf's anyOf/oneOf/if handling.
import { describe, expect, it } from 'vitest';
import type { RJSFSchema } from '@rjsf/utils';
import { validator } from '../../console/src/forms/validator.ts';
import { lightControllerSchema } from '../support/fixtures.ts';

const light = lightControllerSchema as RJSFSchema;
const fixed = { f_port: 60, confirmed: 'false', command: 'dimming' };
const errorsOf = (schema: RJSFSchema, data: unknown) =>
  validator.validateFormData(data, schema).errors.map((e) => ({ property: e.property, message: e.message }));

describe('console form validator', () => {
  it('puts a conditional requirement on the missing field, labelled with its title, and nothing else', () => {
    const result = validator.validateFormData({ ...fixed, priority: 'NORMAL', output_mode: 'blinking', dimming: 50 }, light);
    expect(result.errors.map((e) => ({ property: e.property, message: e.message }))).toEqual([
      { property: '.period_s', message: "must have required property 'Blink period (s)'" },
    ]);
    expect(result.errorSchema).toEqual({ period_s: { __errors: ["must have required property 'Blink period (s)'"] } });
  });

  it('reports leaf errors only, one per field, and treats cleared (undefined) fields as absent', () => {
    const errors = errorsOf(light, { ...fixed, priority: 'URGENT', output_mode: 'on', dimming: undefined, period_s: 0.5 });
    expect(errors.map((e) => e.property)).toEqual(['.dimming', '.priority', '.period_s']);
    expect(errors[0]!.message).toBe("must have required property 'dimming'");
    expect(errors[2]!.message).toBe('0.5 is less than 1.');
  });

  it('locates errors in nested objects and arrays', () => {
    const schema: RJSFSchema = {
      type: 'object',
      properties: {
        schedule: { type: 'object', required: ['at'], properties: { at: { type: 'string', title: 'Start time' } } },
        zones: { type: 'array', items: { type: 'integer', minimum: 1 } },
      },
      additionalProperties: false,
    };
    expect(errorsOf(schema, { schedule: {}, zones: [1, 0], extra: true })).toEqual([
      { property: '.schedule.at', message: "must have required property 'Start time'" },
      { property: '.zones.1', message: '0 is less than 1.' },
      { property: '.extra', message: 'is not allowed here' },
    ]);
  });

  it('reports a failed anyOf once, not each alternative', () => {
    const schema: RJSFSchema = { type: 'object', anyOf: [{ required: ['a'] }, { required: ['b'] }] };
    expect(errorsOf(schema, {})).toEqual([{ property: '', message: 'does not match any subschemas.' }]);
  });

  it('keeps the first of several errors of one field', () => {
    const schema: RJSFSchema = { type: 'object', properties: { code: { type: 'string', minLength: 3, pattern: '^[A-Z]+$' } } };
    expect(errorsOf(schema, { code: 'a' })).toEqual([{ property: '.code', message: 'String is too short (1 < 3).' }]);
  });

  it('decides isValid for pieces of the root, resolving their references against it', () => {
    const root: RJSFSchema = {
      $defs: { percent: { type: 'number', minimum: 0, maximum: 100 } },
      type: 'object',
      properties: { mode: { oneOf: [{ properties: { dimming: { $ref: '#/$defs/percent' } } }, { properties: { on: { const: true } } }] } },
    };
    const option = { ...(root.properties!['mode'] as { oneOf: RJSFSchema[] }).oneOf[0]! };
    expect(validator.isValid(option, { dimming: 50 }, root)).toBe(true);
    expect(validator.isValid(option, { dimming: 500 }, root)).toBe(false);
    expect(validator.isValid(light.if as RJSFSchema, { output_mode: 'blinking' }, light)).toBe(true);
    expect(validator.isValid(light.if as RJSFSchema, { output_mode: 'on' }, light)).toBe(false);
  });

  it('reports a broken reference as an error instead of throwing', () => {
    const schema: RJSFSchema = { type: 'object', properties: { a: { $ref: '#/$defs/missing' } } };
    expect(validator.isValid(schema, { a: 1 }, schema)).toBe(false);
    expect(errorsOf(schema, { a: 1 })).toHaveLength(1);
  });
});
