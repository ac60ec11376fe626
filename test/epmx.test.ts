// Endpoint metadata, kaa-rfcs 0010 (10/EPMP, kp1.md §5): every request of the RFC over MQTT and
// HTTP, its errors as kp1 error objects, and the operator side (Endpoint.metadata,
// updateEndpointMetadata, endpoints(metadata:), endpointMetadataChanged).
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { graphql } from '../src/graphql/typed.ts';
import { createApiKey, createEndpoint, type Fixture } from './support/api.ts';
import { collect, gql, gqlData, startApp, unique, untilSubscribed, wsClient } from './support/app.ts';
import { closeDevices, connectDevice, type Device } from './support/mqtt.ts';

const Metadata = graphql(`
  query EndpointMetadata($id: ID!) { endpoint(id: $id) { id metadata } }
`);
const UpdateMetadata = graphql(`
  mutation UpdateEndpointMetadata($endpointId: ID!, $set: JSON, $replace: Boolean, $remove: [String!]) {
    updateEndpointMetadata(endpointId: $endpointId, set: $set, replace: $replace, remove: $remove) { id metadata }
  }
`);
const ByMetadata = graphql(`
  query EndpointsByMetadata($metadata: JSON, $application: String) {
    endpoints(metadata: $metadata, application: $application) { edges { node { id } } }
  }
`);
const MetadataChanged = graphql(`
  subscription EndpointMetadataChanged($endpointId: ID!) { endpointMetadataChanged(endpointId: $endpointId) { id metadata } }
`);

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterEach(() => closeDevices());
afterAll(() => app?.stop());

const metadataOf = async (fx: Fixture) => (await gqlData(app, Metadata, { id: fx.endpointId })).endpoint!.metadata;

/** One EPMX exchange: the kind of reply and its parsed body (undefined for an empty body). */
interface Answer {
  ok: boolean;
  body: any;
}
type Transport = (fx: Fixture, path: string, body: string) => Promise<Answer>;

const overHttp: Transport = async (fx, path, body) => {
  const res = await fetch(`${app.url}/kp1/${fx.appVersion}/epmx/${fx.token}/${path}`, { method: 'POST', body });
  const text = await res.text();
  if (res.ok) expect(res.status).toBe(200);
  return { ok: res.ok, body: text === '' ? undefined : JSON.parse(text) };
};

let device: Device | undefined;
const overMqtt: Transport = async (fx, path, body) => {
  device ??= await connectDevice(app);
  const reply = await device.request(`kp1/${fx.appVersion}/epmx/${fx.token}/${path}`, body);
  return { ok: reply.kind === 'status', body: reply.json };
};
afterEach(() => {
  device = undefined;
});

