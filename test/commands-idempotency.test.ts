// Idempotency keys on invokeCommand and rerunCommand (issue 13): a retry with the same key and
// input gets the first command back, another input is a CONFLICT, keys are per API key, and two
// servers racing with one key create one command.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { graphql } from '../src/graphql/typed.ts';
import { createApiKey, createEndpoint, invokeCommand, revokeEndpoint } from './support/api.ts';
import { gql, gqlData, startApp, unique } from './support/app.ts';
import { errorOf, historyIds } from './support/commands.ts';
import { rawQuery } from './support/db.ts';

const Invoke = graphql(`
  mutation IdemInvoke($input: InvokeCommandInput!) { invokeCommand(input: $input) { id payload invokedBy { apiKeyId } } }
`);
const Rerun = graphql(`
  mutation IdemRerun($id: ID!, $retentionSeconds: Int, $idempotencyKey: String) {
    rerunCommand(id: $id, retentionSeconds: $retentionSeconds, idempotencyKey: $idempotencyKey) { id }
  }
`);

let a: App;
let b: App;
beforeAll(async () => {
  [a, b] = await Promise.all([startApp(), startApp()]);
});
afterAll(() => Promise.all([a?.stop(), b?.stop()]));

// Keys live 24 h in a database that may outlast this run: each run uses its own.
const run = unique('run');
const k = (name: string) => `${name}-${run}`;

const input = (endpointId: string, idempotencyKey: string, payload: unknown = { level: 3 }) => ({
  endpointId,
  commandType: 'dim',
  payload,
  idempotencyKey: k(idempotencyKey),
});

describe('idempotency keys', () => {
  it('returns the first command for the same key and input, and writes nothing', async () => {
    const fx = await createEndpoint(a);
    const first = (await gqlData(a, Invoke, { input: input(fx.endpointId, 'k-1', { level: 3, at: 'x' }) })).invokeCommand;
    // The same value serialized with another key order is the same input.
    const again = (await gqlData(b, Invoke, { input: input(fx.endpointId, 'k-1', { at: 'x', level: 3 }) })).invokeCommand;
    expect(again.id).toBe(first.id);
    expect(await historyIds(a, fx.endpointId)).toEqual([first.id]);
    // A replay still works after the endpoint is revoked: nothing new is asked of it.
    await revokeEndpoint(a, fx.endpointId);
    expect((await gqlData(a, Invoke, { input: input(fx.endpointId, 'k-1', { level: 3, at: 'x' }) })).invokeCommand.id).toBe(first.id);
  });

  it('is a CONFLICT naming the key for another input', async () => {
    const fx = await createEndpoint(a);
    await gqlData(a, Invoke, { input: input(fx.endpointId, 'k-2') });
    const error = errorOf(await gql(b, Invoke, { input: input(fx.endpointId, 'k-2', { level: 4 }) }));
    expect(error.extensions?.code).toBe('CONFLICT');
    expect(error.message).toContain(`"${k('k-2')}"`);
    expect(await historyIds(a, fx.endpointId)).toHaveLength(1);
  });

  it('scopes keys per API key', async () => {
    const fx = await createEndpoint(a);
    const other = await createApiKey(a, 'OPERATOR');
    const mine = (await gqlData(a, Invoke, { input: input(fx.endpointId, 'shared') })).invokeCommand;
    const theirs = (await gqlData(b, Invoke, { input: input(fx.endpointId, 'shared') }, other.secret)).invokeCommand;
    expect(theirs.id).not.toBe(mine.id);
    expect(theirs.invokedBy?.apiKeyId).toBe(other.id);
    expect(await historyIds(a, fx.endpointId)).toHaveLength(2);
  });

  it('races: two servers, one key, 50 requests at once → one command, every answer names it', async () => {
    const fx = await createEndpoint(a);
    for (const round of [1, 2]) {
      const key = `race-${round}`;
      const answers = await Promise.all(
        Array.from({ length: 50 }, (_, i) => gql(i % 2 ? a : b, Invoke, { input: input(fx.endpointId, key, { round }) })),
      );
      const ids = new Set(answers.map((r) => r.data?.invokeCommand.id ?? JSON.stringify(r.errors)));
      expect(ids.size, [...ids].join(' ')).toBe(1);
    }
    expect(await historyIds(a, fx.endpointId)).toHaveLength(2);
  });

  it('works for rerunCommand, and a key past 24 h names a new request', async () => {
    const fx = await createEndpoint(a);
    const original = await invokeCommand(a, fx.endpointId, 'sw');
    const r1 = (await gqlData(a, Rerun, { id: original.id, idempotencyKey: k('rr') })).rerunCommand;
    expect((await gqlData(b, Rerun, { id: original.id, idempotencyKey: k('rr') })).rerunCommand.id).toBe(r1.id);
    expect(errorOf(await gql(a, Rerun, { id: original.id, retentionSeconds: 60, idempotencyKey: k('rr') })).extensions?.code).toBe('CONFLICT');
    // The same key on another operation is another input.
    expect(errorOf(await gql(a, Invoke, { input: input(fx.endpointId, 'rr') })).extensions?.code).toBe('CONFLICT');

    await rawQuery(`update idempotency_keys set created_at = now() - interval '25 hours' where key = '${k('rr')}'`);
    const r2 = (await gqlData(a, Rerun, { id: original.id, retentionSeconds: 60, idempotencyKey: k('rr') })).rerunCommand;
    expect(r2.id).not.toBe(r1.id);
    expect((await gqlData(b, Rerun, { id: original.id, retentionSeconds: 60, idempotencyKey: k('rr') })).rerunCommand.id).toBe(r2.id);
  });

  it('the sweeper deletes keys past 24 h', async () => {
    const fx = await createEndpoint(a);
    await gqlData(a, Invoke, { input: input(fx.endpointId, 'old-key') });
    await rawQuery(`update idempotency_keys set created_at = now() - interval '25 hours' where key = '${k('old-key')}'`);
    await expect
      .poll(async () => (await rawQuery(`select count(*)::int as n from idempotency_keys where key = '${k('old-key')}'`))[0], { timeout: 5_000 })
      .toEqual({ n: 0 });
  });

  it('refuses a key that is empty, too long or has spaces', async () => {
    const fx = await createEndpoint(a);
    for (const key of ['', 'a b', 'x'.repeat(256)]) {
      const error = errorOf(await gql(a, Invoke, { input: { ...input(fx.endpointId, ''), idempotencyKey: key } }));
      expect(error.extensions?.code).toBe('BAD_USER_INPUT');
      expect(error.extensions?.field).toBe('idempotencyKey');
    }
  });
});
