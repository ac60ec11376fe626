// kp1 DCX telemetry (kp1.md §3) over HTTP and MQTT, read back through GraphQL
// (`Endpoint.telemetry`, the `telemetryReceived` subscription over graphql-ws).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint, telemetry, type Fixture } from './support/api.ts';
import { collect, gql, startApp, untilSubscribed, wsClient } from './support/app.ts';
import { rawQuery } from './support/db.ts';
import { Telemetry, TelemetryReceived } from './support/documents.ts';
import { closeDevices, connectDevice, kp1Topic } from './support/mqtt.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterEach(() => closeDevices());
afterAll(() => app?.stop());

/** A field of the samples these tests send (JSON objects). */
const dataField = (name: string) => (sample: { data: unknown }) => (sample.data as Record<string, unknown>)[name];

async function sendHttp(fx: Fixture, body: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`${app.url}/kp1/${fx.appVersion}/dcx/${fx.token}/json`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
  });
  return { status: res.status, text: await res.text() };
}

async function storedCount(fx: Fixture): Promise<number> {
  const [row] = await rawQuery<{ n: number }>('select count(*)::int as n from telemetry_samples where endpoint_id = $1', [fx.endpointId]);
  return Number(row!.n);
}

const ms = (iso: string) => Date.parse(iso);