describe.each([
  ['MQTT', overMqtt],
  ['HTTP', overHttp],
] as const)('10/EPMP over %s', (_name, send) => {
  it('get/keys, get, update, update/keys, delete/keys as the RFC describes', async () => {
    const fx = await createEndpoint(app);
    expect(await send(fx, 'get/keys', '')).toEqual({ ok: true, body: [] });
    expect(await send(fx, 'get', '')).toEqual({ ok: true, body: {} });

    // The RFC's own example of a full update.
    const before = { name: 'Device 1', description: 'The first sensor', location: { latitude: 27.664827, longitude: -81.515754 } };
    expect(await send(fx, 'update', JSON.stringify(before))).toEqual({ ok: true, body: undefined });
    const after = { name: 'Device 1', location: { latitude: 27.112167, longitude: -81.023434 }, vendorId: 2 };
    expect(await send(fx, 'update', JSON.stringify(after))).toEqual({ ok: true, body: undefined });
    expect((await send(fx, 'get', '{}')).body).toStrictEqual(after);
    // "The server MUST ignore payload if any."
    expect(new Set((await send(fx, 'get/keys', 'anything at all')).body)).toEqual(new Set(['name', 'location', 'vendorId']));

    expect(await send(fx, 'update/keys', '{"deviceModel":"example model","name":"Sensor 1"}')).toEqual({ ok: true, body: undefined });
    expect((await send(fx, 'get', '{"keys":["name","deviceModel","absent"]}')).body).toStrictEqual({
      name: 'Sensor 1',
      deviceModel: 'example model',
    });
    expect(await send(fx, 'delete/keys', '["location","areaId"]')).toEqual({ ok: true, body: undefined });
    expect(await metadataOf(fx)).toStrictEqual({ name: 'Sensor 1', vendorId: 2, deviceModel: 'example model' });
  });

  it.each([
    ['get', '[]', 'not an object'],
    ['get', '{"keys":["a b"]}', 'a key outside the pattern'],
    ['get', '{"keys":["a","a"]}', 'a key twice'],
    ['get', '{"keys":"name"}', 'keys not an array'],
    ['get', '{"fields":["a"]}', 'an unknown field'],
    ['update', '{}', 'no key (minProperties 1)'],
    ['update', '{"bad-key":1}', 'a key outside the pattern'],
    ['update', '["name"]', 'not an object'],
    ['update', '', 'an empty body'],
    ['update/keys', '{"":1}', 'an empty key'],
    ['update/keys', '{"s":"\\u0000"}', 'a NUL in a value'],
    ['delete/keys', '[]', 'no key (minItems 1)'],
    ['delete/keys', '{"name":1}', 'an object'],
    ['delete/keys', '["name","name"]', 'a key twice'],
  ])('%s with %s (%s) is a 400 kp1 error and changes nothing', async (path, body) => {
    const fx = await createEndpoint(app);
    await send(fx, 'update', '{"name":"kept"}');
    const answer = await send(fx, path, body);
    expect(answer.ok).toBe(false);
    expect(Object.keys(answer.body).sort()).toEqual(['reasonPhrase', 'statusCode']);
    expect(answer.body.statusCode).toBe(400);
    expect(await metadataOf(fx)).toStrictEqual({ name: 'kept' });
  });

  it('401 for an unknown token, 404 for an unknown epmx resource', async () => {
    const fx = await createEndpoint(app);
    expect((await send({ ...fx, token: unique('nobody') }, 'get', '')).body.statusCode).toBe(401);
    expect((await send(fx, 'get/all', '')).body.statusCode).toBe(404);
  });
});

describe('a Kaa-style client on one MQTT connection (kaaproject/mqtt-client-python)', () => {
  it('publishes metadata (update/keys with a request id, QoS 0), data and results; every one lands', async () => {
    const fx = await createEndpoint(app);
    const client = await connectDevice(app, { clientId: 'counter' });
    const base = `kp1/${fx.appVersion}`;
    // KaaMqttClient.publish_metadata: epmx/<token>/update/keys/<random 1-99>, paho's default QoS 0.
    await client.publish(`${base}/epmx/${fx.token}/update/keys/42`, JSON.stringify({ name: 'simple counter v0', serial: 'abc' }), { qos: 0 });
    await client.next(`${base}/epmx/${fx.token}/update/keys/42/status`);
    // publish_data_collection: dcx/<token>/json/<random>.
    await client.publish(`${base}/dcx/${fx.token}/json/7`, '{"counter":1}', { qos: 0 });
    await client.next(`${base}/dcx/${fx.token}/json/7/status`);
    // A command handler: pushed on command/<name>/status, answered on result/<name> (no request id).
    const invoked = await gqlData(app, graphql(`mutation Inc($id: ID!) { invokeCommand(input: { endpointId: $id, commandType: "inc", payload: { increment: 2 } }) { id } }`), { id: fx.endpointId });
    // Never subscribed: the first kp1 publish bound the connection, so the command is pushed.
    const pushed = await client.next(`${base}/cex/${fx.token}/command/inc/status`);
    const [command] = JSON.parse(pushed.text) as { id: number }[];
    expect(command!.id).toBe(Number(invoked.invokeCommand.id));
    await client.publish(`${base}/cex/${fx.token}/result/inc`, JSON.stringify([{ id: command!.id, statusCode: 200, reasonPhrase: 'DONE', payload: { current_inc: 3 } }]), { qos: 0 });

    expect(await metadataOf(fx)).toStrictEqual({ name: 'simple counter v0', serial: 'abc' });
    const status = async () =>
      (await gqlData(app, graphql(`query C($id: ID!) { command(id: $id) { status statusCode } }`), { id: invoked.invokeCommand.id })).command;
    for (let i = 0; i < 100 && (await status())?.status !== 'EXECUTED'; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await status()).toEqual({ status: 'EXECUTED', statusCode: 200 });
    expect(client.messages.filter((m) => m.topic.endsWith('/error'))).toEqual([]);
  });
});

