// Device input the database cannot store (issue 12 item 3): NUL, lone surrogates, deep nesting in
// telemetry and results are the device's fault (HTTP 400, MQTT PUBACK plus an error reply), never
// 503 "retry later"; sample timestamps the database cannot hold fall back to the arrival time; a
// real server-side failure is logged as a bounded summary, without the body.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint, invokeCommand, type Fixture } from './support/api.ts';
import { unique } from './support/app.ts';
import { commandStatus, rawQuery } from './support/db.ts';
import { closeDevices, connectDevice, kp1Topic } from './support/mqtt.ts';
import { startLoggedApp } from './support/security.ts';

let app: App;
let logText: () => string;

beforeAll(async () => {
  const logged = await startLoggedApp({}, 'info');
  app = logged.app;
  logText = logged.text;
});
afterAll(() => app?.stop());

const DEEP = 5000;
const deepArray = '['.repeat(DEEP) + ']'.repeat(DEEP);
const deepObject = '{"a":'.repeat(DEEP) + '1' + '}'.repeat(DEEP);

/** JSON texts (escapes written as JSON escapes) and what the reason phrase must name. */
const BAD_VALUES: [label: string, json: string, reason: RegExp][] = [
  ['a NUL in a string', '"a\\u0000b"', /NUL/],
  ['a NUL in a key', '{"k\\u0000":1}', /NUL/],
  ['a lone high surrogate', '"x\\ud800"', /surrogate/],
  ['a lone low surrogate in a key', '{"\\udc00":1}', /surrogate/],
  [`${DEEP} nested arrays`, deepArray, /deeper than 100/],
  [`${DEEP} nested objects`, deepObject, /deeper than 100/],
];

async function httpPost(fx: Fixture, extension: 'cex' | 'dcx', resource: string, body: string) {
  const res = await fetch(`${app.url}/kp1/${fx.appVersion}/${extension}/${fx.token}/${resource}`, { method: 'POST', body });
  const text = await res.text();
  return { status: res.status, json: (text === '' ? undefined : JSON.parse(text)) as { statusCode: number; reasonPhrase: string } };
}

async function sampleCount(endpointId: string): Promise<number> {
  const [row] = await rawQuery<{ n: number }>('select count(*)::int as n from telemetry_samples where endpoint_id = $1', [endpointId]);
  return Number(row!.n);
}

describe('telemetry the database cannot store is refused with 400', () => {
  it.each(BAD_VALUES)('%s, over HTTP and MQTT', async (_label, json, reason) => {
    const fx = await createEndpoint(app);
    for (const body of [`{"v":${json}}`, `[{"ok":1},${json}]`]) {
      const res = await httpPost(fx, 'dcx', 'json', body);
      expect(res.status, JSON.stringify(res.json)).toBe(400);
      expect(res.json).toEqual({ statusCode: 400, reasonPhrase: expect.stringMatching(reason) });

      const device = await connectDevice(app);
      // request() resolves only after the PUBACK and the reply on the request's /error topic.
      const reply = await device.request(kp1Topic(fx, 'dcx', 'json'), body);
      expect(reply.kind).toBe('error');
      expect(reply.json).toEqual({ statusCode: 400, reasonPhrase: expect.stringMatching(reason) });
      expect(device.closed).toBe(false);
    }
    expect(await sampleCount(fx.endpointId)).toBe(0);
  });
});

describe('nesting depth', () => {
  it('a body nested 100 levels is stored; 101 levels is 400', async () => {
    const fx = await createEndpoint(app);
    const nested = (levels: number) => '['.repeat(levels) + ']'.repeat(levels);
    expect((await httpPost(fx, 'dcx', 'json', nested(100))).status).toBe(200);
    expect(await sampleCount(fx.endpointId)).toBe(1);
    const res = await httpPost(fx, 'dcx', 'json', nested(101));
    expect(res.json).toEqual({ statusCode: 400, reasonPhrase: expect.stringMatching(/deeper than 100/) });
  });
});

describe('results the database cannot store are refused with 400', () => {
  const reasonPhrases = BAD_VALUES.filter(([label]) => /string/.test(label) || /high surrogate/.test(label));

  it.each(BAD_VALUES)('a payload with %s, over HTTP and MQTT', async (_label, json, reason) => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'x');
    const body = `[{"id":${c.id},"statusCode":200,"payload":{"data":${json}}}]`;
    const res = await httpPost(fx, 'cex', 'result/x', body);
    expect(res.status, JSON.stringify(res.json)).toBe(400);
    expect(res.json.reasonPhrase).toMatch(reason);
    const device = await connectDevice(app);
    const reply = await device.request(kp1Topic(fx, 'cex', 'result/x'), body);
    expect(reply.json).toEqual({ statusCode: 400, reasonPhrase: expect.stringMatching(reason) });
    expect(device.closed).toBe(false);
    expect(await commandStatus(c.id)).toBe('PENDING');
  });

  it.each(reasonPhrases)('a reasonPhrase with %s, over HTTP and MQTT', async (_label, json, reason) => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'x');
    const body = `{"id":${c.id},"statusCode":500,"reasonPhrase":${json}}`;
    const res = await httpPost(fx, 'cex', 'result/x', body);
    expect(res.status, JSON.stringify(res.json)).toBe(400);
    expect(res.json.reasonPhrase).toMatch(/reasonPhrase/);
    expect(res.json.reasonPhrase).toMatch(reason);
    const device = await connectDevice(app);
    const reply = await device.request(kp1Topic(fx, 'cex', 'result/x'), body);
    expect(reply.json).toEqual({ statusCode: 400, reasonPhrase: expect.stringMatching(reason) });
    expect(await commandStatus(c.id)).toBe('PENDING');

    // The same result without the bad character is stored.
    const fine = await httpPost(fx, 'cex', 'result/x', `{"id":${c.id},"statusCode":500,"reasonPhrase":"fine 😀"}`);
    expect(fine.status).toBe(200);
    expect(await commandStatus(c.id)).toBe('EXECUTED');
  });
});

