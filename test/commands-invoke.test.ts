// Commands over GraphQL: invokeCommand (validation, limits, what is stored), rerunCommand, and command(id).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { graphql } from '../src/graphql/typed.ts';
import { commandById, createEndpoint, invokeCommand, rerunCommand } from './support/api.ts';
import { gql, gqlData, startApp } from './support/app.ts';
import { errorOf, historyIds, ms } from './support/commands.ts';
import { rawQuery } from './support/db.ts';
import { CommandById, InvokeCommand, RerunCommand } from './support/documents.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

const RerunChain = graphql(`
  query RerunChain($id: ID!) { command(id: $id) { id rerunOf { id rerunOf { id rerunOf { id } } } } }
`);

async function storedCount(endpointId: string): Promise<number> {
  const [row] = await rawQuery<{ n: number | string }>('select count(*)::int as n from commands where endpoint_id = $1', [endpointId]);
  return Number(row!.n);
}

async function expectNothingStored(endpointId: string): Promise<void> {
  expect(await historyIds(app, endpointId)).toEqual([]);
  expect(await storedCount(endpointId)).toBe(0);
}

describe('invokeCommand', () => {
  it('stores a PENDING command with an integer id, the payload and the default retention of 3600 s', async () => {
    const fx = await createEndpoint(app);
    const payload = { on: true, level: 3, tags: ['a', 'b'], nested: { x: null } };
    const before = Date.now();
    const c = await invokeCommand(app, fx.endpointId, 'turn_on', payload);

    expect(c.id).toMatch(/^[1-9][0-9]*$/);
    expect(c).toMatchObject({
      commandType: 'turn_on',
      payload,
      status: 'PENDING',
      statusCode: null,
      reasonPhrase: null,
      resultPayload: null,
      executedAt: null,
      rerunOf: null,
      endpoint: { id: fx.endpointId },
    });
    expect(ms(c.expiresAt) - ms(c.createdAt)).toBe(3600 * 1000);
    // Server and test run on one machine: the creation time is "now", give or take a little.
    expect(Math.abs(ms(c.createdAt) - before)).toBeLessThan(30_000);
    expect(c.updatedAt).toBe(c.createdAt);

    expect(await commandById(app, c.id)).toEqual(c);
    const rows = await rawQuery<{ status: string; command_type: string; payload: unknown; retention: number | string }>(
      'select status, command_type, payload, extract(epoch from expires_at - created_at)::int as retention from commands where id = $1',
      [Number(c.id)],
    );
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ status: 'PENDING', command_type: 'turn_on', payload });
    expect(Number(rows[0]!.retention)).toBe(3600);
  });

  it('stores a null payload when none is given', async () => {
    const fx = await createEndpoint(app);
    const data = await gqlData(app, InvokeCommand, { input: { endpointId: fx.endpointId, commandType: 'ping' } });
    expect(data.invokeCommand.payload).toBeNull();
    expect((await commandById(app, data.invokeCommand.id)).payload).toBeNull();
  });

  it.each([1, 120, 604800])('uses an explicit retention of %i s', async (retention) => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot', { n: 1 }, retention);
    expect(ms(c.expiresAt) - ms(c.createdAt)).toBe(retention * 1000);
  });

  it('accepts a command type of 128 characters', async () => {
    const fx = await createEndpoint(app);
    const type = 'A_z-9'.repeat(25) + 'abc';
    expect(type).toHaveLength(128);
    const c = await invokeCommand(app, fx.endpointId, type);
    expect(c.commandType).toBe(type);
  });

  it.each(['00000000-0000-0000-0000-000000000000', 'not-an-endpoint'])(
    'refuses the unknown endpoint %j with NOT_FOUND',
    async (endpointId) => {
      const res = await gql(app, InvokeCommand, { input: { endpointId, commandType: 'reboot' } });
      expect(errorOf(res).extensions?.code).toBe('NOT_FOUND');
      expect(res.data?.invokeCommand ?? null).toBeNull();
      if (endpointId.includes('-0000-')) expect(await storedCount(endpointId)).toBe(0);
    },
  );

  it.each(['bad type', '', 'x'.repeat(129), 'a.b', 'a/b', 'ünïcode'])(
    'refuses the command type %j with BAD_USER_INPUT and stores nothing',
    async (commandType) => {
      const fx = await createEndpoint(app);
      const res = await gql(app, InvokeCommand, { input: { endpointId: fx.endpointId, commandType, payload: { a: 1 } } });
      const error = errorOf(res);
      expect(error.extensions?.code).toBe('BAD_USER_INPUT');
      expect(error.extensions?.field).toBe('commandType');
      await expectNothingStored(fx.endpointId);
    },
  );

  it.each([0, -1, 604801, 10 * 365 * 24 * 3600])(
    'refuses retentionSeconds %i with BAD_USER_INPUT and stores nothing',
    async (retentionSeconds) => {
      const fx = await createEndpoint(app);
      const res = await gql(app, InvokeCommand, { input: { endpointId: fx.endpointId, commandType: 'reboot', retentionSeconds } });
      const error = errorOf(res);
      expect(error.extensions?.code).toBe('BAD_USER_INPUT');
      expect(error.extensions?.field).toBe('retentionSeconds');
      expect(error.message).toContain('604800');
      await expectNothingStored(fx.endpointId);
    },
  );

  it('refuses a payload over the default limit of 64 KiB and accepts one at the limit', async () => {
    const fx = await createEndpoint(app);
    // JSON text of a string is its characters plus two quotes.
    const atLimit = await invokeCommand(app, fx.endpointId, 'big', 'x'.repeat(64 * 1024 - 2));
    expect(atLimit.payload).toHaveLength(64 * 1024 - 2);
    const res = await gql(app, InvokeCommand, {
      input: { endpointId: fx.endpointId, commandType: 'big', payload: 'x'.repeat(64 * 1024 - 1) },
    });
    expect(errorOf(res).extensions?.code).toBe('BAD_USER_INPUT');
    expect(errorOf(res).extensions?.field).toBe('payload');
    expect(await historyIds(app, fx.endpointId)).toEqual([atLimit.id]);
  });

  describe('with maxCommandPayloadBytes 100', () => {
    let small: App;
    beforeAll(async () => {
      small = await startApp({ maxCommandPayloadBytes: 100 });
    });
    afterAll(() => small?.stop());

    const attempt = (endpointId: string, payload: unknown) =>
      gql(small, InvokeCommand, { input: { endpointId, commandType: 'cfg', payload } });

    it('accepts a payload of exactly 100 bytes of JSON and refuses 101', async () => {
      const fx = await createEndpoint(small);
      const ok = await attempt(fx.endpointId, 'x'.repeat(98));
      expect(ok.errors).toBeUndefined();
      expect(ok.data?.invokeCommand.payload).toBe('x'.repeat(98));

      const tooBig = await attempt(fx.endpointId, 'x'.repeat(99));
      expect(errorOf(tooBig).extensions?.code).toBe('BAD_USER_INPUT');
      expect(errorOf(tooBig).message).toMatch(/101 bytes.*100/);
      expect(await historyIds(app, fx.endpointId)).toEqual([ok.data?.invokeCommand.id]);
    });

    it('counts UTF-8 bytes, not characters', async () => {
      const fx = await createEndpoint(small);
      // "é" is two bytes: 49 of them and the quotes are 100 bytes, 50 are 102 (but only 52 characters).
      const ok = await attempt(fx.endpointId, 'é'.repeat(49));
      expect(ok.errors).toBeUndefined();
      const tooBig = await attempt(fx.endpointId, 'é'.repeat(50));
      expect(errorOf(tooBig).extensions?.code).toBe('BAD_USER_INPUT');
      expect(await storedCount(fx.endpointId)).toBe(1);
    });

    it('refuses a large object payload and stores nothing', async () => {
      const fx = await createEndpoint(small);
      const payload = Object.fromEntries(Array.from({ length: 20 }, (_, i) => [`key${i}`, i]));
      const res = await attempt(fx.endpointId, payload);
      expect(errorOf(res).extensions?.code).toBe('BAD_USER_INPUT');
      await expectNothingStored(fx.endpointId);
    });
  });
});

