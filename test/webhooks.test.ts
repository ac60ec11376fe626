// Webhooks end to end: a real server, a real HTTP receiver in this process, signatures checked
// with the Standard Webhooks reference library, retries, permanent failures, order and redelivery.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { Config } from '../src/config.ts';
import { createEndpoint, invokeCommand, type Fixture } from './support/api.ts';
import { gql, gqlData, startApp, waitFor } from './support/app.ts';
import {
  CreateWebhook,
  DeleteWebhook,
  RedeliverWebhookEvent,
  Receiver,
  RotateWebhookSecret,
  TestWebhook,
  UpdateWebhook,
  WebhookDeliveries,
  Webhooks,
  verify,
} from './support/webhooks.ts';

export const FAST_RETRIES: Config['webhooks'] = {
  allowPrivateTargets: true,
  timeoutMs: 2_000,
  retryBaseMs: 50,
  retryMaxDelayMs: 200,
  retryForMs: 86_400_000,
};

let app: App;
const receivers: Receiver[] = [];
beforeAll(async () => {
  app = await startApp({ webhooks: FAST_RETRIES });
});
afterEach(async () => {
  // Webhooks of one test must not receive the next one's events.
  for (const w of (await gqlData(app, Webhooks)).webhooks) await gqlData(app, DeleteWebhook, { id: w.id });
  for (const r of receivers.splice(0)) await r.close();
});
afterAll(async () => {
  await app?.stop();
});

async function receiver(): Promise<Receiver> {
  const r = await Receiver.start();
  receivers.push(r);
  return r;
}

type Events = ('COMMAND_CREATED' | 'COMMAND_EXECUTED' | 'COMMAND_EXPIRED' | 'COMMAND_CANCELED' | 'TELEMETRY_RECEIVED' | 'BATCH_FINISHED')[];

async function webhook(url: string, events: Events, extra: { statusCodes?: { from: number; to?: number }[]; applicationVersion?: string } = {}) {
  return (await gqlData(app, CreateWebhook, { input: { url, events, description: 'test', ...extra } })).createWebhook;
}

async function report(fx: Fixture, type: string, id: string, statusCode: number) {
  const res = await fetch(`${app.url}/kp1/${fx.appVersion}/cex/${fx.token}/result/${type}`, {
    method: 'POST',
    body: JSON.stringify([{ id: Number(id), statusCode, reasonPhrase: 'done' }]),
  });
  expect(res.status).toBe(200);
}

async function deliveries(webhookId: string, first = 50) {
  const { webhooks } = await gqlData(app, WebhookDeliveries, { first });
  return webhooks.find((w) => w.id === webhookId)!.deliveries.edges.map((e) => e.node);
}

