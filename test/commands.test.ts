// Commands over GraphQL (invoke, re-run, read, history, expiry) and the device-side domain
// functions the kp1 adapters call (outstanding, recordResults), against a real server and database.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { DomainError } from '../src/domain/errors.ts';
import { graphql } from '../src/graphql/typed.ts';
import { commandById, commandHistory, createEndpoint, invokeCommand, rerunCommand, type Command, type HistoryFilter } from './support/api.ts';
import { gql, gqlData, startApp, waitFor, type GqlResponse } from './support/app.ts';
import { CommandById, CommandHistory, InvokeCommand, RerunCommand, type CommandPage } from './support/documents.ts';
import { rawQuery } from './support/db.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

const RerunChain = graphql(`
  query RerunChain($id: ID!) { command(id: $id) { id rerunOf { id rerunOf { id rerunOf { id } } } } }
`);

const ms = (iso: string | null) => Date.parse(iso!);

function errorOf(res: GqlResponse<unknown>) {
  expect(res.errors, JSON.stringify(res)).toHaveLength(1);
  return res.errors![0]!;
}

async function historyIds(endpointId: string, filter: HistoryFilter = {}): Promise<string[]> {
  return (await commandHistory(app, endpointId, { first: 100, ...filter })).edges.map((e) => e.node.id);
}

async function storedCount(endpointId: string): Promise<number> {
  const [row] = await rawQuery<{ n: number | string }>('select count(*)::int as n from commands where endpoint_id = $1', [endpointId]);
  return Number(row!.n);
}

async function expectNothingStored(endpointId: string): Promise<void> {
  expect(await historyIds(endpointId)).toEqual([]);
  expect(await storedCount(endpointId)).toBe(0);
}

async function expectDomainError(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected the call to fail').toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(code);
}