describe('rerunCommand', () => {
  it('creates a new command with the same endpoint, type and payload, linked by rerunOf', async () => {
    const fx = await createEndpoint(app);
    const payload = { duration: 5, mode: 'soft' };
    const original = await invokeCommand(app, fx.endpointId, 'blink', payload, 90);

    const rerun = await rerunCommand(app, original.id);
    expect(rerun.id).not.toBe(original.id);
    expect(Number(rerun.id)).toBeGreaterThan(Number(original.id));
    expect(rerun).toMatchObject({
      endpoint: { id: fx.endpointId },
      commandType: 'blink',
      payload,
      status: 'PENDING',
      rerunOf: { id: original.id },
      executedAt: null,
    });
    // Without an explicit retention, the re-run gets the original's.
    expect(ms(rerun.expiresAt) - ms(rerun.createdAt)).toBe(90_000);

    const again = await rerunCommand(app, rerun.id, 30);
    expect(again.rerunOf).toEqual({ id: rerun.id });
    expect(again.payload).toEqual(payload);
    expect(ms(again.expiresAt) - ms(again.createdAt)).toBe(30_000);

    const chain = await gqlData(app, RerunChain, { id: again.id });
    expect(chain.command).toEqual({ id: again.id, rerunOf: { id: rerun.id, rerunOf: { id: original.id, rerunOf: null } } });

    // The original is untouched, and history has all three, newest first.
    expect(await commandById(app, original.id)).toEqual(original);
    expect(await historyIds(app, fx.endpointId)).toEqual([again.id, rerun.id, original.id]);
  });

  it('re-runs an executed command as a new PENDING one', async () => {
    const fx = await createEndpoint(app);
    const original = await invokeCommand(app, fx.endpointId, 'reboot', { hard: true });
    await app.services.commands.recordResults(fx.endpointId, 'reboot', [{ id: Number(original.id), statusCode: 500 }]);
    const rerun = await rerunCommand(app, original.id);
    expect(rerun).toMatchObject({ status: 'PENDING', statusCode: null, payload: { hard: true }, rerunOf: { id: original.id } });
    expect(ms(rerun.expiresAt) - ms(rerun.createdAt)).toBe(3600_000);
  });

  it.each(['999999999999', 'abc', '0'])('refuses the unknown id %j with NOT_FOUND', async (id) => {
    const res = await gql(app, RerunCommand, { id });
    expect(errorOf(res).extensions?.code).toBe('NOT_FOUND');
  });

  it.each([0, -5, 604801])('refuses an explicit retention of %i and stores nothing', async (r) => {
    const fx = await createEndpoint(app);
    const original = await invokeCommand(app, fx.endpointId, 'reboot');
    const res = await gql(app, RerunCommand, { id: original.id, retentionSeconds: r });
    expect(errorOf(res).extensions?.code).toBe('BAD_USER_INPUT');
    expect(await historyIds(app, fx.endpointId)).toEqual([original.id]);
  });
});

describe('command(id)', () => {
  it('returns the command by id', async () => {
    const fx = await createEndpoint(app);
    const a = await invokeCommand(app, fx.endpointId, 'a', 1);
    const b = await invokeCommand(app, fx.endpointId, 'b', 2);
    expect(await commandById(app, a.id)).toEqual(a);
    expect(await commandById(app, b.id)).toEqual(b);
  });

  it.each(['999999999999', 'abc', '0', '-1', '1.5', '', ' 1', '99999999999999999999', '9007199254740993'])(
    'returns null for the unknown or garbage id %j',
    async (id) => {
      const res = await gql(app, CommandById, { id });
      expect(res.errors).toBeUndefined();
      expect(res.data?.command).toBeNull();
    },
  );
});
