// Webhooks for bulk invokes: each batch command gets its command.created (and command.canceled
// on cancelCommandBatch) like a single command, and a batch gets exactly one batch.finished when
// its last PENDING command is settled, also when two servers settle its last two at once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { graphql } from '../src/graphql/typed.ts';
import { gqlData, startApp, waitFor } from './support/app.ts';
import type { Fixture } from './support/api.ts';
import { CancelCommandBatch, createFleet, invokeCommands } from './support/batches.ts';
import { rawQuery } from './support/db.ts';
import { kp1 } from './support/devices-concurrency.ts';
import { commandsIn } from './support/mqtt.ts';
import { CreateWebhook, DeleteWebhook, Receiver, Webhooks } from './support/webhooks.ts';

const FAST_RETRIES = { allowPrivateTargets: true, timeoutMs: 2_000, retryBaseMs: 50, retryMaxDelayMs: 200, retryForMs: 86_400_000 };
const usingPostgres = process.env['TEST_DB'] === 'postgres';

const BatchCommands = graphql(`
  query BatchFinished($id: ID!) {
    commandBatch(id: $id) { id finishedAt commands(first: 100) { edges { node { id endpoint { id } } } } }
  }
`);

let a: App;
let b: App;
const receivers: Receiver[] = [];
beforeAll(async () => {
  [a, b] = await Promise.all([startApp({ webhooks: FAST_RETRIES }), startApp({ webhooks: FAST_RETRIES })]);
});
afterEach(async () => {
  for (const w of (await gqlData(a, Webhooks)).webhooks) await gqlData(a, DeleteWebhook, { id: w.id });
  for (const r of receivers.splice(0)) await r.close();
});
afterAll(() => Promise.all([a?.stop(), b?.stop()]));

async function subscribe(events: ('COMMAND_CREATED' | 'COMMAND_CANCELED' | 'COMMAND_EXECUTED' | 'BATCH_FINISHED')[]): Promise<Receiver> {
  const r = await Receiver.start();
  receivers.push(r);
  await gqlData(a, CreateWebhook, { input: { url: r.url, events, description: 'batches' } });
  // Both servers learn of the webhook through NOTIFY.
  for (const type of events.map((e) => e.toLowerCase().replace('_', '.'))) {
    await waitFor(() => a.services.webhooks.outbox.wants(type) && b.services.webhooks.outbox.wants(type), 10_000);
  }
  return r;
}

/** The batch's commands with their endpoint's fixture, and its finishedAt. */
async function batchOf(id: string, fleet: Fixture[]) {
  const batch = (await gqlData(a, BatchCommands, { id })).commandBatch!;
  const commands = batch.commands.edges.map((e) => ({ id: Number(e.node.id), fx: fleet.find((f) => f.endpointId === e.node.endpoint.id)! }));
  return { finishedAt: batch.finishedAt, commands };
}

async function report(app: App, c: { id: number; fx: Fixture }, statusCode = 200) {
  expect((await kp1(app, c.fx, 'result/x', [{ id: c.id, statusCode }])).status).toBe(200);
}

/** batch.finished rows written to the outbox for this batch (what every delivery comes from). */
async function finishedRows(batchId: string): Promise<number> {
  const rows = await rawQuery<{ n: number }>(`select count(*)::int as n from webhook_events where type = 'batch.finished' and body like $1`, [`%${batchId}%`]);
  return Number(rows[0]!.n);
}