describe('webhooks', () => {
  it('signs every event the Standard Webhooks way, for created, executed, canceled, expired and telemetry', async () => {
    const r = await receiver();
    const fx = await createEndpoint(app);
    const { secret, webhook: hook } = await webhook(r.url, ['COMMAND_CREATED', 'COMMAND_EXECUTED', 'COMMAND_CANCELED', 'COMMAND_EXPIRED', 'TELEMETRY_RECEIVED']);
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(hook).toMatchObject({ url: r.url, enabled: true, events: ['COMMAND_CREATED', 'COMMAND_EXECUTED', 'COMMAND_CANCELED', 'COMMAND_EXPIRED', 'TELEMETRY_RECEIVED'] });

    const executed = await invokeCommand(app, fx.endpointId, 'reboot', { delay: 5 });
    await report(fx, 'reboot', executed.id, 200);
    const canceled = await invokeCommand(app, fx.endpointId, 'reboot');
    await gqlData(app, 'mutation($id: ID!) { cancelCommand(id: $id) { id } }', { id: canceled.id });
    const expired = await invokeCommand(app, fx.endpointId, 'reboot', null, 1);
    await fetch(`${app.url}/kp1/${fx.appVersion}/dcx/${fx.token}/json`, { method: 'POST', body: JSON.stringify({ temperature: 21.5 }) });

    // This endpoint's events: on a database other test files share, commands of theirs expire too.
    const mine = () => r.received.filter((x) => x.data['endpointId'] === fx.endpointId);
    await waitFor(() => mine().length >= 7, 15_000, () => JSON.stringify(mine().map((x) => x.type)));
    // One endpoint: its events arrive in the order they committed.
    expect(mine().map((x) => [x.type, x.data['id'] ?? null])).toEqual([
      ['command.created', executed.id],
      ['command.executed', executed.id],
      ['command.created', canceled.id],
      ['command.canceled', canceled.id],
      ['command.created', expired.id],
      ['telemetry.received', null],
      ['command.expired', expired.id],
    ]);
    for (const x of mine()) {
      expect(verify(secret, x)).toEqual(JSON.parse(x.body));
      expect(() => verify(`whsec_${Buffer.from('another secret 0123456789abcdef').toString('base64')}`, x)).toThrow();
      expect(x.headers['content-type']).toBe('application/json');
    }
    expect(new Set(mine().map((x) => x.id)).size).toBe(7);
    expect(r.ofType('command.executed')[0]!.data).toMatchObject({ id: executed.id, endpointId: fx.endpointId, commandType: 'reboot', status: 'EXECUTED', statusCode: 200, payload: { delay: 5 } });
    expect(r.ofType('telemetry.received')[0]!.data).toMatchObject({ endpointId: fx.endpointId, samples: [{ data: { temperature: 21.5 } }] });
  });

  it('filters executed events by status code and by application version', async () => {
    const all = await receiver();
    const failures = await receiver();
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    await webhook(all.url, ['COMMAND_EXECUTED'], { applicationVersion: fx.appVersion });
    await webhook(failures.url, ['COMMAND_EXECUTED'], { statusCodes: [{ from: 400 }] });
    const ok = await invokeCommand(app, fx.endpointId, 't');
    const bad = await invokeCommand(app, fx.endpointId, 't');
    const elsewhere = await invokeCommand(app, other.endpointId, 't');
    await report(fx, 't', ok.id, 200);
    await report(fx, 't', bad.id, 409);
    await report(other, 't', elsewhere.id, 500);
    await waitFor(() => failures.received.length >= 2 && all.received.length >= 2, 15_000);
    await new Promise((r) => setTimeout(r, 500));
    expect(all.received.map((x) => x.data['id'])).toEqual([ok.id, bad.id]);
    expect(failures.received.map((x) => x.data['id']).sort()).toEqual([bad.id, elsewhere.id].sort());
  });

  it('retries a 500 until it succeeds: 500 three times then 200 is four deliveries, all listed', async () => {
    const r = await receiver();
    r.answer = (_req, n) => (n <= 3 ? 500 : 200);
    const fx = await createEndpoint(app);
    const { webhook: hook, secret } = await webhook(r.url, ['COMMAND_CREATED']);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    await waitFor(() => r.received.length === 1, 15_000);
    expect(r.requests.map((x) => x.id)).toEqual(Array(4).fill(r.requests[0]!.id));
    for (const x of r.requests) verify(secret, x);
    expect(r.received[0]!.data['id']).toBe(c.id);
    const list = await waitFor(async () => {
      const d = await deliveries(hook.id);
      return d.length === 4 && d;
    });
    expect(list.map((d) => [d.attempt, d.status, d.responseCode])).toEqual([
      [4, 'SUCCEEDED', 200],
      [3, 'RETRYING', 500],
      [2, 'RETRYING', 500],
      [1, 'RETRYING', 500],
    ]);
    expect(list.every((d) => d.eventId === r.requests[0]!.id && d.eventType === 'command.created')).toBe(true);
    expect(list[1]!.nextAttemptAt).not.toBeNull();
    expect(list[0]!.nextAttemptAt).toBeNull();
    // Paged, newest first.
    const { webhooks } = await gqlData(app, WebhookDeliveries, { first: 2 });
    const page = webhooks.find((w) => w.id === hook.id)!.deliveries;
    expect(page.edges.map((e) => e.node.attempt)).toEqual([4, 3]);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const next = await gqlData(app, WebhookDeliveries, { first: 2, after: page.pageInfo.endCursor });
    expect(next.webhooks.find((w) => w.id === hook.id)!.deliveries.edges.map((e) => e.node.attempt)).toEqual([2, 1]);
  });

  it('takes a 4xx (other than 408/429) as a permanent failure of that event and goes on with the next', async () => {
    const r = await receiver();
    r.answer = (_req, n) => (n === 1 ? 410 : n === 2 ? 429 : 200);
    const fx = await createEndpoint(app);
    const { webhook: hook } = await webhook(r.url, ['COMMAND_CREATED']);
    const first = await invokeCommand(app, fx.endpointId, 'a');
    const second = await invokeCommand(app, fx.endpointId, 'b');
    await waitFor(() => r.received.length === 1, 15_000);
    await new Promise((res) => setTimeout(res, 500));
    expect(r.requests.map((x) => x.data['id'])).toEqual([first.id, second.id, second.id]);
    const list = await deliveries(hook.id);
    expect(list.map((d) => [d.attempt, d.status, d.responseCode])).toEqual([
      [2, 'SUCCEEDED', 200],
      [1, 'RETRYING', 429],
      [1, 'FAILED', 410],
    ]);
  });

  it('delivers everything, in order and without gaps, to a receiver that was down for a while', async () => {
    const r = await receiver();
    await r.close();
    const a = await createEndpoint(app);
    const b = await createEndpoint(app);
    await webhook(r.url, ['COMMAND_CREATED']);
    const invoked: Record<string, string[]> = { [a.endpointId]: [], [b.endpointId]: [] };
    for (let i = 0; i < 10; i++) {
      for (const fx of [a, b]) invoked[fx.endpointId]!.push((await invokeCommand(app, fx.endpointId, `n${i}`)).id);
    }
    // Several retries fail while it is down.
    await new Promise((res) => setTimeout(res, 1_000));
    expect(r.requests).toEqual([]);
    await r.listen();
    await waitFor(() => r.received.length >= 20, 20_000, () => String(r.received.length));
    await new Promise((res) => setTimeout(res, 300));
    for (const fx of [a, b]) {
      expect(r.received.filter((x) => x.data['endpointId'] === fx.endpointId).map((x) => x.data['id'])).toEqual(invoked[fx.endpointId]);
    }
    expect(r.received).toHaveLength(20);
  });

  it('pings through the same path, rotates the secret, redelivers, and disables on request', async () => {
    const r = await receiver();
    const fx = await createEndpoint(app);
    const { webhook: hook, secret } = await webhook(r.url, ['COMMAND_CREATED']);
    const ping = (await gqlData(app, TestWebhook, { id: hook.id })).testWebhook;
    expect(ping).toMatchObject({ eventType: 'webhook.ping', attempt: 1, status: 'SUCCEEDED', responseCode: 200 });
    expect(r.received[0]!.type).toBe('webhook.ping');
    verify(secret, r.received[0]!);

    const rotated = (await gqlData(app, RotateWebhookSecret, { id: hook.id })).rotateWebhookSecret.secret;
    expect(rotated).not.toBe(secret);
    await invokeCommand(app, fx.endpointId, 'after-rotation');
    await waitFor(() => r.received.length === 2, 15_000);
    verify(rotated, r.received[1]!);
    expect(() => verify(secret, r.received[1]!)).toThrow();

    expect((await gqlData(app, RedeliverWebhookEvent, { webhookId: hook.id, eventId: r.received[1]!.id })).redeliverWebhookEvent).toBe(true);
    await waitFor(() => r.received.length === 3, 15_000);
    expect(r.received[2]!.id).toBe(r.received[1]!.id);

    const disabled = (await gqlData(app, UpdateWebhook, { id: hook.id, input: { enabled: false, description: 'paused' } })).updateWebhook;
    expect(disabled).toMatchObject({ enabled: false, description: 'paused' });
    const held = await invokeCommand(app, fx.endpointId, 'while-disabled');
    await new Promise((res) => setTimeout(res, 500));
    expect(r.received).toHaveLength(3);
    // Disabled webhooks get no rows: the event of `held` is not queued for later either.
    await gqlData(app, UpdateWebhook, { id: hook.id, input: { enabled: true } });
    const after = await invokeCommand(app, fx.endpointId, 'enabled-again');
    await waitFor(() => r.received.length === 4, 15_000);
    expect(r.received[3]!.data['id']).toBe(after.id);
    expect(r.received.some((x) => x.data['id'] === held.id)).toBe(false);
  });

  it('does not follow redirects', async () => {
    const r = await receiver();
    const elsewhere = await receiver();
    r.answer = () => 307;
    r.responseHeaders = { location: elsewhere.url };
    const fx = await createEndpoint(app);
    const { webhook: hook } = await webhook(r.url, ['COMMAND_CREATED']);
    await invokeCommand(app, fx.endpointId, 'reboot');
    await waitFor(() => r.requests.length >= 2, 15_000);
    expect(elsewhere.requests).toEqual([]);
    expect((await deliveries(hook.id)).at(-1)).toMatchObject({ attempt: 1, status: 'RETRYING', responseCode: 307 });
  });

  it('refuses bad input and non-admins', async () => {
    const res = await gql(app, CreateWebhook, { input: { url: 'ftp://example.com/', events: ['COMMAND_CREATED'], description: '' } });
    expect(res.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'url' });
    const empty = await gql(app, CreateWebhook, { input: { url: 'http://127.0.0.1:9/', events: [], description: '' } });
    expect(empty.errors?.[0]?.extensions).toMatchObject({ code: 'BAD_USER_INPUT', field: 'events' });
    const anonymous = await gql(app, Webhooks, {}, null);
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
  });
});

describe('webhooks with two servers on one database', () => {
  let other: App;
  beforeAll(async () => {
    other = await startApp({ webhooks: FAST_RETRIES });
  });
  afterAll(async () => {
    await other?.stop();
  });

  it('never delivers one event twice, and a webhook created on one server is used by the other', async () => {
    const r = await receiver();
    const endpoints = await Promise.all(Array.from({ length: 5 }, () => createEndpoint(app)));
    await webhook(r.url, ['COMMAND_CREATED']);
    // The other server learns of the new webhook through NOTIFY.
    await waitFor(() => other.services.webhooks.outbox.wants('command.created'), 10_000);
    const ids: string[] = [];
    await Promise.all(
      endpoints.map(async (fx, i) => {
        for (let n = 0; n < 20; n++) ids.push((await invokeCommand(n % 2 ? app : other, fx.endpointId, `t${i}`)).id);
      }),
    );
    await waitFor(() => r.received.length >= 100, 20_000, () => String(r.received.length));
    await new Promise((res) => setTimeout(res, 1_000));
    expect(r.requests).toHaveLength(100);
    expect(new Set(r.requests.map((x) => x.id)).size).toBe(100);
    expect(r.received.map((x) => x.data['id']).sort()).toEqual(ids.sort());
  });
});
