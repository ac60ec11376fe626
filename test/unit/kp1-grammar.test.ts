import { describe, it, expect } from 'vitest';
import {
  MAX_BATCH_ITEMS,
  formatCommands,
  parseCommandRequest,
  parseResults,
  parseSamples,
} from '../../src/devices/kp1/bodies.ts';
import { Kp1Failure, formatError } from '../../src/devices/kp1/errors.ts';
import { errorTopic, isResponseTopic, parseHttpPath, parseTopic, pushTopic, statusTopic } from '../../src/devices/kp1/grammar.ts';
import { subscriptionPin, topicMatches } from '../../src/devices/mqtt/topics.ts';

/** The Kp1Failure that fn throws; fails the test if it returns or throws anything else. */
function failure(fn: () => unknown): Kp1Failure {
  let returned: unknown;
  try {
    returned = fn();
  } catch (error) {
    if (error instanceof Kp1Failure) return error;
    throw error;
  }
  throw new Error(`expected a Kp1Failure, got ${JSON.stringify(returned)}`);
}

const MQTT = { allowRequestId: true };
const HTTP = { allowRequestId: false };

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

describe('parseTopic', () => {
  it('parses a command request without request id', () => {
    expect(parseTopic('kp1/app-v1/cex/tok123/command/reboot', MQTT)).toEqual({
      topic: 'kp1/app-v1/cex/tok123/command/reboot',
      appVersion: 'app-v1',
      extension: 'cex',
      token: 'tok123',
      resourcePath: 'command/reboot',
      resource: { kind: 'command', commandType: 'reboot' },
    });
  });

  it('has no requestId key when the topic carries none', () => {
    expect(parseTopic('kp1/app/dcx/tok/json', MQTT)).not.toHaveProperty('requestId');
  });

  it('takes a trailing positive integer as the request id, outside the resource path', () => {
    expect(parseTopic('kp1/app/cex/tok/command/reboot/42', MQTT)).toEqual({
      topic: 'kp1/app/cex/tok/command/reboot/42',
      appVersion: 'app',
      extension: 'cex',
      token: 'tok',
      resourcePath: 'command/reboot',
      resource: { kind: 'command', commandType: 'reboot' },
      requestId: 42,
    });
  });

  it('parses result and telemetry resources', () => {
    const result = parseTopic('kp1/app/cex/tok/result/close-door/7', MQTT);
    expect(result.resource).toEqual({ kind: 'result', commandType: 'close-door' });
    expect(result.resourcePath).toBe('result/close-door');
    expect(result.requestId).toBe(7);

    const telemetry = parseTopic('kp1/app/dcx/tok/json/1', MQTT);
    expect(telemetry.extension).toBe('dcx');
    expect(telemetry.resource).toEqual({ kind: 'telemetry' });
    expect(telemetry.resourcePath).toBe('json');
    expect(telemetry.requestId).toBe(1);
  });

  it('keeps a numeric command type a command type (resolved by level count)', () => {
    const bare = parseTopic('kp1/app/cex/tok/command/42', MQTT);
    expect(bare.resource).toEqual({ kind: 'command', commandType: '42' });
    expect(bare.requestId).toBeUndefined();
    const withId = parseTopic('kp1/app/cex/tok/command/42/7', MQTT);
    expect(withId.resource).toEqual({ kind: 'command', commandType: '42' });
    expect(withId.requestId).toBe(7);
  });

  it('accepts Kaa-style command types and the longest allowed', () => {
    for (const type of ['close-door', 'turn_off', 'LINUX_COMMAND', 'x', 'a'.repeat(128)]) {
      expect(parseTopic(`kp1/app/cex/tok/command/${type}`, MQTT).resource).toEqual({ kind: 'command', commandType: type });
    }
  });

  it('accepts the request id bounds 1 and 2^31-1', () => {
    expect(parseTopic('kp1/app/dcx/tok/json/1', MQTT).requestId).toBe(1);
    expect(parseTopic('kp1/app/dcx/tok/json/2147483647', MQTT).requestId).toBe(2147483647);
  });

  it('accepts tokens of up to 128 characters, non-ASCII included', () => {
    expect(parseTopic(`kp1/app/dcx/${'t'.repeat(128)}/json`, MQTT).token).toBe('t'.repeat(128));
    expect(parseTopic('kp1/app/dcx/tök-_~!$/json', MQTT).token).toBe('tök-_~!$');
  });

  it.each([
    // [kp1 §1] levels are exact, an empty level is malformed
    ['kp1/app/dcx/tok/json/', 'trailing slash'],
    ['kp1/app//dcx/tok/json', 'doubled slash'],
    ['/kp1/app/dcx/tok/json', 'leading slash'],
    ['kp1/app/cex/tok/command//5', 'empty command type'],
    ['', 'empty topic'],
    // request ids that are numbers but out of the kp1 range
    ['kp1/app/dcx/tok/json/0', 'request id 0'],
    ['kp1/app/dcx/tok/json/007', 'leading zero'],
    ['kp1/app/dcx/tok/json/2147483648', '2^31'],
    ['kp1/app/cex/tok/command/reboot/99999999999999999999', 'huge id'],
    // malformed names
    ['kp1/App/dcx/tok/json', 'upper-case app version'],
    ['kp1/app.v1/dcx/tok/json', 'dot in app version'],
    ['kp1/app/dcx/a.b/json', 'dot in token'],
    ['kp1/app/dcx/a+b/json', 'plus in token'],
    ['kp1/app/dcx/a#b/json', 'hash in token'],
    ['kp1/app/dcx/a b/json', 'space in token'],
    ['kp1/app/dcx/a\tb/json', 'tab in token'],
    ['kp1/app/dcx/a\u0000b/json', 'NUL in token'],
    [`kp1/app/dcx/${'t'.repeat(129)}/json`, '129-character token'],
    ['kp1/app/cex/tok/command/bad.type', 'dot in command type'],
    ['kp1/app/cex/tok/command/bad type', 'space in command type'],
    ['kp1/app/cex/tok/result/réboot', 'non-ASCII command type'],
    ['kp1/app/cex/tok/command/bad.type/5', 'bad command type with id'],
    [`kp1/app/cex/tok/command/${'a'.repeat(129)}`, '129-character command type'],
  ])('rejects %j with 400 (%s)', (topic) => {
    expect(failure(() => parseTopic(topic, MQTT)).statusCode).toBe(400);
  });

  it.each([
    ['kp2/app/dcx/tok/json', 'another protocol'],
    ['KP1/app/dcx/tok/json', 'prefix is case-sensitive'],
    ['kp1', 'prefix only'],
    ['kp1/app/cex/tok', 'no resource'],
    ['kp1/app/epmx/tok/update/keys', 'unknown extension'],
    ['kp1/app/CEX/tok/command/reboot', 'extension is case-sensitive'],
    ['kp1/app/cex/tok/command', 'command without type'],
    ['kp1/app/cex/tok/commands/reboot', 'unknown cex resource'],
    ['kp1/app/cex/tok/status/reboot', 'status is not a cex resource'],
    ['kp1/app/cex/tok/command/reboot/abc', 'non-numeric last level'],
    ['kp1/app/cex/tok/command/reboot/-5', 'negative id'],
    ['kp1/app/cex/tok/command/reboot/5/6', 'too many levels'],
    ['kp1/app/cex/tok/command/reboot/status', 'a response topic is not a request'],
    ['kp1/app/dcx/tok/JSON', 'json is case-sensitive'],
    ['kp1/app/dcx/tok/protobuf', 'unknown dcx resource'],
    ['kp1/app/dcx/tok/json/x/y', 'too many dcx levels'],
  ])('rejects %j with 404 (%s)', (topic) => {
    expect(failure(() => parseTopic(topic, MQTT)).statusCode).toBe(404);
  });

  it('refuses a request id when the transport has none (404: no such resource)', () => {
    const f = failure(() => parseTopic('kp1/app/dcx/tok/json/5', HTTP));
    expect(f.statusCode).toBe(404);
    expect(f.reasonPhrase).toContain('request ids are MQTT-only');
  });

  it('names the offending part in the reason phrase', () => {
    expect(failure(() => parseTopic('kp1/app/cex/tok/command/bad.type', MQTT)).reasonPhrase).toContain('"bad.type"');
    expect(failure(() => parseTopic('kp1/app/foo/tok/x', MQTT)).reasonPhrase).toContain('"foo"');
    expect(failure(() => parseTopic('kp1/app/dcx/tok/json/007', MQTT)).reasonPhrase).toContain('Bad request id "007"');
  });

  it('cuts long echoed input in reason phrases', () => {
    const f = failure(() => parseTopic(`kp1/app/dcx/${'t'.repeat(1000)}/json`, MQTT));
    expect(f.statusCode).toBe(400);
    expect(f.reasonPhrase.length).toBeLessThan(250);
  });
});

