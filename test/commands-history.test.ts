// Command history over GraphQL: order, filters by type and status, paging and its bounds.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { commandHistory, createEndpoint, invokeCommand, type Command } from './support/api.ts';
import { gql, startApp } from './support/app.ts';
import { errorOf, historyIds, waitForStatus } from './support/commands.ts';
import { CommandHistory, type CommandPage } from './support/documents.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

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
    await waitForStatus(app, c4.id, 'EXPIRED');

    const ids = (...cs: Command[]) => cs.map((c) => c.id);
    expect(await historyIds(app, fx.endpointId)).toEqual(ids(c5, c4, c3, c2, c1));
    expect(await historyIds(app, other.endpointId)).toEqual(ids(o1));
    expect(await historyIds(app, fx.endpointId, { commandTypes: ['alpha'] })).toEqual(ids(c3, c1));
    expect(await historyIds(app, fx.endpointId, { commandTypes: ['alpha', 'gamma'] })).toEqual(ids(c4, c3, c1));
    expect(await historyIds(app, fx.endpointId, { statuses: ['PENDING'] })).toEqual(ids(c5, c3, c2));
    expect(await historyIds(app, fx.endpointId, { statuses: ['EXPIRED'] })).toEqual(ids(c4));
    expect(await historyIds(app, fx.endpointId, { statuses: ['EXECUTED', 'EXPIRED'] })).toEqual(ids(c4, c1));
    expect(await historyIds(app, fx.endpointId, { commandTypes: ['alpha', 'beta'], statuses: ['PENDING'] })).toEqual(ids(c5, c3, c2));
    expect(await historyIds(app, fx.endpointId, { commandTypes: ['alpha'], statuses: ['EXECUTED'] })).toEqual(ids(c1));
    expect(await historyIds(app, fx.endpointId, { commandTypes: ['beta'], statuses: ['EXECUTED'] })).toEqual([]);
    expect(await historyIds(app, fx.endpointId, { commandTypes: ['nope'] })).toEqual([]);

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