async function waitForStatus(id: string, status: Command['status'], within = 5_000): Promise<Command> {
  return waitFor(
    async () => {
      const c = await commandById(app, id);
      return c.status === status ? c : undefined;
    },
    within,
    () => `command ${id} did not become ${status}`,
  );
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
    expect(await historyIds(fx.endpointId)).toEqual([atLimit.id]);
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
      expect(await historyIds(fx.endpointId)).toEqual([ok.data?.invokeCommand.id]);
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
    expect(await historyIds(fx.endpointId)).toEqual([again.id, rerun.id, original.id]);
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
    expect(await historyIds(fx.endpointId)).toEqual([original.id]);
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

describe('commandHistory', () => {
  it('lists newest first and filters by command types and statuses, alone or combined', async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const c1 = await invokeCommand(app, fx.endpointId, 'alpha');
    const c2 = await invokeCommand(app, fx.endpointId, 'beta');
    const o1 = await invokeCommand(app, other.endpointId, 'alpha');
    const c3 = await invokeCommand(app, fx.endpointId, 'alpha');
    const c4 = await invokeCommand(app, fx.endpointId, 'gamma', null, 1);
    const c5 = await invokeCommand(app, fx.endpointId, 'beta');
    await app.services.commands.recordResults(fx.endpointId, 'alpha', [{ id: Number(c1.id), statusCode: 200 }]);
    await waitForStatus(c4.id, 'EXPIRED');

    const ids = (...cs: Command[]) => cs.map((c) => c.id);
    expect(await historyIds(fx.endpointId)).toEqual(ids(c5, c4, c3, c2, c1));
    expect(await historyIds(other.endpointId)).toEqual(ids(o1));
    expect(await historyIds(fx.endpointId, { commandTypes: ['alpha'] })).toEqual(ids(c3, c1));
    expect(await historyIds(fx.endpointId, { commandTypes: ['alpha', 'gamma'] })).toEqual(ids(c4, c3, c1));
    expect(await historyIds(fx.endpointId, { statuses: ['PENDING'] })).toEqual(ids(c5, c3, c2));
    expect(await historyIds(fx.endpointId, { statuses: ['EXPIRED'] })).toEqual(ids(c4));
    expect(await historyIds(fx.endpointId, { statuses: ['EXECUTED', 'EXPIRED'] })).toEqual(ids(c4, c1));
    expect(await historyIds(fx.endpointId, { commandTypes: ['alpha', 'beta'], statuses: ['PENDING'] })).toEqual(ids(c5, c3, c2));
    expect(await historyIds(fx.endpointId, { commandTypes: ['alpha'], statuses: ['EXECUTED'] })).toEqual(ids(c1));
    expect(await historyIds(fx.endpointId, { commandTypes: ['beta'], statuses: ['EXECUTED'] })).toEqual([]);
    expect(await historyIds(fx.endpointId, { commandTypes: ['nope'] })).toEqual([]);

    const page = await commandHistory(app, fx.endpointId, { statuses: ['PENDING'] });
    expect(page.edges.map((e) => e.node)).toMatchObject([
      { id: c5.id, commandType: 'beta', status: 'PENDING' },
      { id: c3.id, commandType: 'alpha', status: 'PENDING' },
      { id: c2.id, commandType: 'beta', status: 'PENDING' },
    ]);
  });

  it('pages with first/after without duplicates or gaps, with stable cursors while commands are added', async () => {
    const fx = await createEndpoint(app);
    const created: string[] = [];
    for (let i = 0; i < 8; i++) created.push((await invokeCommand(app, fx.endpointId, 'step', { i })).id);
    const newestFirst = [...created].reverse();

    const seen: string[] = [];
    const cursors: (string | null)[] = [];
    let after: string | null = null;
    let pages = 0;
    for (;;) {
      const page: CommandPage = await commandHistory(app, fx.endpointId, { first: 3, after });
      pages++;
      const edges = page.edges;
      seen.push(...edges.map((e) => e.node.id));
      expect(page.pageInfo.endCursor).toBe(edges.at(-1)?.cursor ?? null);
      cursors.push(page.pageInfo.endCursor);
      // New commands between page reads must not shift later pages.
      await invokeCommand(app, fx.endpointId, 'step', { late: pages });
      if (!page.pageInfo.hasNextPage) break;
      expect(edges).toHaveLength(3);
      after = page.pageInfo.endCursor;
      expect(pages).toBeLessThan(10);
    }
    expect(pages).toBe(3);
    expect(seen).toEqual(newestFirst);
    expect(new Set(seen).size).toBe(seen.length);

    // A cursor keeps meaning the same position later.
    const again = await commandHistory(app, fx.endpointId, { first: 3, after: cursors[0] });
    expect(again.edges.map((e) => e.node.id)).toEqual(newestFirst.slice(3, 6));

    // When the rest fits exactly, there is no next page.
    const rest = await commandHistory(app, fx.endpointId, { first: 5, after: cursors[0] });
    expect(rest.edges.map((e) => e.node.id)).toEqual(newestFirst.slice(3));
    expect(rest.pageInfo.hasNextPage).toBe(false);
    const oneShort = await commandHistory(app, fx.endpointId, { first: 4, after: cursors[0] });
    expect(oneShort.pageInfo.hasNextPage).toBe(true);

    // The first page now starts with the commands added meanwhile.
    const first = await commandHistory(app, fx.endpointId, { first: 3 });
    expect(first.edges.map((e) => e.node.id)).not.toContain(newestFirst[0]);
    expect(first.pageInfo.hasNextPage).toBe(true);

    const empty = await commandHistory(app, fx.endpointId, { first: 0 });
    expect(empty.edges).toEqual([]);
    expect(empty.pageInfo).toEqual({ hasNextPage: true, endCursor: null });
  });

  it('gives 20 per page by default, and an empty page for an endpoint without commands', async () => {
    const fx = await createEndpoint(app);
    const empty = await commandHistory(app, fx.endpointId);
    expect(empty).toEqual({ edges: [], pageInfo: { hasNextPage: false, endCursor: null } });
    const ids = await Promise.all(Array.from({ length: 21 }, (_, i) => invokeCommand(app, fx.endpointId, 'many', { i })));
    const page = await commandHistory(app, fx.endpointId);
    expect(page.edges).toHaveLength(20);
    expect(page.pageInfo.hasNextPage).toBe(true);
    const newest = ids.map((c) => Number(c.id)).sort((x, y) => y - x);
    expect(page.edges.map((e) => Number(e.node.id))).toEqual(newest.slice(0, 20));
  });

  it('pages within a filter', async () => {
    const fx = await createEndpoint(app);
    const wanted: string[] = [];
    for (let i = 0; i < 5; i++) {
      wanted.push((await invokeCommand(app, fx.endpointId, 'keep')).id);
      await invokeCommand(app, fx.endpointId, 'skip');
    }
    const p1 = await commandHistory(app, fx.endpointId, { commandTypes: ['keep'], first: 2 });
    const p2 = await commandHistory(app, fx.endpointId, { commandTypes: ['keep'], first: 2, after: p1.pageInfo.endCursor });
    const p3 = await commandHistory(app, fx.endpointId, { commandTypes: ['keep'], first: 2, after: p2.pageInfo.endCursor });
    const ids = [p1, p2, p3].flatMap((p) => p.edges.map((e) => e.node.id));
    expect(ids).toEqual([...wanted].reverse());
    expect([p1, p2, p3].map((p) => p.pageInfo.hasNextPage)).toEqual([true, true, false]);
  });

  it.each(['garbage', 'Y29tbWFuZDphYmM', Buffer.from('command:0').toString('base64url'), Buffer.from('other:5').toString('base64url')])(
    'refuses the cursor %j with BAD_USER_INPUT',
    async (after) => {
      const fx = await createEndpoint(app);
      await invokeCommand(app, fx.endpointId, 'x');
      const res = await gql(app, CommandHistory, { endpointId: fx.endpointId, after });
      expect(errorOf(res).extensions?.code).toBe('BAD_USER_INPUT');
    },
  );

  it('bounds the page size: 100 is fine, 101 and -1 are BAD_USER_INPUT', async () => {
    const fx = await createEndpoint(app);
    await invokeCommand(app, fx.endpointId, 'x');
    expect((await commandHistory(app, fx.endpointId, { first: 100 })).edges).toHaveLength(1);
    for (const first of [101, 1000, -1]) {
      const res = await gql(app, CommandHistory, { endpointId: fx.endpointId, first });
      expect(errorOf(res).extensions?.code).toBe('BAD_USER_INPUT');
    }
  });

  it('is NOT_FOUND for an unknown endpoint and BAD_USER_INPUT for a malformed type filter', async () => {
    const unknown = await gql(app, CommandHistory, { endpointId: '00000000-0000-0000-0000-000000000000' });
    expect(errorOf(unknown).extensions?.code).toBe('NOT_FOUND');
    const fx = await createEndpoint(app);
    const bad = await gql(app, CommandHistory, { endpointId: fx.endpointId, commandTypes: ['bad type'] });
    expect(errorOf(bad).extensions?.code).toBe('BAD_USER_INPUT');
  });
});