describe('parseHttpPath', () => {
  it('parses a path into the same request as the topic, without request id', () => {
    expect(parseHttpPath('/kp1/app/cex/tok/command/reboot')).toEqual(
      parseTopic('kp1/app/cex/tok/command/reboot', HTTP),
    );
    expect(parseHttpPath('/kp1/app/dcx/tok/json').topic).toBe('kp1/app/dcx/tok/json');
  });

  it('ignores a query string if one is still attached', () => {
    expect(parseHttpPath('/kp1/app/dcx/tok/json?x=1&y=/2').resource).toEqual({ kind: 'telemetry' });
  });

  it('percent-decodes each level', () => {
    expect(parseHttpPath('/kp1/app/dcx/%74ok/json').token).toBe('tok');
  });

  it.each([
    ['/kp1/app/dcx/tok/json/5', 404, 'request id over HTTP'],
    ['kp1/app/dcx/tok/json', 404, 'no leading slash'],
    ['/', 400, 'root'],
    ['/kp1/app/dcx/tok/json/', 400, 'trailing slash'],
    ['/kp1/app/dcx/a%2Fb/json', 400, 'encoded slash in token'],
    ['/kp1/app/dcx/a%2Eb/json', 400, 'encoded dot in token'],
    ['/kp1/app/dcx/%ZZ/json', 400, 'bad percent-encoding'],
    ['/kp1/app/cex/tok/command/reboot/status', 404, 'status suffix'],
  ])('rejects %j with %i (%s)', (path, code) => {
    expect(failure(() => parseHttpPath(path)).statusCode).toBe(code);
  });
});