describe('webhooks for bulk invokes', () => {
  it('sends command.created for each batch command, and command.canceled for each one cancelCommandBatch cancels', async () => {
    const r = await subscribe(['COMMAND_CREATED', 'COMMAND_CANCELED']);
    const fleet = await createFleet(a, 4);
    const batch = await invokeCommands(a, { target: { applicationVersion: fleet[0]!.appVersion }, commandType: 'x', payload: { n: 1 } });
    const { commands } = await batchOf(batch.id, fleet);
    await waitFor(() => r.received.length >= 4, 10_000, () => String(r.received.length));
    expect(r.received.map((e) => e.type)).toEqual(Array(4).fill('command.created'));
    expect(r.received.map((e) => Number(e.data['id'])).sort()).toEqual(commands.map((c) => c.id).sort());
    expect(r.received.every((e) => e.data['status'] === 'PENDING' && JSON.stringify(e.data['payload']) === '{"n":1}')).toBe(true);

    await report(a, commands[0]!);
    await gqlData(b, CancelCommandBatch, { id: batch.id });
    await waitFor(() => r.received.length >= 7, 10_000, () => String(r.received.length));
    const canceled = r.received.slice(4);
    expect(canceled.map((e) => [e.type, e.data['status']])).toEqual(Array(3).fill(['command.canceled', 'CANCELED']));
    expect(canceled.map((e) => Number(e.data['id'])).sort()).toEqual(commands.slice(1).map((c) => c.id).sort());
    await new Promise((res) => setTimeout(res, 500));
    expect(r.requests).toHaveLength(7);
  });

  it('sends batch.finished once when the last result arrives, with the counts', async () => {
    const r = await subscribe(['BATCH_FINISHED']);
    const fleet = await createFleet(a, 3);
    const batch = await invokeCommands(a, { target: { applicationVersion: fleet[0]!.appVersion }, commandType: 'x' });
    const { commands } = await batchOf(batch.id, fleet);
    await report(a, commands[0]!, 200);
    await report(b, commands[1]!, 500);
    expect((await batchOf(batch.id, fleet)).finishedAt).toBeNull();
    expect(await finishedRows(batch.id)).toBe(0);
    await report(a, commands[2]!, 200);
    await waitFor(() => r.received.length >= 1, 10_000);
    const finishedAt = (await batchOf(batch.id, fleet)).finishedAt;
    expect(finishedAt).not.toBeNull();
    expect(r.received[0]).toMatchObject({
      type: 'batch.finished',
      data: {
        id: batch.id,
        commandType: 'x',
        total: 3,
        finishedAt,
        counts: { pending: 0, executed: 3, expired: 0, canceled: 0 },
        statusCodes: [{ statusCode: 200, count: 2 }, { statusCode: 500, count: 1 }],
      },
    });
    expect(await finishedRows(batch.id)).toBe(1);
  });

  it('sends batch.finished once after cancelCommandBatch, and not again on a late result', async () => {
    const r = await subscribe(['BATCH_FINISHED']);
    const fleet = await createFleet(a, 3);
    const batch = await invokeCommands(a, { target: { applicationVersion: fleet[0]!.appVersion }, commandType: 'x' });
    const { commands } = await batchOf(batch.id, fleet);
    await report(a, commands[0]!);
    const late = commandsIn((await kp1(a, commands[1]!.fx, 'command/x', {})).text)[0]!;
    const canceled = (await gqlData(b, CancelCommandBatch, { id: batch.id })).cancelCommandBatch;
    expect(canceled.counts).toEqual({ pending: 0, executed: 1, expired: 0, canceled: 2 });
    await waitFor(() => r.received.length >= 1, 10_000);
    expect(r.received[0]!.data).toMatchObject({ id: batch.id, counts: { pending: 0, executed: 1, expired: 0, canceled: 2 } });
    const finishedAt = (await batchOf(batch.id, fleet)).finishedAt;
    expect(finishedAt).not.toBeNull();

    await report(b, { id: Number(late.id), fx: commands[1]!.fx }, 204);
    expect((await rawQuery<{ status: string }>('select status::text as status from commands where id = $1', [late.id]))[0]!.status).toBe('EXECUTED');
    await new Promise((res) => setTimeout(res, 500));
    expect(r.requests).toHaveLength(1);
    expect(await finishedRows(batch.id)).toBe(1);
    expect((await batchOf(batch.id, fleet)).finishedAt).toBe(finishedAt);
  });

  it('sends batch.finished once when the sweeper expires the rest, and once when cancelCommand cancels the last one', async () => {
    const r = await subscribe(['BATCH_FINISHED']);
    const fleet = await createFleet(a, 2);
    const expiring = await invokeCommands(a, { target: { applicationVersion: fleet[0]!.appVersion }, commandType: 'x', retentionSeconds: 1 });
    await report(a, (await batchOf(expiring.id, fleet)).commands[0]!);
    await waitFor(() => r.received.length >= 1, 10_000);
    expect(r.received[0]!.data).toMatchObject({ id: expiring.id, counts: { pending: 0, executed: 1, expired: 1, canceled: 0 } });

    const canceling = await invokeCommands(a, { target: { applicationVersion: fleet[0]!.appVersion }, commandType: 'x' });
    const { commands } = await batchOf(canceling.id, fleet);
    await report(b, commands[0]!);
    await gqlData(b, 'mutation($id: ID!) { cancelCommand(id: $id) { id } }', { id: String(commands[1]!.id) });
    await waitFor(() => r.received.length >= 2, 10_000);
    expect(r.received[1]!.data).toMatchObject({ id: canceling.id, counts: { pending: 0, executed: 1, expired: 0, canceled: 1 } });
    await new Promise((res) => setTimeout(res, 300));
    expect(r.requests).toHaveLength(2);
  });

  it.skipIf(!usingPostgres)('sends one batch.finished per batch when two servers settle its last two commands at the same moment', async () => {
    const r = await subscribe(['BATCH_FINISHED']);
    const rounds = 25;
    const batches: string[] = [];
    for (let i = 0; i < rounds; i++) {
      const fleet = await createFleet(a, 2);
      const batch = await invokeCommands(a, { target: { applicationVersion: fleet[0]!.appVersion }, commandType: 'x' });
      const { commands } = await batchOf(batch.id, fleet);
      await Promise.all([report(a, commands[0]!), report(b, commands[1]!)]);
      batches.push(batch.id);
    }
    await waitFor(() => r.received.length >= rounds, 15_000, () => String(r.received.length));
    await new Promise((res) => setTimeout(res, 500));
    expect(r.received.map((e) => e.data['id']).sort()).toEqual([...batches].sort());
    for (const id of batches) expect(await finishedRows(id)).toBe(1);
  }, 60_000);
});
