// formFields: what a UI needs to render a command form (docs/command-schemas.md, "Form fields").
import { describe, expect, it } from 'vitest';
import { formFields } from '../../src/domain/command-schema/index.ts';
import { lightControllerSchema } from '../support/fixtures.ts';

const lightController = lightControllerSchema;

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