describe('isResponseTopic', () => {
  it.each([
    'kp1/app/cex/tok/command/reboot/status',
    'kp1/app/cex/tok/command/reboot/error',
    'kp1/app/cex/tok/command/reboot/42/status',
    'kp1/app/cex/tok/result/reboot/42/error',
    'kp1/app/dcx/tok/json/status',
    'kp1/app/dcx/tok/json/7/error',
    'kp1/app/cex/tok/command/status/status',
    'kp1/app/cex/tok/command/error/error',
  ])('%j is a response', (topic) => {
    expect(isResponseTopic(topic)).toBe(true);
  });

  it.each([
    'kp1/app/cex/tok/command/reboot',
    'kp1/app/cex/tok/command/reboot/42',
    'kp1/app/dcx/tok/json',
    // `status` and `error` are legal command types: these are requests for them
    'kp1/app/cex/tok/command/status',
    'kp1/app/cex/tok/result/error',
    'kp1/app/cex/tok/command/status/5',
    // ends in neither suffix
    'kp1/app/cex/tok/command/reboot/statuses',
  ])('%j is not a response', (topic) => {
    expect(isResponseTopic(topic)).toBe(false);
  });

  it('classifies the reply topics the server itself builds as responses', () => {
    const request = parseTopic('kp1/app/cex/tok/command/reboot/3', MQTT);
    expect(isResponseTopic(statusTopic(request) as string)).toBe(true);
    expect(isResponseTopic(errorTopic(request.topic))).toBe(true);
    expect(isResponseTopic(pushTopic('app', 'tok', 'reboot'))).toBe(true);
  });
});

describe('reply topics', () => {
  it('sends success replies to the request topic + /status only with a request id', () => {
    expect(statusTopic(parseTopic('kp1/app/cex/tok/command/reboot/42', MQTT))).toBe(
      'kp1/app/cex/tok/command/reboot/42/status',
    );
    expect(statusTopic(parseTopic('kp1/app/cex/tok/command/reboot', MQTT))).toBeUndefined();
    expect(statusTopic(parseHttpPath('/kp1/app/dcx/tok/json'))).toBeUndefined();
  });

  it('sends error replies to the request topic + /error, with or without request id', () => {
    expect(errorTopic('kp1/app/cex/tok/result/reboot/42')).toBe('kp1/app/cex/tok/result/reboot/42/error');
    expect(errorTopic('kp1/app/cex/tok/result/reboot')).toBe('kp1/app/cex/tok/result/reboot/error');
  });

  it('pushes commands to command/{type}/status without request id', () => {
    expect(pushTopic('app-v1', 'tok', 'close-door')).toBe('kp1/app-v1/cex/tok/command/close-door/status');
  });
});

