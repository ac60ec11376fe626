// Cancel (issue 13): PENDING → CANCELED once, never delivered again, a finished command is a
// CONFLICT, and a result after cancel still lands. Two servers on one database race cancel
// against results.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { graphql } from '../src/graphql/typed.ts';
import { createApiKey, createEndpoint, invokeCommand } from './support/api.ts';
import { collect, gql, gqlData, startApp, untilSubscribed, wsClient } from './support/app.ts';
import { errorOf, historyIds, waitForStatus } from './support/commands.ts';
import { kp1 } from './support/devices-concurrency.ts';
import { CommandStatusChanged } from './support/documents.ts';
import { rest } from './support/rest.ts';

const CancelFields = graphql(`
  fragment CancelFields on Command @_unmask {
    id
    status
    statusCode
    resultPayload
    executedAt
    canceledAt
    canceledBy { door apiKeyId name }
    invokedBy { door apiKeyId name }
  }
`);
const CancelCommand = graphql(`mutation CancelCommand($id: ID!) { cancelCommand(id: $id) { ...CancelFields } }`, [CancelFields]);
const CommandState = graphql(`query CommandState($id: ID!) { command(id: $id) { ...CancelFields } }`, [CancelFields]);

let a: App;
let b: App;
beforeAll(async () => {
  [a, b] = await Promise.all([startApp(), startApp()]);
});
afterAll(() => Promise.all([a?.stop(), b?.stop()]));

const state = async (app: App, id: string) => (await gqlData(app, CommandState, { id })).command!;

