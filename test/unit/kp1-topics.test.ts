// kp1 topics and HTTP paths: parsing requests, classifying and building reply topics, and MQTT subscription pins and matching.
import { describe, it, expect } from 'vitest';
import { errorTopic, isResponseTopic, parseHttpPath, parseTopic, pushTopic, statusTopic } from '../../src/devices/kp1/grammar.ts';
import { subscriptionPin, topicMatches } from '../../src/devices/mqtt/topics.ts';
import { failure } from '../support/kp1-failure.ts';


describe('parseTopic', () => {
  it('parses a command request without request id', () => {
    expect(parseTopic('kp1/app-v1/cex/tok123/command/reboot')).toEqual({
      topic: 'kp1/app-v1/cex/tok123/command/reboot',
      appVersion: 'app-v1',
      extension: 'cex',
      token: 'tok123',
      resourcePath: 'command/reboot',
      resource: { kind: 'command', commandType: 'reboot' },
    });
  });

  it('has no requestId key when the topic carries none', () => {
    expect(parseTopic('kp1/app/dcx/tok/json')).not.toHaveProperty('requestId');
  });

  it('takes a trailing positive integer as the request id, outside the resource path', () => {
    expect(parseTopic('kp1/app/cex/tok/command/reboot/42')).toEqual({
      topic: 'kp1/app/cex/tok/command/reboot/42',
      appVersion: 'app',
      extension: 'cex',
      token: 'tok',
      resourcePath: 'command/reboot',
      resource: { kind: 'command', commandType: 'reboot' },
      requestId: '42',
    });
  });

  it('parses result and telemetry resources', () => {
    const result = parseTopic('kp1/app/cex/tok/result/close-door/7');
    expect(result.resource).toEqual({ kind: 'result', commandType: 'close-door' });
    expect(result.resourcePath).toBe('result/close-door');
    expect(result.requestId).toBe('7');

    const telemetry = parseTopic('kp1/app/dcx/tok/json/1');
    expect(telemetry.extension).toBe('dcx');
    expect(telemetry.resource).toEqual({ kind: 'telemetry' });
    expect(telemetry.resourcePath).toBe('json');
    expect(telemetry.requestId).toBe('1');
  });

  // [1/KP] a numeric last level MUST be a request id when the levels before it name a resource.
  it('takes a numeric last level as the request id first, as a command type otherwise', () => {
    const all = parseTopic('kp1/app/cex/tok/command/42');
    expect(all.resource).toEqual({ kind: 'commandAll' });
    expect(all.requestId).toBe('42');
    const withId = parseTopic('kp1/app/cex/tok/command/42/7');
    expect(withId.resource).toEqual({ kind: 'command', commandType: '42' });
    expect(withId.requestId).toBe('7');
    const result = parseTopic('kp1/app/cex/tok/result/42');
    expect(result.resource).toEqual({ kind: 'result', commandType: '42' });
    expect(result.requestId).toBeUndefined();
  });

  it('parses the all-types command resource and the epmx resources, with and without request id', () => {
    expect(parseTopic('kp1/app/cex/tok/command').resource).toEqual({ kind: 'commandAll' });
    const cases: [string, string][] = [
      ['get/keys', 'metadataKeys'],
      ['get', 'metadataGet'],
      ['update', 'metadataReplace'],
      ['update/keys', 'metadataMerge'],
      ['delete/keys', 'metadataDelete'],
    ];
    for (const [path, kind] of cases) {
      expect(parseTopic(`kp1/app/epmx/tok/${path}`)).toMatchObject({ resource: { kind }, resourcePath: path });
      expect(parseTopic(`kp1/app/epmx/tok/${path}/5`)).toMatchObject({ resource: { kind }, resourcePath: path, requestId: '5' });
    }
  });

  it('accepts Kaa-style command types and the longest allowed', () => {
    for (const type of ['close-door', 'turn_off', 'LINUX_COMMAND', 'x', 'a'.repeat(128)]) {
      expect(parseTopic(`kp1/app/cex/tok/command/${type}`).resource).toEqual({ kind: 'command', commandType: type });
    }
  });

  it('accepts any run of up to 10 digits as a request id, kept as sent', () => {
    for (const id of ['0', '007', '1', '2147483647', '9999999999', '0000000000']) {
      expect(parseTopic(`kp1/app/dcx/tok/json/${id}`).requestId).toBe(id);
    }
  });

  it('accepts tokens of up to 128 characters, non-ASCII included', () => {
    expect(parseTopic(`kp1/app/dcx/${'t'.repeat(128)}/json`).token).toBe('t'.repeat(128));
    expect(parseTopic('kp1/app/dcx/tök-_~!$/json').token).toBe('tök-_~!$');
  });

  it.each([
    // [kp1 §1] levels are exact, an empty level is malformed
    ['kp1/app/dcx/tok/json/', 'trailing slash'],
    ['kp1/app//dcx/tok/json', 'doubled slash'],
    ['/kp1/app/dcx/tok/json', 'leading slash'],
    ['kp1/app/cex/tok/command//5', 'empty command type'],
    ['', 'empty topic'],
    // request ids longer than 10 digits
    ['kp1/app/dcx/tok/json/12345678901', '11 digits'],
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
    expect(failure(() => parseTopic(topic)).statusCode).toBe(400);
  });

  it.each([
    ['kp2/app/dcx/tok/json', 'another protocol'],
    ['KP1/app/dcx/tok/json', 'prefix is case-sensitive'],
    ['kp1', 'prefix only'],
    ['kp1/app/cex/tok', 'no resource'],
    ['kp1/app/cmx/tok/config/json', 'unknown extension'],
    ['kp1/app/epmx/tok/get/all', 'unknown epmx resource'],
    ['kp1/app/CEX/tok/command/reboot', 'extension is case-sensitive'],
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
    expect(failure(() => parseTopic(topic)).statusCode).toBe(404);
  });

  it('takes a trailing request id on HTTP paths too (Kaa HTTP API)', () => {
    for (const path of ['cex/tok/command/reboot/5', 'cex/tok/result/reboot/5', 'dcx/tok/json/5']) {
      expect(parseHttpPath(`/kp1/app/${path}`)).toEqual(parseTopic(`kp1/app/${path}`));
      expect(parseHttpPath(`/kp1/app/${path}`).requestId).toBe('5');
    }
  });

  it('names the offending part in the reason phrase', () => {
    expect(failure(() => parseTopic('kp1/app/cex/tok/command/bad.type')).reasonPhrase).toContain('"bad.type"');
    expect(failure(() => parseTopic('kp1/app/foo/tok/x')).reasonPhrase).toContain('"foo"');
    expect(failure(() => parseTopic('kp1/app/dcx/tok/json/12345678901')).reasonPhrase).toContain('Bad request id "12345678901"');
  });

  it('cuts long echoed input in reason phrases', () => {
    const f = failure(() => parseTopic(`kp1/app/dcx/${'t'.repeat(1000)}/json`));
    expect(f.statusCode).toBe(400);
    expect(f.reasonPhrase.length).toBeLessThan(250);
  });
});

describe('parseHttpPath', () => {
  it('parses a path into the same request as the topic, without request id', () => {
    expect(parseHttpPath('/kp1/app/cex/tok/command/reboot')).toEqual(
      parseTopic('kp1/app/cex/tok/command/reboot'),
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
    const request = parseTopic('kp1/app/cex/tok/command/reboot/3');
    expect(isResponseTopic(statusTopic(request) as string)).toBe(true);
    expect(isResponseTopic(errorTopic(request.topic))).toBe(true);
    expect(isResponseTopic(pushTopic('app', 'tok', 'reboot'))).toBe(true);
  });
});

describe('reply topics', () => {
  it('sends success replies to the request topic + /status only with a request id', () => {
    expect(statusTopic(parseTopic('kp1/app/cex/tok/command/reboot/42'))).toBe(
      'kp1/app/cex/tok/command/reboot/42/status',
    );
    expect(statusTopic(parseTopic('kp1/app/cex/tok/command/reboot'))).toBeUndefined();
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
    'kp1/app/cmx/tok/#',
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
