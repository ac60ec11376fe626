// composePayload: constants and defaults filled in, every violation reported in words at a JSON
// Pointer (docs/command-schemas.md, "Composition" and "Messages").
import { describe, expect, it } from 'vitest';
import { compileCommandSchema, composePayload, type CompiledCommandSchema } from '../../src/domain/command-schema/index.ts';
import { deepFreeze } from '../../src/lib/deep-freeze.ts';
import { lightControllerSchema } from '../support/fixtures.ts';

const lightController = lightControllerSchema;

function compile(schema: unknown): CompiledCommandSchema {
  const result = compileCommandSchema(schema);
  if (!result.ok) throw new Error(`schema refused: ${JSON.stringify(result.errors)}`);
  return result.compiled;
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
