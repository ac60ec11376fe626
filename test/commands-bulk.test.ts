// Bulk invoke (issue 13, item 1): one command per endpoint, one push per MQTT device, HTTP devices
// on their next poll, counts that match the stored rows while two processes record results, and
// the batch's limits, skips, idempotency and cancel.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { graphql } from '../src/graphql/typed.ts';
import { createApiKey, createEndpoint, revokeEndpoint } from './support/api.ts';
import { ADMIN_PRINCIPAL, collect, gql, gqlData, sseSubscribe, startApp, untilSubscribed, testConfig, textOf, unique, waitFor, wsClient } from './support/app.ts';
import {
  CancelCommandBatch,
  CommandBatch,
  CommandBatches,
  CommandBatchProgress,
  createFleet,
  invokeCommands,
  InvokeCommands,
  storedCounts,
} from './support/batches.ts';
import { rawQuery } from './support/db.ts';
import { CommandStatusChanged } from './support/documents.ts';
import { kp1 } from './support/devices-concurrency.ts';
import { bindDevice, closeDevices, commandsIn, connectDevice, kp1Topic, type Device } from './support/mqtt.ts';

let a: App;
let b: App;
// 1,000 devices share one source address here; the per-address limit is for real fleets.
const manyDevices = () => ({ mqtt: { ...testConfig().mqtt, maxPublishesPerAddressPerSecond: 1_000_000 } });
beforeAll(async () => {
  [a, b] = await Promise.all([startApp(manyDevices()), startApp(manyDevices())]);
});
afterEach(() => closeDevices());
afterAll(() => Promise.all([a?.stop(), b?.stop()]));

const errorCode = (res: { errors?: { extensions?: { code?: unknown } }[] }) => res.errors?.[0]?.extensions?.code;

