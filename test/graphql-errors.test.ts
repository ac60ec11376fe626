// Every GraphQL error an operator sees carries extensions.code, including graphql-js's own
// errors about the request's variables (which come without one).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { gql, startApp } from './support/app.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

const codesOf = (res: { errors?: { extensions?: Record<string, unknown> }[] }) => res.errors?.map((e) => e.extensions?.['code']);

describe('errors about the request', () => {
  it('a variable outside its enum is BAD_USER_INPUT', async () => {
    const res = await gql(app, 'query($s: [CommandStatus!]) { commands(filter: { statuses: $s }) { edges { cursor } } }', {
      s: ['DONE'],
    });
    expect(res.errors?.[0]?.message).toMatch(/DONE/);
    expect(codesOf(res)).toEqual(['BAD_USER_INPUT']);
  });

  it('a variable of the wrong type, and a missing required one, are BAD_USER_INPUT', async () => {
    const wrongType = await gql(app, 'query($n: Int) { commands(first: $n) { edges { cursor } } }', { n: 'many' });
    expect(codesOf(wrongType)).toEqual(['BAD_USER_INPUT']);
    const missing = await gql(app, 'query($id: ID!) { endpoint(id: $id) { id } }', {});
    expect(codesOf(missing)).toEqual(['BAD_USER_INPUT']);
  });

  it('parse and validation errors keep their own codes', async () => {
    expect(codesOf(await gql(app, '{ '))).toEqual(['GRAPHQL_PARSE_FAILED']);
    expect(codesOf(await gql(app, '{ nope }'))).toEqual(['GRAPHQL_VALIDATION_FAILED']);
  });
});