describe('metadata for operators', () => {
  it('updateEndpointMetadata merges, replaces and removes; the device reads the result', async () => {
    const fx = await createEndpoint(app);
    const update = (variables: { set?: unknown; replace?: boolean; remove?: string[] }) =>
      gqlData(app, UpdateMetadata, { endpointId: fx.endpointId, ...variables });
    expect((await update({ set: { name: 'A', model: 'X1' } })).updateEndpointMetadata.metadata).toStrictEqual({ name: 'A', model: 'X1' });
    expect((await update({ set: { fw: '1.2' }, remove: ['name'] })).updateEndpointMetadata.metadata).toStrictEqual({ model: 'X1', fw: '1.2' });
    expect((await update({ set: { only: true }, replace: true })).updateEndpointMetadata.metadata).toStrictEqual({ only: true });
    expect((await overHttp(fx, 'get', '')).body).toStrictEqual({ only: true });
  });

  it('refuses bad keys and values with BAD_USER_INPUT, and VIEWER keys with FORBIDDEN', async () => {
    const fx = await createEndpoint(app);
    for (const variables of [{ set: { 'no spaces': 1 } }, { set: [1] }, { remove: ['a-b'] }, { set: { big: 'x'.repeat(70_000) } }]) {
      const res = await gql(app, UpdateMetadata, { endpointId: fx.endpointId, ...variables });
      expect(res.errors?.[0]?.extensions?.code, JSON.stringify(variables).slice(0, 80)).toBe('BAD_USER_INPUT');
    }
    const viewer = await createApiKey(app, 'VIEWER');
    const refused = await gql(app, UpdateMetadata, { endpointId: fx.endpointId, set: { a: 1 } }, viewer.secret);
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN');
    const operator = await createApiKey(app, 'OPERATOR');
    expect((await gql(app, UpdateMetadata, { endpointId: fx.endpointId, set: { a: 1 } }, operator.secret)).errors).toBeUndefined();
    expect(await metadataOf(fx)).toStrictEqual({ a: 1 });
  });

  it('endpoints(metadata:) matches top-level keys by exact JSON value', async () => {
    const a = await createEndpoint(app);
    const b = await createEndpoint(app, { appVersion: a.appVersion });
    const c = await createEndpoint(app, { appVersion: a.appVersion });
    await overHttp(a, 'update', JSON.stringify({ model: 'X1', tags: ['red', 'big'], floor: 2 }));
    await overHttp(b, 'update', JSON.stringify({ model: 'X1', tags: ['red'] }));
    await overHttp(c, 'update', JSON.stringify({ model: 'X2', floor: 2 }));
    const ids = async (metadata: unknown) =>
      (await gqlData(app, ByMetadata, { metadata, application: a.application })).endpoints.edges.map((e) => e.node.id).sort();
    expect(await ids({ model: 'X1' })).toEqual([a.endpointId, b.endpointId].sort());
    expect(await ids({ model: 'X1', floor: 2 })).toEqual([a.endpointId]);
    expect(await ids({ tags: ['red'] })).toEqual([b.endpointId]);
    expect(await ids({ floor: '2' })).toEqual([]);
    expect(await ids({})).toHaveLength(3);
    const bad = await gql(app, ByMetadata, { metadata: { 'not a key': 1 } });
    expect(bad.errors?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  });

  it('endpointMetadataChanged emits the endpoint on a device change and on an operator change', async () => {
    const fx = await createEndpoint(app);
    const client = wsClient(app);
    const sub = collect(client, MetadataChanged, { endpointId: fx.endpointId });
    try {
      let n = 0;
      await untilSubscribed(sub, () => gqlData(app, UpdateMetadata, { endpointId: fx.endpointId, set: { poke: ++n } }));
      const mark = sub.events.length;
      await overMqtt(fx, 'update/keys', '{"fromDevice":true}');
      const events = await sub.waitFor((e) => e.slice(mark).some((x) => (x.endpointMetadataChanged.metadata as any).fromDevice === true));
      expect(events.at(-1)!.endpointMetadataChanged.id).toBe(fx.endpointId);
    } finally {
      sub.dispose();
      await client.dispose();
    }
  });
});
