// Kaa's CEX REST API, reading: one command, the last of a type, lists (per endpoint, per
// application with pages), the last of each endpoint and type, DELETE (cancel) and the batch
// resources (not available yet), with a plain HTTP client (docs/kaa-rest.md).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createApiKey, createEndpoint, invokeCommand } from './support/api.ts';
import { ADMIN_PRINCIPAL, startApp } from './support/app.ts';
import { rest } from './support/rest.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

const ids = (list: { id: string }[]) => list.map((c) => c.id);

describe('one command', () => {
  it('GETs a command only under its own endpoint and type', async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot', { a: 1 });
    const ok = await rest(app, 'GET', `/endpoints/${fx.endpointId}/commands/reboot/${c.id}`);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ id: c.id, endpointId: fx.endpointId, commandType: 'reboot', payload: { a: 1 }, status: 'PENDING' });
    // Endpoint ids are case-insensitive, as in GraphQL.
    expect((await rest(app, 'GET', `/endpoints/${fx.endpointId.toUpperCase()}/commands/reboot/${c.id}`)).status).toBe(200);
    for (const path of [
      `/endpoints/${other.endpointId}/commands/reboot/${c.id}`,
      `/endpoints/${fx.endpointId}/commands/other/${c.id}`,
      `/endpoints/${fx.endpointId}/commands/reboot/999999999`,
      `/endpoints/${fx.endpointId}/commands/reboot/abc`,
    ]) {
      const res = await rest(app, 'GET', path);
      expect(res.status, path).toBe(404);
      expect(res.body).toMatchObject({ status: 404, error: 'Not Found', path: `/cex/api/v1${path}` });
    }
  });

  it('GET …/{commandType}/last is the newest command of the type; 404 when there is none', async () => {
    const fx = await createEndpoint(app);
    await invokeCommand(app, fx.endpointId, 'sw', { n: 1 });
    const newest = await invokeCommand(app, fx.endpointId, 'sw', { n: 2 });
    await invokeCommand(app, fx.endpointId, 'other', { n: 3 });
    const last = await rest(app, 'GET', `/endpoints/${fx.endpointId}/commands/sw/last`);
    expect(last.status).toBe(200);
    expect(last.body).toMatchObject({ id: newest.id, payload: { n: 2 } });
    expect((await rest(app, 'GET', `/endpoints/${fx.endpointId}/commands/never/last`)).status).toBe(404);
    expect((await rest(app, 'GET', `/endpoints/00000000-0000-4000-8000-000000000000/commands/sw/last`)).status).toBe(404);
  });

  it('DELETE cancels a PENDING command (200 with it); 409 when finished; 404 and 403 as for the rest', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot');
    const path = `/endpoints/${fx.endpointId}/commands/reboot/${c.id}`;
    const viewer = await createApiKey(app, 'VIEWER');
    expect((await rest(app, 'DELETE', path, { key: viewer.secret })).status).toBe(403);
    const res = await rest(app, 'DELETE', path);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ id: c.id, status: 'CANCELED' });
    expect(res.body.canceledAt).not.toBeNull();
    expect((await rest(app, 'GET', path)).body).toEqual(res.body);
    expect((await app.services.commands.command(ADMIN_PRINCIPAL, c.id))!.canceledBy).toMatchObject({ door: 'REST' });
    const again = await rest(app, 'DELETE', path);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ status: 409, error: 'Conflict' });
    expect(again.body.message).toContain('is CANCELED');
    expect((await rest(app, 'DELETE', `/endpoints/${fx.endpointId}/commands/reboot/999999999`)).status).toBe(404);
  });
});

