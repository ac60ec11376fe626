// The checks of invokeCommand, rerunCommand and commandHistory that the other commands-* files do
// not reach: revoked and unknown endpoints (with their messages), a re-run's idempotency key and
// retention, and the page size and cursor bounds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { graphql } from '../src/graphql/typed.ts';
import { commandHistory, createEndpoint, invokeCommand, rerunCommand, revokeEndpoint } from './support/api.ts';
import { gql, gqlData, startApp, unique } from './support/app.ts';
import { errorOf, historyIds, ms } from './support/commands.ts';
import { CommandHistory, InvokeCommand, RerunCommand } from './support/documents.ts';

const Rerun = graphql(`
  mutation ChecksRerun($id: ID!, $retentionSeconds: Int, $idempotencyKey: String) {
    rerunCommand(id: $id, retentionSeconds: $retentionSeconds, idempotencyKey: $idempotencyKey) { id }
  }
`);
const Invoke = graphql(`
  mutation ChecksInvoke($input: InvokeCommandInput!) { invokeCommand(input: $input) { id } }
`);

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

const UNKNOWN = '00000000-0000-0000-0000-000000000000';

describe('invokeCommand', () => {
  it('refuses a revoked endpoint with BAD_USER_INPUT naming it, and stores nothing', async () => {
    const fx = await createEndpoint(app);
    await revokeEndpoint(app, fx.endpointId);
    const error = errorOf(await gql(app, InvokeCommand, { input: { endpointId: fx.endpointId, commandType: 'reboot' } }));
    expect([error.extensions?.code, error.message]).toEqual([
      'BAD_USER_INPUT',
      `Endpoint "${fx.endpointId}" is revoked; it cannot receive commands.`,
    ]);
    expect(await historyIds(app, fx.endpointId)).toEqual([]);
  });

  it('names the unknown endpoint in its NOT_FOUND', async () => {
    const error = errorOf(await gql(app, InvokeCommand, { input: { endpointId: UNKNOWN, commandType: 'reboot' } }));
    expect([error.extensions?.code, error.message]).toEqual(['NOT_FOUND', `No endpoint with id "${UNKNOWN}".`]);
  });

  it('takes an endpoint id in capitals as the same input of an idempotency key', async () => {
    const fx = await createEndpoint(app);
    const idempotencyKey = unique('case');
    const input = { commandType: 'dim', payload: { level: 1 }, idempotencyKey };
    const first = (await gqlData(app, Invoke, { input: { ...input, endpointId: fx.endpointId } })).invokeCommand;
    const again = (await gqlData(app, Invoke, { input: { ...input, endpointId: fx.endpointId.toUpperCase() } })).invokeCommand;
    expect(again.id).toBe(first.id);
    expect(await historyIds(app, fx.endpointId)).toEqual([first.id]);
  });
});

describe('with the smallest payload limit (2 bytes)', () => {
  let tiny: App;
  beforeAll(async () => {
    tiny = await startApp({ maxCommandPayloadBytes: 2 });
  });
  afterAll(() => tiny?.stop());

  // A missing payload is no bytes, not the 4 of the JSON text "null".
  it('accepts a command without a payload', async () => {
    const fx = await createEndpoint(tiny);
    expect((await invokeCommand(tiny, fx.endpointId, 'ping')).payload).toBeNull();
  });
});

describe('rerunCommand', () => {
  it('names the unknown command in its NOT_FOUND', async () => {
    const error = errorOf(await gql(app, RerunCommand, { id: '999999999999' }));
    expect([error.extensions?.code, error.message]).toEqual(['NOT_FOUND', 'No command with id "999999999999".']);
  });

  it('refuses a command of a revoked endpoint, but replays a key used before the revocation', async () => {
    const fx = await createEndpoint(app);
    const original = await invokeCommand(app, fx.endpointId, 'sw');
    const idempotencyKey = unique('rerun');
    const first = (await gqlData(app, Rerun, { id: original.id, idempotencyKey })).rerunCommand;
    await revokeEndpoint(app, fx.endpointId);

    expect((await gqlData(app, Rerun, { id: original.id, idempotencyKey })).rerunCommand.id).toBe(first.id);
    const error = errorOf(await gql(app, Rerun, { id: original.id }));
    expect([error.extensions?.code, error.message]).toEqual([
      'BAD_USER_INPUT',
      `Endpoint "${fx.endpointId}" is revoked; it cannot receive commands.`,
    ]);
    expect(await historyIds(app, fx.endpointId)).toEqual([first.id, original.id]);
  });

  it('takes another explicit retention with the same idempotency key as another request', async () => {
    const fx = await createEndpoint(app);
    const original = await invokeCommand(app, fx.endpointId, 'sw');
    const idempotencyKey = unique('rerun-retention');
    await gqlData(app, Rerun, { id: original.id, retentionSeconds: 60, idempotencyKey });
    const error = errorOf(await gql(app, Rerun, { id: original.id, retentionSeconds: 90, idempotencyKey }));
    expect(error.extensions?.code).toBe('CONFLICT');
    expect(await historyIds(app, fx.endpointId)).toHaveLength(2);
  });

  describe('with a maximum retention lowered since the original was invoked', () => {
    let lower: App;
    beforeAll(async () => {
      lower = await startApp({ maxRetentionSeconds: 100 });
    });
    afterAll(() => lower?.stop());

    it("gives the re-run today's maximum instead of the original's longer retention", async () => {
      const fx = await createEndpoint(app);
      const original = await invokeCommand(app, fx.endpointId, 'sw', null, 3600);
      const rerun = await rerunCommand(lower, original.id);
      expect(ms(rerun.expiresAt) - ms(rerun.createdAt)).toBe(100_000);
    });
  });
});

describe('commandHistory', () => {
  it('refuses a page size out of bounds with a message and the field', async () => {
    const fx = await createEndpoint(app);
    const error = errorOf(await gql(app, CommandHistory, { endpointId: fx.endpointId, first: 101 }));
    expect([error.extensions?.code, error.extensions?.field, error.message]).toEqual([
      'BAD_USER_INPUT',
      'first',
      '"first" must be from 0 to 100.',
    ]);
  });

  it('answers a page size of 0 with no commands and whether there are any', async () => {
    const fx = await createEndpoint(app);
    expect((await commandHistory(app, fx.endpointId, { first: 0 })).pageInfo.hasNextPage).toBe(false);
    await invokeCommand(app, fx.endpointId, 'x');
    const page = await commandHistory(app, fx.endpointId, { first: 0 });
    expect([page.edges, page.pageInfo.hasNextPage]).toEqual([[], true]);
  });

  // The other commands-history cursors are garbage, id 0 or another prefix; these are a good one with more around it.
  it.each(['xcommand:5', 'command:5x', `command:${'1'.repeat(17)}`])('refuses the cursor of %j naming it and the field', async (text) => {
    const fx = await createEndpoint(app);
    const after = Buffer.from(text).toString('base64url');
    const error = errorOf(await gql(app, CommandHistory, { endpointId: fx.endpointId, after }));
    expect([error.extensions?.code, error.extensions?.field, error.message]).toEqual([
      'BAD_USER_INPUT',
      'after',
      `"after" is not a cursor this API gave out: "${after}".`,
    ]);
  });

  it('names the unknown endpoint in its NOT_FOUND', async () => {
    const error = errorOf(await gql(app, CommandHistory, { endpointId: UNKNOWN }));
    expect([error.extensions?.code, error.message]).toEqual(['NOT_FOUND', `No endpoint with id "${UNKNOWN}".`]);
  });
});
