// The exact forms of the Bearer credentials that are accepted, over HTTP and graphql-ws, and the
// messages of the role and key name refusals.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createApiKey } from './support/api.ts';
import { ADMIN_KEY, gql, startApp, textOf, wsClient, type GqlResponse } from './support/app.ts';
import { Applications, CreateApiKey } from './support/documents.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

/** The applications query over HTTP with this exact Authorization value. */
async function overHttp(authorization: string): Promise<GqlResponse<{ applications: unknown[] }>> {
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization },
    body: JSON.stringify({ query: textOf(Applications) }),
  });
  return { status: res.status, ...((await res.json()) as object) };
}

/** The applications query over graphql-ws with this exact `authorization` connection parameter. */
async function overWebSocket(authorization: string): Promise<{ data?: unknown; closeCode?: number }> {
  let closeCode: number | undefined;
  const client = wsClient(app, null, {
    connectionParams: { authorization },
    on: { closed: (event) => void (closeCode = (event as { code: number }).code) },
  });
  try {
    const data = await new Promise<unknown>((resolve) => {
      let result: unknown;
      client.subscribe(
        { query: textOf(Applications) },
        { next: (msg) => (result = msg.data), error: () => resolve(undefined), complete: () => resolve(result) },
      );
    });
    return { data, closeCode };
  } finally {
    await client.dispose();
  }
}

describe('the Bearer credentials', () => {
  // RFC 9110 §11.4: credentials = auth-scheme [ 1*SP token68 ], so several spaces are one separator.
  it.each([`Bearer  ${ADMIN_KEY}`, `BEARER \t${ADMIN_KEY}`])('are accepted over HTTP as %j', async (header) => {
    const res = await overHttp(header);
    expect(res.errors).toBeUndefined();
    expect(Array.isArray(res.data?.applications)).toBe(true);
  });

  // Only the start of the value names the scheme: "xBearer" is another scheme, not Bearer.
  it.each([`xBearer ${ADMIN_KEY}`, `NotBearer ${ADMIN_KEY}`, ` x Bearer ${ADMIN_KEY}`])('are refused over HTTP as %j', async (header) => {
    const res = await overHttp(header);
    expect(res.errors?.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  });

  // An HTTP field value arrives without trailing whitespace (RFC 9110 §5.5; Node strips it), but a
  // graphql-ws connection parameter is taken as sent.
  it.each([`Bearer ${ADMIN_KEY} `, `Bearer  ${ADMIN_KEY}\t`])('are accepted over graphql-ws as %j', async (authorization) => {
    const { data } = await overWebSocket(authorization);
    expect(Array.isArray((data as { applications?: unknown } | undefined)?.applications)).toBe(true);
  });

  it('are refused over graphql-ws with another scheme before Bearer', async () => {
    const { data, closeCode } = await overWebSocket(`xBearer ${ADMIN_KEY}`);
    expect(data).toBeUndefined();
    expect(closeCode).toBe(4403);
  });
});

describe('refusal messages', () => {
  it('name the role needed, the key and its role when a key lacks the role', async () => {
    const operator = await createApiKey(app, 'OPERATOR');
    const res = await gql(app, CreateApiKey, { name: 'k', role: 'VIEWER' }, operator.secret);
    expect(res.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([
      ['FORBIDDEN', `This needs the ADMIN role; the key "${operator.name}" has OPERATOR.`],
    ]);
  });

  it('give the bounds of a key name', async () => {
    const res = await gql(app, CreateApiKey, { name: 'x'.repeat(101), role: 'VIEWER' });
    expect(res.errors?.map((e) => [e.extensions?.code, e.message])).toEqual([['BAD_USER_INPUT', 'An API key name must be 1 to 100 characters.']]);
  });
});