describe('expiry', () => {
  it('expires a PENDING command after its retention, not before its expiresAt', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'short', { a: 1 }, 1);
    expect(c.status).toBe('PENDING');
    const expired = await waitForStatus(c.id, 'EXPIRED', 5_000);
    expect(ms(expired.updatedAt)).toBeGreaterThanOrEqual(ms(expired.expiresAt));
    expect(expired).toMatchObject({ executedAt: null, statusCode: null, reasonPhrase: null, resultPayload: null });
    expect(expired.expiresAt).toBe(c.expiresAt);
    expect(expired.createdAt).toBe(c.createdAt);
  });

  it('leaves a command with a long retention PENDING', async () => {
    const fx = await createEndpoint(app);
    const long = await invokeCommand(app, fx.endpointId, 'long', null, 3600);
    const short = await invokeCommand(app, fx.endpointId, 'short', null, 1);
    await waitForStatus(short.id, 'EXPIRED', 5_000);
    expect((await commandById(app, long.id)).status).toBe('PENDING');
  });
});

describe('device side: app.services.commands', () => {
  it('outstanding() returns pending unexpired commands of one type, oldest first', async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const commands = app.services.commands;
    const p1 = await invokeCommand(app, fx.endpointId, 'sw', { n: 1 });
    const expiring = await invokeCommand(app, fx.endpointId, 'sw', { n: 2 }, 1);
    const executed = await invokeCommand(app, fx.endpointId, 'sw', { n: 3 });
    const otherType = await invokeCommand(app, fx.endpointId, 'other', { n: 4 });
    await invokeCommand(app, other.endpointId, 'sw', { n: 5 });
    const p2 = await invokeCommand(app, fx.endpointId, 'sw', { n: 6 });
    await commands.recordResults(fx.endpointId, 'sw', [{ id: Number(executed.id), statusCode: 200 }]);
    await waitForStatus(expiring.id, 'EXPIRED');

    const list = await commands.outstanding(fx.endpointId, 'sw');
    expect(list.map((c) => c.id)).toEqual([Number(p1.id), Number(p2.id)]);
    expect(list[0]).toMatchObject({ endpointId: fx.endpointId, commandType: 'sw', payload: { n: 1 }, status: 'PENDING' });
    expect(list[1]!.payload).toEqual({ n: 6 });

    expect((await commands.outstanding(fx.endpointId, 'other')).map((c) => c.id)).toEqual([Number(otherType.id)]);
    expect(await commands.outstanding(fx.endpointId, 'none')).toEqual([]);
  });

  it('recordResults() marks EXECUTED with the code, phrase and payload, visible over GraphQL', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot', { delay: 1 });
    const changed = await app.services.commands.recordResults(fx.endpointId, 'reboot', [
      { id: Number(c.id), statusCode: 200, reasonPhrase: 'OK', payload: { uptime: 5, log: ['a'] } },
    ]);
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatchObject({ id: Number(c.id), status: 'EXECUTED', statusCode: 200 });

    const seen = await commandById(app, c.id);
    expect(seen).toMatchObject({
      status: 'EXECUTED',
      statusCode: 200,
      reasonPhrase: 'OK',
      resultPayload: { uptime: 5, log: ['a'] },
      payload: { delay: 1 },
    });
    expect(ms(seen.executedAt)).toBeGreaterThanOrEqual(ms(seen.createdAt));
    expect(ms(seen.executedAt)).toBeLessThan(ms(seen.expiresAt));
    expect(seen.updatedAt).toBe(seen.executedAt);
    expect(await app.services.commands.outstanding(fx.endpointId, 'reboot')).toEqual([]);
  });

  it('records a non-2xx result as EXECUTED, and a result without phrase or payload as nulls', async () => {
    const fx = await createEndpoint(app);
    const a = await invokeCommand(app, fx.endpointId, 'open');
    const b = await invokeCommand(app, fx.endpointId, 'open');
    await app.services.commands.recordResults(fx.endpointId, 'open', [
      { id: Number(b.id), statusCode: 409, reasonPhrase: 'Door is jammed', payload: { tries: 3 } },
      { id: Number(a.id), statusCode: 500 },
    ]);
    expect(await commandById(app, b.id)).toMatchObject({
      status: 'EXECUTED',
      statusCode: 409,
      reasonPhrase: 'Door is jammed',
      resultPayload: { tries: 3 },
    });
    expect(await commandById(app, a.id)).toMatchObject({ status: 'EXECUTED', statusCode: 500, reasonPhrase: null, resultPayload: null });
  });

  it('keeps the first result when a duplicate arrives', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'dup');
    const commands = app.services.commands;
    await commands.recordResults(fx.endpointId, 'dup', [{ id: Number(c.id), statusCode: 200, reasonPhrase: 'first', payload: { n: 1 } }]);
    const firstSeen = await commandById(app, c.id);
    const again = await commands.recordResults(fx.endpointId, 'dup', [
      { id: Number(c.id), statusCode: 500, reasonPhrase: 'second', payload: { n: 2 } },
    ]);
    expect(again).toEqual([]);
    expect(await commandById(app, c.id)).toEqual(firstSeen);
    expect(firstSeen).toMatchObject({ statusCode: 200, reasonPhrase: 'first', resultPayload: { n: 1 } });
  });

  it('lands a result that arrives after expiry', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'late', null, 1);
    await waitForStatus(c.id, 'EXPIRED');
    const changed = await app.services.commands.recordResults(fx.endpointId, 'late', [
      { id: Number(c.id), statusCode: 200, reasonPhrase: 'finally' },
    ]);
    expect(changed.map((x) => x.status)).toEqual(['EXECUTED']);
    const seen = await commandById(app, c.id);
    expect(seen).toMatchObject({ status: 'EXECUTED', statusCode: 200, reasonPhrase: 'finally' });
    expect(ms(seen.executedAt)).toBeGreaterThan(ms(seen.expiresAt));
  });

  it('refuses an unknown id, or one of another endpoint or type, with NOT_FOUND and changes nothing', async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const commands = app.services.commands;
    const mine = await invokeCommand(app, fx.endpointId, 'sw');
    const theirs = await invokeCommand(app, other.endpointId, 'sw');

    await expectDomainError(commands.recordResults(fx.endpointId, 'sw', [{ id: 2 ** 50, statusCode: 200 }]), 'NOT_FOUND');
    await expectDomainError(commands.recordResults(fx.endpointId, 'sw', [{ id: Number(theirs.id), statusCode: 200 }]), 'NOT_FOUND');
    await expectDomainError(commands.recordResults(fx.endpointId, 'other', [{ id: Number(mine.id), statusCode: 200 }]), 'NOT_FOUND');

    expect(await commandById(app, mine.id)).toEqual(mine);
    expect(await commandById(app, theirs.id)).toEqual(theirs);
  });

  it('refuses a whole batch when one item is not found: the valid item stays PENDING', async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const commands = app.services.commands;
    const earlierForeign = await invokeCommand(app, other.endpointId, 'sw');
    const valid = await invokeCommand(app, fx.endpointId, 'sw');
    const laterForeign = await invokeCommand(app, other.endpointId, 'sw');
    const otherType = await invokeCommand(app, fx.endpointId, 'nope');
    const item = (id: string | number, statusCode = 200) => ({ id: Number(id), statusCode, reasonPhrase: 'x' });

    // Invalid items before and after the valid one (results are applied in id order).
    for (const batch of [
      [item(valid.id), item(2 ** 50)],
      [item(valid.id), item(laterForeign.id)],
      [item(earlierForeign.id), item(valid.id)],
      [item(otherType.id), item(valid.id)],
    ]) {
      await expectDomainError(commands.recordResults(fx.endpointId, 'sw', batch), 'NOT_FOUND');
      expect(await commandById(app, valid.id)).toEqual(valid);
    }
    for (const c of [earlierForeign, laterForeign, otherType]) expect(await commandById(app, c.id)).toEqual(c);
    expect((await commands.outstanding(fx.endpointId, 'sw')).map((c) => c.id)).toEqual([Number(valid.id)]);

    // Nothing was left half done: the valid item alone is accepted afterwards.
    const changed = await commands.recordResults(fx.endpointId, 'sw', [item(valid.id, 204)]);
    expect(changed.map((c) => c.id)).toEqual([Number(valid.id)]);
    expect((await commandById(app, valid.id)).statusCode).toBe(204);
  });

  it('treats an empty batch as a no-op', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'sw');
    expect(await app.services.commands.recordResults(fx.endpointId, 'sw', [])).toEqual([]);
    expect(await app.services.commands.recordResults('00000000-0000-0000-0000-000000000000', 'sw', [])).toEqual([]);
    expect(await commandById(app, c.id)).toEqual(c);
  });
});