describe('lists', () => {
  it('GET /endpoints/commands?endpointId=&commandTypes= pages one endpoint, newest first', async () => {
    const fx = await createEndpoint(app);
    const a = await invokeCommand(app, fx.endpointId, 'a');
    const b = await invokeCommand(app, fx.endpointId, 'b');
    const c = await invokeCommand(app, fx.endpointId, 'c');
    const all = await rest(app, 'GET', `/endpoints/commands?endpointId=${fx.endpointId}`);
    expect(all.status).toBe(200);
    expect(all.body).toMatchObject({ number: 0, size: 20, numberOfElements: 3, first: true, last: true, empty: false });
    expect(ids(all.body.content)).toEqual([c.id, b.id, a.id]);
    const some = await rest(app, 'GET', `/endpoints/commands?endpointId=${fx.endpointId}&commandTypes=a,c`);
    expect(ids(some.body.content)).toEqual([c.id, a.id]);
    const repeated = await rest(app, 'GET', `/endpoints/commands?endpointId=${fx.endpointId}&commandTypes=a&commandTypes=b`);
    expect(ids(repeated.body.content)).toEqual([b.id, a.id]);
    expect((await rest(app, 'GET', '/endpoints/commands')).status).toBe(400);
    expect((await rest(app, 'GET', '/endpoints/commands?endpointId=00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });

  it('reaches pages beyond the first 100 rows', async () => {
    const fx = await createEndpoint(app);
    const made = await Promise.all(
      Array.from({ length: 205 }, (_, n) => app.services.commands.invoke(ADMIN_PRINCIPAL, { endpointId: fx.endpointId, commandType: 'bulk', payload: { n } })),
    );
    const oldestFirst = made.map((c) => String(c.id)).sort((a, b) => Number(a) - Number(b));
    const third = await rest(app, 'GET', `/endpoints/commands?endpointId=${fx.endpointId}&size=100&page=2`);
    expect(third.body).toMatchObject({ number: 2, numberOfElements: 5, last: true });
    expect(ids(third.body.content)).toEqual(oldestFirst.slice(0, 5).reverse());
    const second = await rest(app, 'GET', `/endpoints/commands?endpointId=${fx.endpointId}&size=60&page=2`);
    expect(ids(second.body.content)).toEqual(oldestFirst.slice(25, 85).reverse());
  });

  it('GET /endpoints/commands/{applicationName} pages an application, newest first (page, size, sort, commandTypes)', async () => {
    const fx = await createEndpoint(app);
    const sibling = await createEndpoint(app, { appVersion: fx.appVersion });
    const elsewhere = await createEndpoint(app);
    const made: string[] = [];
    for (let i = 0; i < 5; i++) made.push((await invokeCommand(app, i % 2 ? sibling.endpointId : fx.endpointId, i === 4 ? 'y' : 'x')).id);
    await invokeCommand(app, elsewhere.endpointId, 'x');
    const newestFirst = [...made].reverse();

    const pages = [];
    for (let page = 0; page < 3; page++) {
      const res = await rest(app, 'GET', `/endpoints/commands/${fx.application}?page=${page}&size=2&sort=createdAt,desc`);
      expect(res.status).toBe(200);
      pages.push(res.body);
    }
    expect(pages.map((p) => ids(p.content))).toEqual([newestFirst.slice(0, 2), newestFirst.slice(2, 4), newestFirst.slice(4)]);
    expect(pages.map((p) => [p.first, p.last, p.number, p.size])).toEqual([
      [true, false, 0, 2],
      [false, false, 1, 2],
      [false, true, 2, 2],
    ]);
    const beyond = await rest(app, 'GET', `/endpoints/commands/${fx.application}?page=9&size=2`);
    expect(beyond.body).toMatchObject({ content: [], empty: true, last: true, number: 9 });
    const onlyX = await rest(app, 'GET', `/endpoints/commands/${fx.application}?commandTypes=x`);
    expect(ids(onlyX.body.content)).toEqual(newestFirst.slice(1));

    for (const query of ['sort=createdAt,asc', 'size=0', 'size=101', 'page=-1']) {
      expect((await rest(app, 'GET', `/endpoints/commands/${fx.application}?${query}`)).status, query).toBe(400);
    }
    expect((await rest(app, 'GET', '/endpoints/commands/no-such-app')).status).toBe(404);
  });

  it('POST /endpoints/commands/last: the newest command of each endpoint and type', async () => {
    const one = await createEndpoint(app);
    const two = await createEndpoint(app);
    await invokeCommand(app, one.endpointId, 'a');
    const oneA = await invokeCommand(app, one.endpointId, 'a');
    const oneB = await invokeCommand(app, one.endpointId, 'b');
    const twoA = await invokeCommand(app, two.endpointId, 'a');
    const res = await rest(app, 'POST', '/endpoints/commands/last', {
      body: { endpointIds: [one.endpointId, two.endpointId], commandTypes: ['a', 'b'] },
    });
    expect(res.status).toBe(200);
    expect(ids(res.body)).toEqual([oneA.id, oneB.id, twoA.id]);
    const anyType = await rest(app, 'POST', '/endpoints/commands/last', { body: { endpointIds: [one.endpointId] } });
    expect(ids(anyType.body)).toEqual([oneB.id]);
    for (const body of [{}, { endpointIds: 'x' }, { endpointIds: [1] }, []]) {
      expect((await rest(app, 'POST', '/endpoints/commands/last', { body })).status, JSON.stringify(body)).toBe(400);
    }
  });

  it('reads need a key (401) and VIEWER is enough', async () => {
    const fx = await createEndpoint(app);
    await invokeCommand(app, fx.endpointId, 'a');
    const viewer = await createApiKey(app, 'VIEWER');
    for (const key of [null, 'wrong']) {
      expect((await rest(app, 'GET', `/endpoints/commands?endpointId=${fx.endpointId}`, { key })).status).toBe(401);
      expect((await rest(app, 'GET', `/endpoints/commands/${fx.application}`, { key })).status).toBe(401);
      // Before anything else about the request is judged.
      expect((await rest(app, 'GET', `/endpoints/commands/${fx.application}?sort=name,asc`, { key })).status).toBe(401);
    }
    expect((await rest(app, 'GET', `/endpoints/commands/${fx.application}`, { key: viewer.secret })).status).toBe(200);
    expect((await rest(app, 'GET', `/endpoints/${fx.endpointId}/commands/a/last`, { key: viewer.secret })).status).toBe(200);
  });
});

describe('batch and the rest', () => {
  it('answers a by-filter batch 501 Not Implemented (after authentication): there are no endpoint filters', async () => {
    const fx = await createEndpoint(app);
    const path = '/endpoints/commands/reboot/batch/by-filter?filterId=f';
    const res = await rest(app, 'POST', path, { body: {} });
    expect(res.status, path).toBe(501);
    expect(res.body.message).toContain('filters do not exist');
    expect((await rest(app, 'POST', path, { body: {}, key: null })).status, path).toBe(401);
    expect((await rest(app, 'GET', `/endpoints/commands?endpointId=${fx.endpointId}`)).body.content).toEqual([]);
  });

  it('404 JSON for an unknown path, 405 with Allow for a method a resource does not have', async () => {
    const unknown = await rest(app, 'GET', '/nothing/here');
    expect(unknown.status).toBe(404);
    expect(unknown.headers.get('content-type')).toContain('application/json');
    const fx = await createEndpoint(app);
    const wrong = await rest(app, 'PUT', `/endpoints/${fx.endpointId}/commands/x`, { body: {} });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('POST');
  });
});