describe('sample timestamps the database cannot hold', () => {
  it.each([
    ['year 0000 as text', '"0000-01-01T00:00:00Z"'],
    ['year 10000 as epoch ms', '253402300800000'],
    ['year -1 as epoch ms', '-62198755200000'],
  ])('%s: stored with the arrival time, the field kept as sent (HTTP and MQTT)', async (_label, timestamp) => {
    const fx = await createEndpoint(app);
    const body = `{"timestamp":${timestamp},"v":1}`;
    const before = Date.now();
    expect((await httpPost(fx, 'dcx', 'json', body)).status).toBe(200);
    const device = await connectDevice(app);
    expect((await device.request(kp1Topic(fx, 'dcx', 'json'), body)).kind).toBe('status');
    const rows = await rawQuery<{ timestamp: Date | string; received_at: Date | string; data: unknown }>(
      'select timestamp, received_at, data from telemetry_samples where endpoint_id = $1',
      [fx.endpointId],
    );
    expect(rows).toHaveLength(2);
    for (const row of rows) {
      expect(new Date(row.timestamp).getTime()).toBe(new Date(row.received_at).getTime());
      expect(new Date(row.timestamp).getTime()).toBeGreaterThanOrEqual(before - 1000);
      expect(row.data).toEqual({ timestamp: JSON.parse(timestamp), v: 1 });
    }
  });

  it('the earliest and latest storable instants are kept as sent', async () => {
    const fx = await createEndpoint(app);
    const body = '[{"timestamp":"0100-01-01T00:00:00Z"},{"timestamp":"9999-12-31T23:59:59.999Z"}]';
    expect((await httpPost(fx, 'dcx', 'json', body)).status).toBe(200);
    const rows = await rawQuery<{ t: string }>(
      `select to_char(timestamp at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS') as t from telemetry_samples where endpoint_id = $1 order by timestamp`,
      [fx.endpointId],
    );
    expect(rows.map((r) => r.t)).toEqual(['0100-01-01T00:00:00.000', '9999-12-31T23:59:59.999']);
  });
});

describe('a real server-side failure', () => {
  it('is 503 and logs a bounded summary: no body, no query parameters', async () => {
    const fx = await createEndpoint(app);
    const marker = unique('refused-by-check');
    const constraint = unique('test_check').replaceAll('-', '_');
    // A CHECK the service knows nothing about: the database refuses this one sample.
    await rawQuery(`alter table telemetry_samples add constraint ${constraint} check (data->>'marker' is distinct from '${marker}') not valid`);
    try {
      const filler = 'f'.repeat(20_000);
      const res = await httpPost(fx, 'dcx', 'json', JSON.stringify({ marker, filler }));
      expect(res.status).toBe(503);
      expect(res.json).toEqual({ statusCode: 503, reasonPhrase: 'The server cannot store the request now; retry later' });
      const device = await connectDevice(app);
      expect((await device.request(kp1Topic(fx, 'dcx', 'json'), JSON.stringify({ marker: 'fine' }))).kind).toBe('status');
      const lines = logText().split('\n').filter((l) => l.includes('kp1 request failed on the server side'));
      expect(lines).toHaveLength(1);
      const line = lines[0]!;
      expect(line).toContain(constraint); // the cause is there
      expect(line).not.toContain(marker);
      expect(line).not.toContain('fff');
      expect(line).not.toContain(fx.endpointId); // a query parameter
      expect(line.length).toBeLessThan(4000);
    } finally {
      await rawQuery(`alter table telemetry_samples drop constraint ${constraint}`);
    }
  });
});

describe('MQTT credentials the database cannot store', () => {
  // (MQTT strings are UTF-8, so a lone surrogate cannot be sent; NUL can.)
  it('a username with a NUL is refused as bad credentials (CONNACK 4), not "server unavailable"', async () => {
    const refused = await connectDevice(app, { username: 'dev\u0000ice', password: 'secret-password' }).then(
      () => undefined,
      (error: { code?: number }) => error.code,
    );
    expect(refused).toBe(4);
  });
});