describe('cancelCommand', () => {
  it('turns a PENDING command CANCELED with when and who, and subscribers see it', async () => {
    const fx = await createEndpoint(a);
    const client = wsClient(b);
    const sub = collect(client, CommandStatusChanged, { endpointId: fx.endpointId });
    await untilSubscribed(sub, () => invokeCommand(a, fx.endpointId, 'probe'));
    const c = await invokeCommand(a, fx.endpointId, 'reboot');

    const canceled = (await gqlData(a, CancelCommand, { id: c.id })).cancelCommand;
    expect(canceled.status).toBe('CANCELED');
    expect(canceled.canceledAt).not.toBeNull();
    expect(canceled.canceledBy).toEqual({ door: 'GRAPHQL', apiKeyId: 'env:ADMIN_API_KEY', name: 'ADMIN_API_KEY' });
    expect(await state(b, c.id)).toEqual(canceled);
    await sub.waitFor((events) => events.some((e) => e.commandStatusChanged.id === c.id && e.commandStatusChanged.status === 'CANCELED'));
    sub.dispose();
    await client.dispose();
  });

  it('is never returned to a poll or in the backlog again', async () => {
    const fx = await createEndpoint(a);
    const kept = await invokeCommand(a, fx.endpointId, 'reboot');
    const c = await invokeCommand(a, fx.endpointId, 'reboot');
    await gqlData(a, CancelCommand, { id: c.id });
    const poll = await kp1(b, fx, 'command/reboot', {});
    expect(poll.status).toBe(200);
    expect((JSON.parse(poll.text) as { id: number }[]).map((x) => String(x.id))).toEqual([kept.id]);
    expect((await b.services.commands.outstanding(fx.endpointId)).map((x) => String(x.id))).toEqual([kept.id]);
  });

  it('refuses EXECUTED, EXPIRED and CANCELED commands with a CONFLICT that says which; unknown ids are NOT_FOUND', async () => {
    const fx = await createEndpoint(a);
    const executed = await invokeCommand(a, fx.endpointId, 'x');
    await a.services.commands.recordResults(fx.endpointId, 'x', [{ id: Number(executed.id), statusCode: 200 }]);
    const expired = await invokeCommand(a, fx.endpointId, 'x', null, 1);
    await waitForStatus(a, expired.id, 'EXPIRED', 5_000);
    const canceled = await invokeCommand(a, fx.endpointId, 'x');
    await gqlData(a, CancelCommand, { id: canceled.id });

    for (const [id, status] of [
      [executed.id, 'EXECUTED'],
      [expired.id, 'EXPIRED'],
      [canceled.id, 'CANCELED'],
    ] as const) {
      const error = errorOf(await gql(b, CancelCommand, { id }));
      expect(error.extensions?.code).toBe('CONFLICT');
      expect(error.message).toContain(`is ${status}`);
    }
    for (const id of ['999999999', 'nope']) {
      expect(errorOf(await gql(a, CancelCommand, { id }))).toMatchObject({
        message: `No command with id "${id}".`,
        extensions: { code: 'NOT_FOUND' },
      });
    }
  });

  it('is a status the history filters by', async () => {
    const fx = await createEndpoint(a);
    const kept = await invokeCommand(a, fx.endpointId, 'x');
    const c = await invokeCommand(a, fx.endpointId, 'x');
    await gqlData(a, CancelCommand, { id: c.id });
    expect(await historyIds(b, fx.endpointId, { statuses: ['CANCELED'] })).toEqual([c.id]);
    expect(await historyIds(b, fx.endpointId, { statuses: ['PENDING'] })).toEqual([kept.id]);
  });

  it('needs OPERATOR', async () => {
    const fx = await createEndpoint(a);
    const c = await invokeCommand(a, fx.endpointId, 'x');
    const viewer = await createApiKey(a, 'VIEWER');
    expect(errorOf(await gql(a, CancelCommand, { id: c.id }, viewer.secret)).extensions?.code).toBe('FORBIDDEN');
    expect((await state(a, c.id)).status).toBe('PENDING');
  });

  it('stores a result that arrives after cancel: EXECUTED, canceledAt kept, the device told 200', async () => {
    const fx = await createEndpoint(a);
    const c = await invokeCommand(a, fx.endpointId, 'late');
    const canceled = (await gqlData(a, CancelCommand, { id: c.id })).cancelCommand;
    const reply = await kp1(b, fx, 'result/late', [{ id: Number(c.id), statusCode: 200, payload: { done: true } }]);
    expect(reply.status).toBe(200);
    const after = await state(a, c.id);
    expect(after).toMatchObject({ status: 'EXECUTED', statusCode: 200, resultPayload: { done: true } });
    expect(after.canceledAt).toBe(canceled.canceledAt);
    expect(after.canceledBy).toEqual(canceled.canceledBy);
  });

  it('cancel racing a result on two servers, many times: one outcome each time, no lost result', async () => {
    const fx = await createEndpoint(a);
    for (let i = 0; i < 40; i++) {
      const c = await invokeCommand(i % 2 ? a : b, fx.endpointId, 'race');
      const [cancel, reply] = await Promise.all([
        gql(i % 2 ? a : b, CancelCommand, { id: c.id }),
        kp1(i % 2 ? b : a, fx, 'result/race', [{ id: Number(c.id), statusCode: 200 + (i % 7) }]),
      ]);
      expect(reply.status, `round ${i}`).toBe(200);
      const after = await state(a, c.id);
      // The result always lands; cancel either came first (and is kept) or saw EXECUTED.
      expect(after, `round ${i}`).toMatchObject({ status: 'EXECUTED', statusCode: 200 + (i % 7) });
      if (cancel.errors) {
        expect(errorOf(cancel).message, `round ${i}`).toContain('is EXECUTED');
        expect(after.canceledAt, `round ${i}`).toBeNull();
      } else {
        expect(cancel.data!.cancelCommand.status, `round ${i}`).toBe('CANCELED');
        expect(after.canceledAt, `round ${i}`).toBe(cancel.data!.cancelCommand.canceledAt);
      }
    }
  });
});

describe('invokedBy', () => {
  it('records the API key and door of an invoke and a re-run', async () => {
    const fx = await createEndpoint(a);
    const operator = await createApiKey(a, 'OPERATOR', 'invoking operator');
    const c = await invokeCommand(a, fx.endpointId, 'x');
    expect((await state(b, c.id)).invokedBy).toEqual({ door: 'GRAPHQL', apiKeyId: 'env:ADMIN_API_KEY', name: 'ADMIN_API_KEY' });
    const rerun = await gql(a, graphql(`mutation R($id: ID!) { rerunCommand(id: $id) { id } }`), { id: c.id }, operator.secret);
    expect((await state(a, rerun.data!.rerunCommand.id)).invokedBy).toEqual({
      door: 'GRAPHQL',
      apiKeyId: operator.id,
      name: 'invoking operator',
    });
  });

  it('records the REST door for an invoke through the Kaa REST API', async () => {
    const fx = await createEndpoint(a);
    const res = await rest(b, 'POST', `/endpoints/${fx.endpointId}/commands/x?awaitTimeout=0`, { body: { a: 1 } });
    expect(res.status).toBe(202);
    expect((await state(a, res.body.id)).invokedBy).toEqual({ door: 'REST', apiKeyId: 'env:ADMIN_API_KEY', name: 'ADMIN_API_KEY' });
  });
});