describe.each(['http', 'mqtt'] as const)('telemetry over %s', (transport) => {
  /** Sends a DCX body; returns the kp1 status code (200 for success). */
  async function send(fx: Fixture, body: string): Promise<number> {
    if (transport === 'http') {
      const res = await sendHttp(fx, body);
      if (res.status === 200) expect(res.text).toBe('');
      else expect(Object.keys(JSON.parse(res.text)).sort()).toEqual(['reasonPhrase', 'statusCode']);
      return res.status;
    }
    const device = await connectDevice(app);
    // Bound first: error replies to a connection not yet bound are a separate matter
    // (devices-mqtt.test.ts, "error replies reach a connection that is not bound").
    expect((await device.request(kp1Topic(fx, 'cex', 'command/x'), '{}')).kind).toBe('status');
    const reply = await device.request(kp1Topic(fx, 'dcx', 'json'), body);
    await device.close();
    if (reply.kind === 'status') {
      expect(reply.text).toBe('');
      return 200;
    }
    return reply.json.statusCode;
  }

  it('stores a single sample stamped with its receipt time', async () => {
    const fx = await createEndpoint(app);
    const before = Date.now();
    expect(await send(fx, JSON.stringify({ temperature: 21.5, tags: ['a'], nested: { ok: true } }))).toBe(200);
    const after = Date.now();
    const [sample, ...rest] = await telemetry(app, fx.endpointId);
    expect(rest).toEqual([]);
    if (!sample) throw new Error('no sample was stored');
    expect(sample.data).toEqual({ temperature: 21.5, tags: ['a'], nested: { ok: true } });
    expect(sample.endpoint).toEqual({ id: fx.endpointId });
    expect(sample.timestamp).toBe(sample.receivedAt);
    expect(ms(sample.receivedAt)).toBeGreaterThanOrEqual(before - 1_000);
    expect(ms(sample.receivedAt)).toBeLessThanOrEqual(after + 1_000);
  });

  it('stores any JSON value that is not an array as one sample', async () => {
    const fx = await createEndpoint(app);
    expect(await send(fx, '42')).toBe(200);
    expect(await send(fx, '"text"')).toBe(200);
    expect((await telemetry(app, fx.endpointId)).map((s) => s.data).sort()).toEqual([42, 'text']);
  });

  it('stores an array as a batch, each with its own timestamp (epoch ms or ISO) or the receipt time', async () => {
    const fx = await createEndpoint(app);
    const batch = [
      { timestamp: 1714564800000, v: 1 }, // 2024-05-01T12:00:00Z
      { timestamp: '2024-05-01T14:30:00+02:00', v: 2 }, // 12:30Z
      { timestamp: '2024-05-01T13:00:00.250Z', v: 3 },
      { v: 4 },
    ];
    const before = Date.now();
    expect(await send(fx, JSON.stringify(batch))).toBe(200);
    const samples = await telemetry(app, fx.endpointId);
    expect(samples).toHaveLength(4);
    // Newest first by the sample's own timestamp: the receipt-stamped one is the newest.
    expect(samples.map(dataField('v'))).toEqual([4, 3, 2, 1]);
    expect(samples.map((s) => s.timestamp).slice(1)).toEqual([
      '2024-05-01T13:00:00.250Z',
      '2024-05-01T12:30:00.000Z',
      '2024-05-01T12:00:00.000Z',
    ]);
    expect(ms(samples[0]!.timestamp)).toBeGreaterThanOrEqual(before - 1_000);
    // The whole batch has one receipt time; the sample keeps its timestamp field as sent.
    expect(new Set(samples.map((s) => s.receivedAt)).size).toBe(1);
    expect(samples[3]!.data).toEqual({ timestamp: 1714564800000, v: 1 });
  });

  it('an empty batch stores nothing and succeeds', async () => {
    const fx = await createEndpoint(app);
    expect(await send(fx, '[]')).toBe(200);
    expect(await storedCount(fx)).toBe(0);
  });

  it.each([
    ['an unparseable string', '{"timestamp":"yesterday"}'],
    ['a date without a time', '{"timestamp":"2024-05-01"}'],
    ['a time without an offset', '{"timestamp":"2024-05-01T12:00:00"}'],
    ['an impossible date', '{"timestamp":"2024-02-30T12:00:00Z"}'],
    ['null', '{"timestamp":null}'],
    ['a boolean', '{"timestamp":true}'],
    ['an object', '{"timestamp":{"ms":1}}'],
    ['a number out of range', '{"timestamp":1e300}'],
    ['in JavaScript range but not storable (year 275760)', '{"timestamp":8.64e15}'],
    ['before year 100', '{"timestamp":"0099-12-31T23:59:59Z"}'],
  ])('a timestamp that is %s: the sample is stored with its receipt time, the field as sent', async (_name, body) => {
    const fx = await createEndpoint(app);
    const before = Date.now();
    expect(await send(fx, body)).toBe(200);
    const [sample, ...rest] = await telemetry(app, fx.endpointId);
    expect(rest).toEqual([]);
    expect(sample!.data).toEqual(JSON.parse(body));
    expect(sample!.timestamp).toBe(sample!.receivedAt);
    expect(ms(sample!.timestamp)).toBeGreaterThanOrEqual(before - 1_000);
  });

  it('a batch with one unusable timestamp: every sample is stored, each with its own usable timestamp', async () => {
    const fx = await createEndpoint(app);
    expect(await send(fx, '[{"timestamp":1714564800000,"v":1},{"v":2},{"timestamp":"soon","v":3}]')).toBe(200);
    const samples = await telemetry(app, fx.endpointId);
    expect(samples.map((s) => (s.data as { v: number }).v).sort()).toEqual([1, 2, 3]);
    const first = samples.find((s) => (s.data as { v: number }).v === 1)!;
    expect(first.timestamp).toBe('2024-05-01T12:00:00.000Z');
    const third = samples.find((s) => (s.data as { v: number }).v === 3)!;
    expect(third.timestamp).toBe(third.receivedAt);
  });

  it('the edges of the stored range are used as sent', async () => {
    const fx = await createEndpoint(app);
    expect(await send(fx, '[{"timestamp":"0100-01-01T00:00:00Z","v":1},{"timestamp":253402300799999,"v":2}]')).toBe(200);
    const stamps = (await telemetry(app, fx.endpointId)).map((s) => s.timestamp).sort();
    expect(stamps).toEqual(['0100-01-01T00:00:00.000Z', '9999-12-31T23:59:59.999Z']);
  });

  it('400 for a body that is not JSON, and nothing is stored', async () => {
    const fx = await createEndpoint(app);
    expect(await send(fx, '{"v":')).toBe(400);
    expect(await storedCount(fx)).toBe(0);
  });
});