describe('invokeCommands', () => {
  it('pushes once to each of 1,000 MQTT devices; results through two processes leave counts equal to the stored rows', async () => {
    const fleet = await createFleet(a, 1000);
    const devices: Device[] = [];
    for (let i = 0; i < fleet.length; i += 100) {
      devices.push(...(await Promise.all(fleet.slice(i, i + 100).map((_, k) => connectDevice((i + k) % 2 === 0 ? a : b)))));
    }
    for (let i = 0; i < fleet.length; i += 100) {
      await Promise.all(fleet.slice(i, i + 100).map((fx, k) => bindDevice(devices[i + k]!, fx)));
    }
    const progress: { at: number; p: { counts: { pending: number; executed: number }; done: boolean } }[] = [];
    const client = wsClient(b);
    const batch = await invokeCommands(a, { target: { applicationVersion: fleet[0]!.appVersion }, commandType: 'blink', payload: { n: 1 } });
    expect(batch.total).toBe(1000);
    expect(batch.counts.pending).toBe(1000);
    expect(batch.target).toEqual({ kind: 'APPLICATION_VERSION', applicationVersion: fleet[0]!.appVersion, application: null, search: null, requested: 1000 });
    let ended!: () => void;
    const complete = new Promise<void>((resolve) => (ended = resolve));
    const errors: unknown[] = [];
    client.subscribe(
      { query: textOf(CommandBatchProgress), variables: { id: batch.id } },
      {
        next: (m) => m.data && progress.push({ at: Date.now(), p: (m.data as { commandBatchProgress: never }).commandBatchProgress }),
        error: (e) => (errors.push(e), ended()),
        complete: () => ended(),
      },
    );

    const pushesOf = (d: Device, fx: (typeof fleet)[number]) => d.messages.filter((m) => m.topic.startsWith(kp1Topic(fx, 'cex', 'command/blink')));
    const deadline = Date.now() + 20_000;
    while (!devices.every((d, i) => pushesOf(d, fleet[i]!).length > 0) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    const pushed = devices.map((d, i) => pushesOf(d, fleet[i]!).flatMap((m) => commandsIn(m.text)));
    expect(pushed.filter((list) => list.length !== 1)).toEqual([]);
    expect(pushed.every((list) => JSON.stringify(list[0]!.payload) === '{"n":1}')).toBe(true);

    // Half report 200 and half 500, on both processes at once.
    for (let i = 0; i < devices.length; i += 100) {
      await Promise.all(
        devices.slice(i, i + 100).map((d, k) => {
          const fx = fleet[i + k]!;
          const body = JSON.stringify([{ id: pushed[i + k]![0]!.id, statusCode: (i + k) % 2 === 0 ? 200 : 500 }]);
          return d.request(kp1Topic(fx, 'cex', 'result/blink'), body, { ms: 30_000 });
        }),
      );
    }
    await Promise.race([complete, new Promise((r) => setTimeout(r, 15_000))]);
    expect(errors).toEqual([]);
    const last = progress.at(-1)!.p;
    expect(last.done).toBe(true);
    expect(last.counts).toEqual({ pending: 0, executed: 1000, expired: 0, canceled: 0 });
    expect(await storedCounts(batch.id)).toEqual(last.counts);
    const final = (await gqlData(b, CommandBatch, { id: batch.id })).commandBatch!;
    expect(final.statusCodes).toEqual([{ statusCode: 200, count: 500 }, { statusCode: 500, count: 500 }]);
    // Coalesced: at most 5 updates a second (6 updates span a second; network jitter aside).
    for (let i = 5; i < progress.length; i++) expect(progress[i]!.at - progress[i - 5]!.at).toBeGreaterThanOrEqual(800);
    expect(progress.length).toBeGreaterThan(1);
    await client.dispose();
  }, 120_000);

  it('reaches HTTP devices on their next poll, and each command knows its batch', async () => {
    const fleet = await createFleet(a, 3);
    // The batch's one event reaches an endpoint's subscribers as that command's PENDING event.
    const client = wsClient(b);
    const sub = collect(client, CommandStatusChanged, { endpointId: fleet[1]!.endpointId });
    await untilSubscribed(sub, () => a.services.commands.invoke(ADMIN_PRINCIPAL, { endpointId: fleet[1]!.endpointId, commandType: 'probe' }));
    const batch = await invokeCommands(a, {
      target: { endpointIds: fleet.map((f) => f.endpointId.toUpperCase()) },
      commandType: 'reboot',
      payload: { at: 'now' },
    });
    expect(batch.total).toBe(3);
    expect(batch.target.kind).toBe('ENDPOINTS');
    for (const fx of fleet) {
      const poll = await kp1(b, fx, 'command/reboot', {});
      const list = commandsIn(poll.text);
      expect(list).toHaveLength(1);
      expect(list[0]!.payload).toEqual({ at: 'now' });
    }
    const detail = (await gqlData(a, CommandBatch, { id: batch.id, first: 10 })).commandBatch!;
    expect(detail.commands.edges.map((e) => e.node.endpoint.id).sort()).toEqual(fleet.map((f) => f.endpointId).sort());
    expect(detail.commands.edges.every((e) => e.node.batch?.id === batch.id)).toBe(true);
    await sub.waitFor((events) => events.some((e) => e.commandStatusChanged.commandType === 'reboot' && e.commandStatusChanged.status === 'PENDING'));
    sub.dispose();
    await client.dispose();
  });

  it('skips revoked and unknown endpoints and reports them, and composes the payload per application version', async () => {
    const fleet = await createFleet(a, 4, { names: (i) => (i < 3 ? `lamp-${i}` : `pump-${i}`) });
    await revokeEndpoint(a, fleet[1]!.endpointId);
    await a.services.schemas.set(ADMIN_PRINCIPAL, fleet[0]!.appVersion, 'dim', {
      type: 'object',
      properties: { level: { type: 'integer' }, unit: { const: 'pct' } },
      required: ['level'],
    });
    const byApp = await invokeCommands(a, { target: { application: fleet[0]!.application, search: 'LAMP' }, commandType: 'dim', payload: { level: 3 } });
    expect(byApp.total).toBe(2);
    expect(byApp.skipped).toEqual([{ endpointId: fleet[1]!.endpointId, reason: 'REVOKED' }]);
    expect(byApp.target).toMatchObject({ kind: 'APPLICATION', application: fleet[0]!.application, search: 'LAMP', requested: 3 });
    const poll = await kp1(a, fleet[0]!, 'command/dim', {});
    expect(commandsIn(poll.text).map((c) => c.payload)).toEqual([{ level: 3, unit: 'pct' }]);

    const missing = '00000000-0000-4000-8000-000000000000';
    const byIds = await invokeCommands(a, { target: { endpointIds: [fleet[0]!.endpointId, fleet[1]!.endpointId, missing, 'nope'] }, commandType: 'x' });
    expect(byIds.total).toBe(1);
    expect(byIds.skipped).toEqual([
      { endpointId: fleet[1]!.endpointId, reason: 'REVOKED' },
      { endpointId: missing, reason: 'NOT_FOUND' },
      { endpointId: 'nope', reason: 'NOT_FOUND' },
    ]);
    const invalid = await gql(a, InvokeCommands, { input: { target: { application: fleet[0]!.application }, commandType: 'dim', payload: { level: 'high' } } });
    expect(errorCode(invalid)).toBe('BAD_USER_INPUT');
  });

  it('refuses a batch over 10,000 endpoints, and a target of zero or several kinds, writing nothing', async () => {
    const operator = await createApiKey(a, 'OPERATOR');
    const fx = await createEndpoint(a);
    const ids = [fx.endpointId, ...Array.from({ length: 10_000 }, (_, i) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`)];
    const over = await gql(a, InvokeCommands, { input: { target: { endpointIds: ids }, commandType: 'x' } }, operator.secret);
    expect(errorCode(over)).toBe('BAD_USER_INPUT');
    expect(over.errors![0]!.message).toMatch(/10,?000/);
    const atLimit = await gql(a, InvokeCommands, { input: { target: { endpointIds: ids.slice(0, 10_000) }, commandType: 'y' } }, operator.secret);
    expect(atLimit.errors).toBeUndefined();
    expect(atLimit.data!.invokeCommands.total).toBe(1);
    for (const target of [{}, { endpointIds: [fx.endpointId], applicationVersion: fx.appVersion }, { applicationVersion: fx.appVersion, search: 'a' }]) {
      const res = await gql(a, InvokeCommands, { input: { target, commandType: 'x' } }, operator.secret);
      expect(errorCode(res)).toBe('BAD_USER_INPUT');
    }
    const stored = await rawQuery<{ n: number }>("select count(*)::int as n from commands where endpoint_id = $1 and command_type = 'x'", [fx.endpointId]);
    expect(Number(stored[0]!.n)).toBe(0);
    const batches = await rawQuery<{ n: number }>('select count(*)::int as n from command_batches where created_by_key_id = $1', [operator.id]);
    expect(Number(batches[0]!.n)).toBe(1);
    // Every other list argument keeps its cap of 100.
    const History = graphql(`query H($id: ID!, $types: [String!]) { commandHistory(endpointId: $id, commandTypes: $types) { edges { cursor } } }`);
    const capped = await gql(a, History, { id: fx.endpointId, types: Array.from({ length: 101 }, () => 'x') });
    expect(errorCode(capped)).toBe('BAD_USER_INPUT');
  }, 60_000);

  it('with the same idempotency key and input returns the same batch and writes nothing; another input is a CONFLICT naming the key', async () => {
    const fleet = await createFleet(a, 2);
    const key = unique('bulk-key');
    const input = { target: { endpointIds: fleet.map((f) => f.endpointId) }, commandType: 'x', payload: { a: 1 }, idempotencyKey: key };
    const first = await invokeCommands(a, input);
    const [again, onB] = await Promise.all([invokeCommands(a, input), invokeCommands(b, { ...input, target: { endpointIds: fleet.map((f) => f.endpointId.toUpperCase()) } })]);
    expect(again.id).toBe(first.id);
    expect(onB.id).toBe(first.id);
    const rows = await rawQuery<{ n: number }>('select count(*)::int as n from commands where endpoint_id = any($1::uuid[])', [fleet.map((f) => f.endpointId)]);
    expect(Number(rows[0]!.n)).toBe(2);
    const other = await gql(a, InvokeCommands, { input: { ...input, payload: { a: 2 } } });
    expect(errorCode(other)).toBe('CONFLICT');
    expect(other.errors![0]!.message).toContain(key);
    // Two processes, one new key, at the same moment: one batch.
    // The same ids in another order and case are the same target.
    const reordered = await invokeCommands(b, { ...input, target: { endpointIds: fleet.map((f) => f.endpointId.toUpperCase()).reverse() } });
    expect(reordered.id).toBe(first.id);
    const raced = { ...input, idempotencyKey: unique('race') };
    const [x, y] = await Promise.all([invokeCommands(a, raced), invokeCommands(b, raced)]);
    expect(x.id).toBe(y.id);
  });

  it('cancelCommandBatch cancels what is still PENDING; a late result still lands; counts follow', async () => {
    const fleet = await createFleet(a, 3);
    const batch = await invokeCommands(a, { target: { applicationVersion: fleet[0]!.appVersion }, commandType: 'x' });
    const polled = commandsIn((await kp1(a, fleet[0]!, 'command/x', {})).text);
    await kp1(a, fleet[0]!, 'result/x', [{ id: polled[0]!.id, statusCode: 200 }]);
    const late = commandsIn((await kp1(a, fleet[1]!, 'command/x', {})).text)[0]!;

    const client = wsClient(a);
    const sub = collect(client, CommandStatusChanged, { endpointId: fleet[2]!.endpointId });
    await untilSubscribed(sub, () => a.services.commands.invoke(ADMIN_PRINCIPAL, { endpointId: fleet[2]!.endpointId, commandType: 'probe' }));
    const canceled = (await gqlData(b, CancelCommandBatch, { id: batch.id })).cancelCommandBatch;
    expect(canceled.counts).toEqual({ pending: 0, executed: 1, expired: 0, canceled: 2 });
    expect(canceled.done).toBe(true);
    expect(commandsIn((await kp1(a, fleet[2]!, 'command/x', {})).text)).toEqual([]);
    // The cancel's one event reaches the endpoint's subscribers as that command's CANCELED event.
    await sub.waitFor((events) => events.some((e) => e.commandStatusChanged.commandType === 'x' && e.commandStatusChanged.status === 'CANCELED'));
    sub.dispose();
    await client.dispose();
    const result = await kp1(b, fleet[1]!, 'result/x', [{ id: late.id, statusCode: 204 }]);
    expect(result.status).toBe(200);
    const after = (await gqlData(a, CommandBatch, { id: batch.id, statuses: ['EXECUTED'] })).commandBatch!;
    expect(after.counts).toEqual({ pending: 0, executed: 2, expired: 0, canceled: 1 });
    expect(after.commands.edges.find((e) => e.node.id === String(late.id))!.node.canceledAt).not.toBeNull();
    expect(await storedCounts(batch.id)).toEqual(after.counts);
    const unknown = await gql(a, CancelCommandBatch, { id: '00000000-0000-4000-8000-000000000000' });
    expect(errorCode(unknown)).toBe('NOT_FOUND');
  });

  it('follows the roles: a VIEWER reads, pages and subscribes, only an OPERATOR invokes and cancels', async () => {
    const viewer = await createApiKey(a, 'VIEWER');
    const fleet = await createFleet(a, 1);
    const input = { target: { endpointIds: [fleet[0]!.endpointId] }, commandType: 'x' };
    expect(errorCode(await gql(a, InvokeCommands, { input }, viewer.secret))).toBe('FORBIDDEN');
    expect(errorCode(await gql(a, InvokeCommands, { input }, null))).toBe('UNAUTHENTICATED');
    const older = await invokeCommands(a, input);
    const newer = await invokeCommands(a, input);
    expect(errorCode(await gql(a, CancelCommandBatch, { id: newer.id }, viewer.secret))).toBe('FORBIDDEN');
    expect((await gqlData(a, CommandBatch, { id: newer.id }, viewer.secret)).commandBatch!.id).toBe(newer.id);
    const page1 = (await gqlData(a, CommandBatches, { first: 1 }, viewer.secret)).commandBatches;
    expect(page1.edges[0]!.node.id).toBe(newer.id);
    const page2 = (await gqlData(a, CommandBatches, { first: 1, after: page1.pageInfo.endCursor }, viewer.secret)).commandBatches;
    expect(page2.edges[0]!.node.id).toBe(older.id);
    expect(errorCode(await gql(a, CommandBatch, { id: newer.id }, null))).toBe('UNAUTHENTICATED');

    // Progress over graphql-ws as a VIEWER: the current state first, the final one after cancel.
    const client = wsClient(b, viewer.secret);
    const events: { done: boolean; counts: { canceled: number } }[] = [];
    const finished = new Promise<void>((resolve, reject) =>
      client.subscribe(
        { query: textOf(CommandBatchProgress), variables: { id: newer.id } },
        { next: (m) => void events.push((m.data as { commandBatchProgress: never }).commandBatchProgress), error: reject, complete: resolve },
      ),
    );
    while (events.length === 0) await new Promise((r) => setTimeout(r, 20));
    await gqlData(a, CancelCommandBatch, { id: newer.id });
    await finished;
    expect(events[0]!.done).toBe(false);
    expect(events.at(-1)).toMatchObject({ done: true, counts: { canceled: 1 } });
    // Over SSE too: the final state of a finished batch, then the end of the stream.
    const sse = await sseSubscribe(a, CommandBatchProgress, { id: newer.id }, viewer.secret);
    await sse.waitFor((events) => events.length > 0);
    await waitFor(() => sse.ended());
    expect(sse.events.map((e) => e.data?.commandBatchProgress.done)).toEqual([true]);
    await sse.close();
    const missing = collect(client, CommandBatchProgress, { id: '00000000-0000-4000-8000-00000000abcd' });
    await waitFor(() => missing.errors.length > 0);
    expect(JSON.stringify(missing.errors)).toMatch(/NOT_FOUND/);
    await client.dispose();
  });
});
