// kp1 bodies: the error payload, parsing command requests, results and telemetry samples, and formatting pushed commands.
import { describe, it, expect } from 'vitest';
import {
  MAX_BATCH_ITEMS,
  formatCommands,
  parseCommandRequest,
  parseResults,
  parseSamples,
} from '../../src/devices/kp1/bodies.ts';
import { Kp1Failure, formatError } from '../../src/devices/kp1/errors.ts';
import { failure } from '../support/kp1-failure.ts';

describe('Kp1Failure', () => {
  it('carries the status code and reason phrase', () => {
    const f = new Kp1Failure(400, 'bad');
    expect(f).toBeInstanceOf(Error);
    expect(f.name).toBe('Kp1Failure');
    expect(f.message).toBe('bad');
    expect(f.statusCode).toBe(400);
    expect(f.reasonPhrase).toBe('bad');
    expect(f.error).toEqual({ statusCode: 400, reasonPhrase: 'bad' });
  });

  it('formats the kp1 error payload with exactly two fields', () => {
    expect(formatError(new Kp1Failure(404, 'Unknown "x"'))).toBe('{"statusCode":404,"reasonPhrase":"Unknown \\"x\\""}');
  });
});

describe('parseCommandRequest', () => {
  it.each([
    ['', {}],
    ['  \n', {}],
    ['{}', {}],
    ['{"observe":true}', { observe: true }],
    [' { "observe" : false } ', { observe: false }],
  ])('%j → %o', (body, expected) => {
    expect(parseCommandRequest(body)).toEqual(expected);
  });

  it('takes raw bytes: empty, UTF-8 and UTF-8 with BOM', () => {
    expect(parseCommandRequest(Buffer.alloc(0))).toEqual({});
    expect(parseCommandRequest(Buffer.from('{"observe":true}'))).toEqual({ observe: true });
    expect(parseCommandRequest(Buffer.from('\ufeff{"observe":false}'))).toEqual({ observe: false });
  });

  it('has no observe key when the body has none', () => {
    expect(parseCommandRequest('{}')).not.toHaveProperty('observe');
  });

  it.each([
    ['{"observe":"yes"}', 'string observe'],
    ['{"observe":1}', 'numeric observe'],
    ['{"observe":null}', 'null observe'],
    ['{"foo":1}', 'unknown field'],
    ['{"observe":true,"type":"reboot"}', 'extra field'],
    ['[]', 'array'],
    ['null', 'null'],
    ['42', 'number'],
    ['"{}"', 'string'],
    ['{', 'truncated JSON'],
    ['observe=true', 'form data'],
  ])('rejects %j with 400 (%s)', (body) => {
    expect(failure(() => parseCommandRequest(body)).statusCode).toBe(400);
  });

  it('rejects invalid UTF-8 with 400', () => {
    const f = failure(() => parseCommandRequest(Buffer.from([0x7b, 0xff, 0x7d])));
    expect(f.error).toEqual({ statusCode: 400, reasonPhrase: 'Body is not valid UTF-8' });
  });

  it('names the unknown field', () => {
    expect(failure(() => parseCommandRequest('{"foo":1}')).reasonPhrase).toBe(
      'Unknown field "foo" in command request: only "observe" is allowed',
    );
  });
});