describe('DCX_TIMESTAMP_FIELD', () => {
  it('reads the configured field, and no field when it is empty', async () => {
    const custom = await startApp({ kp1: { errorsWithoutRequestId: 'drop', dcxTimestampField: 'ts' } });
    const none = await startApp({ kp1: { errorsWithoutRequestId: 'drop', dcxTimestampField: '' } });
    try {
      const body = '{"ts":1714564800000,"timestamp":0}';
      for (const [server, expected] of [[custom, '2024-05-01T12:00:00.000Z'], [none, undefined]] as const) {
        const fx = await createEndpoint(server);
        const res = await fetch(`${server.url}/kp1/${fx.appVersion}/dcx/${fx.token}/json`, { method: 'POST', body });
        expect(res.status).toBe(200);
        const [sample] = await telemetry(server, fx.endpointId);
        expect(sample!.data).toEqual(JSON.parse(body));
        expect(sample!.timestamp).toBe(expected ?? sample!.receivedAt);
      }
    } finally {
      await custom.stop();
      await none.stop();
    }
  });
});

describe('Endpoint.telemetry(last:)', () => {
  it('returns the newest samples first, at most `last`, default 20, and refuses out-of-range values', async () => {
    const fx = await createEndpoint(app);
    const batch = Array.from({ length: 25 }, (_, i) => ({ timestamp: 1714564800000 + i * 1000, i }));
    expect((await sendHttp(fx, JSON.stringify(batch))).status).toBe(200);

    expect((await telemetry(app, fx.endpointId, 3)).map(dataField('i'))).toEqual([24, 23, 22]);
    expect((await telemetry(app, fx.endpointId, 0))).toEqual([]);
    const all = await telemetry(app, fx.endpointId, 1000);
    expect(all.map(dataField('i'))).toEqual(Array.from({ length: 25 }, (_, i) => 24 - i));
    expect(await telemetry(app, fx.endpointId)).toHaveLength(20);

    for (const last of [-1, 1001]) {
      const res = await gql(app, Telemetry, { id: fx.endpointId, last });
      expect(res.errors?.[0]?.extensions?.code, JSON.stringify(res)).toBe('BAD_USER_INPUT');
    }
  });

  it("shows only the endpoint's own samples", async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    await sendHttp(other, '{"mine":false}');
    await sendHttp(fx, '{"mine":true}');
    expect((await telemetry(app, fx.endpointId)).map((s) => s.data)).toEqual([{ mine: true }]);
  });
});

describe('telemetryReceived', () => {
  it('emits each sample of a batch over graphql-ws, for that endpoint only', async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const ws = wsClient(app);
    try {
      const sub = collect(ws, TelemetryReceived, { endpointId: fx.endpointId });
      await untilSubscribed(sub, () => sendHttp(fx, '{"poke":true}'));
      const start = sub.events.length;

      await sendHttp(other, '{"other":true}');
      await sendHttp(fx, JSON.stringify([{ n: 1, timestamp: 1714564800000 }, { n: 2 }, { n: 3 }]));
      const device = await connectDevice(app);
      expect((await device.request(kp1Topic(fx, 'dcx', 'json'), '[{"n":4},{"n":5}]')).kind).toBe('status');

      const events = await sub.waitFor((es) => es.length >= start + 5);
      const received = events.slice(start).map((e) => e.telemetryReceived);
      expect(received.map((s) => s.data)).toEqual([{ n: 1, timestamp: 1714564800000 }, { n: 2 }, { n: 3 }, { n: 4 }, { n: 5 }]);
      expect(received[0]!.timestamp).toBe('2024-05-01T12:00:00.000Z');
      expect(received.every((s) => s.endpoint.id === fx.endpointId)).toBe(true);
      expect(sub.errors).toEqual([]);
      sub.dispose();
    } finally {
      await ws.dispose();
    }
  });

  it('refuses an unknown endpoint', async () => {
    const ws = wsClient(app);
    try {
      const sub = collect(ws, TelemetryReceived, { endpointId: '00000000-0000-0000-0000-000000000000' });
      await sub.waitFor(() => sub.errors.length > 0);
      expect(JSON.stringify(sub.errors)).toMatch(/NOT_FOUND|No endpoint/);
    } finally {
      await ws.dispose();
    }
  });
});