describe('subscriptionPin', () => {
  it.each([
    ['kp1/app/cex/tok/#', 'cex'],
    ['kp1/app/cex/tok/command/+/status', 'cex'],
    ['kp1/app/cex/tok/command/reboot/status', 'cex'],
    ['kp1/app/cex/tok/+/+/#', 'cex'],
    ['kp1/app/cex/tok', 'cex'],
    ['kp1/app/dcx/tok/json/#', 'dcx'],
  ] as const)('pins %j to its token', (filter, extension) => {
    expect(subscriptionPin(filter)).toEqual({ appVersion: 'app', extension, token: 'tok' });
  });

  it.each([
    '#',
    '+/#',
    '$SYS/#',
    'kp1/#',
    'kp1/+/cex/+/command/reboot/status',
    'kp1/app/cex/+/#',
    'kp1/app/cex/#',
    'kp1/app/+/tok/#',
    'kp1/+/cex/tok/#',
    'kp1/app/epmx/tok/#',
    'kp1/app/cex/tok#',
    'kp1/app/cex/to+k/#',
    'kp1/app/cex/tok/#/status',
    'kp1/app/cex/tok/comm+and',
    'kp1/app/cex/a.b/#',
    'kp1/App/cex/tok/#',
    'kp2/app/cex/tok/#',
    '/kp1/app/cex/tok/#',
    '',
  ])('refuses %j', (filter) => {
    expect(subscriptionPin(filter)).toBeNull();
  });
});

describe('topicMatches', () => {
  it.each([
    ['a/b/c', 'a/b/c', true],
    ['a/b/c', 'a/b', false],
    ['a/+/c', 'a/b/c', true],
    ['a/+/c', 'a/b/c/d', false],
    ['a/+', 'a/', true],
    ['a/+', 'a', false],
    ['a/#', 'a', true],
    ['a/#', 'a/b/c', true],
    ['a/#', 'ab', false],
    ['#', 'x/y', true],
    ['#', '$SYS/x', false],
    ['+/x', '$SYS/x', false],
    ['$SYS/#', '$SYS/x', true],
    ['a/#/b', 'a/x/b', false],
    ['a+', 'a+', false],
    ['', '', false],
    ['kp1/app/cex/tok/command/+/status', 'kp1/app/cex/tok/command/reboot/status', true],
    ['kp1/app/cex/tok/command/+/status', 'kp1/app/cex/tok/command/reboot/5/status', false],
  ] as const)('%j vs %j → %s', (filter, topic, expected) => {
    expect(topicMatches(filter, topic)).toBe(expected);
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

  it('accepts the status code bounds, an integral 1.0 id and a 1024-character reason', () => {
    expect(parseResults('[{"id":1.0,"statusCode":100},{"id":2,"statusCode":599}]')).toEqual([
      { id: 1, statusCode: 100 },
      { id: 2, statusCode: 599 },
    ]);
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
    ['[{"id":1,"statusCode":99}]', 'statusCode 99'],
    ['[{"id":1,"statusCode":600}]', 'statusCode 600'],
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
      'Result [1]: "statusCode" must be an integer from 100 to 599, not the string "x"',
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
    ['0050-01-01T00:00:00Z', '0050-01-01T00:00:00.000Z'],
  ])('reads ISO-8601 timestamp %j', (timestamp, iso) => {
    expect(parseSamples(JSON.stringify({ timestamp }), receivedAt)[0]?.timestamp.toISOString()).toBe(iso);
  });

  it('reads epoch milliseconds, cutting fractions and allowing pre-1970', () => {
    const at = (timestamp: number) => parseSamples(JSON.stringify({ timestamp }), receivedAt)[0]?.timestamp.getTime();
    expect(at(1700000000000.7)).toBe(1700000000000);
    expect(at(-1000)).toBe(-1000);
    expect(at(8.64e15)).toBe(8.64e15);
  });

  it.each([
    ['{"timestamp":null}', 'null'],
    ['{"timestamp":true}', 'boolean'],
    ['{"timestamp":{}}', 'object'],
    ['{"timestamp":[]}', 'array'],
    ['{"timestamp":1e20}', 'out of Date range'],
    ['{"timestamp":1e999}', 'infinite'],
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
    ['[{"a":1},{"timestamp":"bad"}]', 'one bad sample fails the batch'],
    ['', 'empty body'],
    ['{"a":', 'not JSON'],
  ])('rejects %j with 400 (%s)', (body) => {
    expect(failure(() => parseSamples(body, receivedAt)).statusCode).toBe(400);
  });

  it('points at the offending sample', () => {
    expect(failure(() => parseSamples('[{"a":1},{"timestamp":null}]', receivedAt)).reasonPhrase).toBe(
      'Sample [1]: "timestamp" must be epoch milliseconds or an ISO-8601 string, not null',
    );
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