describe('parseResults', () => {
  it('parses a batch with every field', () => {
    const body = '[{"id":1,"statusCode":200,"reasonPhrase":"OK","payload":{"uptime":5}},{"id":2,"statusCode":409}]';
    expect(parseResults(body)).toEqual([
      { id: 1, statusCode: 200, reasonPhrase: 'OK', payload: { uptime: 5 } },
      { id: 2, statusCode: 409 },
    ]);
  });

  it('accepts a lone object as a batch of one, and [] as a no-op', () => {
    expect(parseResults(Buffer.from('{"id":3,"statusCode":500,"reasonPhrase":"failed"}'))).toEqual([
      { id: 3, statusCode: 500, reasonPhrase: 'failed' },
    ]);
    expect(parseResults('[]')).toEqual([]);
  });

  it('keeps an explicit null payload and omits an absent one', () => {
    const [withNull, without] = parseResults('[{"id":1,"statusCode":200,"payload":null},{"id":2,"statusCode":200}]');
    expect(withNull).toHaveProperty('payload', null);
    expect(without).not.toHaveProperty('payload');
    expect(without).not.toHaveProperty('reasonPhrase');
  });

  it('accepts any 32-bit status code, an integral 1.0 id and a 1024-character reason', () => {
    expect(parseResults('[{"id":1.0,"statusCode":100},{"id":2,"statusCode":599}]')).toEqual([
      { id: 1, statusCode: 100 },
      { id: 2, statusCode: 599 },
    ]);
    for (const statusCode of [-2147483648, -1, 0, 99, 600, 1000, 2147483647]) {
      expect(parseResults(JSON.stringify({ id: 1, statusCode }))).toEqual([{ id: 1, statusCode }]);
    }
    const phrase = 'r'.repeat(1024);
    expect(parseResults(JSON.stringify({ id: 1, statusCode: 200, reasonPhrase: phrase }))[0]?.reasonPhrase).toBe(phrase);
  });

  it('keeps the first of duplicate ids in one batch, in order', () => {
    const body = '[{"id":5,"statusCode":200,"payload":"first"},{"id":6,"statusCode":200},{"id":5,"statusCode":500}]';
    expect(parseResults(body)).toEqual([
      { id: 5, statusCode: 200, payload: 'first' },
      { id: 6, statusCode: 200 },
    ]);
  });

  it(`accepts ${MAX_BATCH_ITEMS} results and refuses one more with 413`, () => {
    const batch = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ id: i + 1, statusCode: 200 })));
    expect(parseResults(batch(MAX_BATCH_ITEMS))).toHaveLength(MAX_BATCH_ITEMS);
    expect(failure(() => parseResults(batch(MAX_BATCH_ITEMS + 1))).statusCode).toBe(413);
  });

  it.each([
    ['', 'empty body'],
    ['not json', 'not JSON'],
    ['null', 'lone null'],
    ['[null]', 'null item'],
    ['[1]', 'number item'],
    ['[[{"id":1,"statusCode":200}]]', 'nested array'],
    ['[{"statusCode":200}]', 'missing id'],
    ['[{"id":0,"statusCode":200}]', 'id 0'],
    ['[{"id":-1,"statusCode":200}]', 'negative id'],
    ['[{"id":1.5,"statusCode":200}]', 'fractional id'],
    ['[{"id":"1","statusCode":200}]', 'string id'],
    ['[{"id":9007199254740992,"statusCode":200}]', 'id beyond 2^53'],
    ['[{"id":1e999,"statusCode":200}]', 'infinite id'],
    ['[{"id":1}]', 'missing statusCode'],
    ['[{"id":1,"statusCode":2147483648}]', 'statusCode 2^31'],
    ['[{"id":1,"statusCode":-2147483649}]', 'statusCode below -2^31'],
    ['[{"id":1,"statusCode":200.5}]', 'fractional statusCode'],
    ['[{"id":1,"statusCode":"200"}]', 'string statusCode'],
    ['[{"id":1,"statusCode":200,"reasonPhrase":null}]', 'null reasonPhrase'],
    ['[{"id":1,"statusCode":200,"reasonPhrase":42}]', 'numeric reasonPhrase'],
    [JSON.stringify([{ id: 1, statusCode: 200, reasonPhrase: 'r'.repeat(1025) }]), '1025-character reasonPhrase'],
    ['[{"id":1,"statusCode":200,"type":"reboot"}]', 'unknown field'],
    ['[{"id":1,"statusCode":200},{"id":2,"statusCode":"bad"}]', 'one bad item fails the batch'],
  ])('rejects %j with 400 (%s)', (body) => {
    expect(failure(() => parseResults(body)).statusCode).toBe(400);
  });

  it('points at the offending item and field', () => {
    expect(failure(() => parseResults('[{"id":1,"statusCode":200},{"id":2,"statusCode":"x"}]')).reasonPhrase).toBe(
      'Result [1]: "statusCode" must be a 32-bit integer, not the string "x"',
    );
    expect(failure(() => parseResults('{"id":1,"statusCode":200,"reasonphrase":"OK"}')).reasonPhrase).toBe(
      'Result has unknown field "reasonphrase": allowed are id, statusCode, reasonPhrase, payload',
    );
    expect(failure(() => parseResults('')).reasonPhrase).toBe('Body is empty; expected JSON');
  });
});

describe('parseSamples', () => {
  const receivedAt = new Date('2024-05-01T12:00:00.000Z');

  it('stamps a sample without timestamp with the receipt time, data unchanged', () => {
    expect(parseSamples('{"temperature":21}', receivedAt)).toEqual([
      { timestamp: receivedAt, data: { temperature: 21 } },
    ]);
  });

  it('treats an array as a batch and uses each sample’s own timestamp', () => {
    const body = JSON.stringify([
      { temperature: 21, timestamp: 1700000000000 },
      { temperature: 22, timestamp: '2023-11-14T22:13:21.5+02:00' },
      { temperature: 23 },
    ]);
    const samples = parseSamples(Buffer.from(body), receivedAt);
    expect(samples.map((s) => s.timestamp.toISOString())).toEqual([
      '2023-11-14T22:13:20.000Z',
      '2023-11-14T20:13:21.500Z',
      '2024-05-01T12:00:00.000Z',
    ]);
    // the timestamp field stays in the stored data
    expect(samples[0]?.data).toEqual({ temperature: 21, timestamp: 1700000000000 });
  });

  it('accepts [] as a batch of nothing', () => {
    expect(parseSamples('[]', receivedAt)).toEqual([]);
  });

  it('takes any non-array JSON value as one sample, and nested arrays as samples', () => {
    expect(parseSamples('42', receivedAt)).toEqual([{ timestamp: receivedAt, data: 42 }]);
    expect(parseSamples('null', receivedAt)).toEqual([{ timestamp: receivedAt, data: null }]);
    expect(parseSamples('"on"', receivedAt)).toEqual([{ timestamp: receivedAt, data: 'on' }]);
    expect(parseSamples('[[1,2],{"timestamp":0}]', receivedAt)).toEqual([
      { timestamp: receivedAt, data: [1, 2] },
      { timestamp: new Date(0), data: { timestamp: 0 } },
    ]);
  });

  it.each([
    ['2024-05-01T12:00:00Z', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01t12:00:00z', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01 12:00:00Z', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01T12:00Z', '2024-05-01T12:00:00.000Z'],
    ['2024-05-01T12:00:00.123456Z', '2024-05-01T12:00:00.123Z'],
    ['2024-05-01T12:00:00,5Z', '2024-05-01T12:00:00.500Z'],
    ['2024-05-01T12:00:00-05:30', '2024-05-01T17:30:00.000Z'],
    ['2024-05-01T12:00:00+0200', '2024-05-01T10:00:00.000Z'],
    ['2024-02-29T00:00:00Z', '2024-02-29T00:00:00.000Z'],
    ['2000-02-29T00:00:00Z', '2000-02-29T00:00:00.000Z'],
    ['0100-01-01T00:00:00Z', '0100-01-01T00:00:00.000Z'],
  ])('reads ISO-8601 timestamp %j', (timestamp, iso) => {
    expect(parseSamples(JSON.stringify({ timestamp }), receivedAt)[0]?.timestamp.toISOString()).toBe(iso);
  });

  it('reads epoch milliseconds, cutting fractions and allowing pre-1970', () => {
    const at = (timestamp: number) => parseSamples(JSON.stringify({ timestamp }), receivedAt)[0]?.timestamp.getTime();
    expect(at(1700000000000.7)).toBe(1700000000000);
    expect(at(-1000)).toBe(-1000);
    expect(at(Date.parse('9999-12-31T23:59:59.999Z'))).toBe(Date.parse('9999-12-31T23:59:59.999Z'));
    expect(at(Date.parse('0100-01-01T00:00:00Z'))).toBe(Date.parse('0100-01-01T00:00:00Z'));
  });

  it('reads the configured field, and none when it is empty', () => {
    const body = '{"ts":1700000000000,"timestamp":0}';
    expect(parseSamples(body, receivedAt, 'ts')[0]?.timestamp.getTime()).toBe(1700000000000);
    expect(parseSamples(body, receivedAt, '')[0]?.timestamp).toBe(receivedAt);
  });

  // [2/DCP] defines no timestamp field: a sample is never refused for one (kp1.md §3).
  it.each([
    ['{"timestamp":null}', 'null'],
    ['{"timestamp":true}', 'boolean'],
    ['{"timestamp":{}}', 'object'],
    ['{"timestamp":[]}', 'array'],
    ['{"timestamp":1e20}', 'out of Date range'],
    ['{"timestamp":8.64e15}', 'beyond year 9999'],
    ['{"timestamp":-59011459200001}', 'before year 100'],
    ['{"timestamp":"0050-01-01T00:00:00Z"}', 'year 50 (read back as 1950)'],
    ['{"timestamp":"0100-01-01T00:30:00+01:00"}', 'year 99 after the offset'],
    ['{"timestamp":"yesterday"}', 'free text'],
    ['{"timestamp":"1700000000000"}', 'digits in a string'],
    ['{"timestamp":"2024-05-01"}', 'date without time'],
    ['{"timestamp":"2024-05-01T12:00:00"}', 'no UTC offset'],
    ['{"timestamp":"2024-02-30T00:00:00Z"}', 'February 30'],
    ['{"timestamp":"2023-02-29T00:00:00Z"}', 'February 29 in a common year'],
    ['{"timestamp":"1900-02-29T00:00:00Z"}', 'February 29 in 1900'],
    ['{"timestamp":"2024-13-01T00:00:00Z"}', 'month 13'],
    ['{"timestamp":"2024-05-01T24:00:00Z"}', 'hour 24'],
    ['{"timestamp":"2024-05-01T23:59:60Z"}', 'leap second'],
    ['{"timestamp":"2024-05-01T12:00:00+24:00"}', 'offset hour 24'],
  ])('stamps %j with the receipt time and keeps the field as sent (%s)', (body) => {
    expect(parseSamples(body, receivedAt)).toEqual([{ timestamp: receivedAt, data: JSON.parse(body) }]);
  });

  it('keeps the rest of a batch stamped by their own timestamps', () => {
    const samples = parseSamples('[{"a":1,"timestamp":0},{"timestamp":"bad"}]', receivedAt);
    expect(samples.map((s) => s.timestamp)).toEqual([new Date(0), receivedAt]);
  });

  it.each([
    ['', 'empty body'],
    ['{"a":', 'not JSON'],
  ])('rejects %j with 400 (%s)', (body) => {
    expect(failure(() => parseSamples(body, receivedAt)).statusCode).toBe(400);
  });

  it(`accepts ${MAX_BATCH_ITEMS} samples and refuses one more with 413`, () => {
    const batch = (n: number) => JSON.stringify(Array.from({ length: n }, (_, i) => ({ i })));
    expect(parseSamples(batch(MAX_BATCH_ITEMS), receivedAt)).toHaveLength(MAX_BATCH_ITEMS);
    const f = failure(() => parseSamples(batch(MAX_BATCH_ITEMS + 1), receivedAt));
    expect(f.statusCode).toBe(413);
    expect(f.reasonPhrase).toBe('Too many samples in one request: 1001, at most 1000; split the batch');
  });
});

describe('formatCommands', () => {
  it('formats an empty list as []', () => {
    expect(formatCommands([])).toBe('[]');
  });

  it('keeps order and omits only undefined and null payloads', () => {
    expect(
      formatCommands([
        { id: 1, payload: { delay: 5 } },
        { id: 2 },
        { id: 3, payload: null },
        { id: 4, payload: 0 },
        { id: 5, payload: false },
        { id: 6, payload: '' },
        { id: 7, payload: undefined },
      ]),
    ).toBe('[{"id":1,"payload":{"delay":5}},{"id":2},{"id":3},{"id":4,"payload":0},{"id":5,"payload":false},{"id":6,"payload":""},{"id":7}]');
  });
});
