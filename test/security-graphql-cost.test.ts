// The cost of a GraphQL request multiplies by list sizes and sums a batch; refused requests
// never run, and device traffic is answered while an allowed heavy operator request runs.
// GraphQL statements run on connections of their own with a statement_timeout (PostgreSQL).
import postgres from 'postgres';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createApiKey, createApplicationVersion, createEndpoint, type Fixture } from './support/api.ts';
import { ADMIN_KEY, startApp, testConfig, usingPostgres } from './support/app.ts';

let app: App;
let fx: Fixture;
let viewerKey: string;

beforeAll(async () => {
  app = await startApp();
  fx = await createEndpoint(app);
  for (let i = 0; i < 3; i++) await createApplicationVersion(app, fx.application, `${fx.appVersion}-${i}`);
  viewerKey = (await createApiKey(app, 'VIEWER')).secret;
  // 100 commands, 20 per request (the alias limit).
  for (let batch = 0; batch < 5; batch++) {
    const fields = Array.from(
      { length: 20 },
      (_, i) => `c${i}: invokeCommand(input: { endpointId: "${fx.endpointId}", commandType: "probe", payload: { n: ${batch * 20 + i} } }) { id }`,
    );
    const res = await post(ADMIN_KEY, { query: `mutation { ${fields.join('\n')} }` });
    expect(res.status).toBe(200);
  }
});
afterAll(() => app.stop());

async function post(key: string, body: unknown): Promise<{ status: number; body: any; ms: number }> {
  const started = Date.now();
  const res = await fetch(`${app.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body: JSON.stringify(body),
  });
  return { status: res.status, body: await res.json(), ms: Date.now() - started };
}

/** The probe of the issue: a page of 100 commands, each nesting application { versions { … } }. */
function nestedHistory(levels: number): string {
  let inner = 'name';
  for (let i = 0; i < levels; i++) inner = `name application { versions { ${inner} } }`;
  return `query($e: ID!) { commandHistory(endpointId: $e, first: 100) { edges { node { id payload endpoint { applicationVersion { ${inner} } } } } } }`;
}

describe('query cost', () => {
  it("refuses a VIEWER's batch of five nested 100-command pages with COST_LIMIT_EXCEEDED, at once", async () => {
    const query = nestedHistory(3);
    expect(query.length).toBeLessThan(1024);
    const res = await post(viewerKey, Array.from({ length: 5 }, () => ({ query, variables: { e: fx.endpointId } })));
    expect(res.ms).toBeLessThan(2_000);
    const errors = (Array.isArray(res.body) ? res.body.flatMap((r: any) => r.errors ?? []) : res.body.errors) as any[];
    expect(errors.length).toBeGreaterThan(0);
    for (const e of errors) expect(e.extensions.code).toBe('COST_LIMIT_EXCEEDED');
    expect(JSON.stringify(res.body)).not.toContain('"edges"');
  });

  it('multiplies by first: one such page alone is refused, a page of 2 is answered', async () => {
    const refused = await post(viewerKey, { query: nestedHistory(3), variables: { e: fx.endpointId } });
    expect(refused.body.errors?.[0]?.extensions?.code).toBe('COST_LIMIT_EXCEEDED');
    expect(refused.body.errors[0].extensions.cost).toBeGreaterThan(5_000);
    const small = nestedHistory(3).replace('first: 100', 'first: 2');
    const answered = await post(viewerKey, { query: small, variables: { e: fx.endpointId } });
    expect(answered.body.errors).toBeUndefined();
    expect(answered.body.data.commandHistory.edges).toHaveLength(2);
  });

  it('sums a batch: each operation fits, five together do not', async () => {
    const one = await post(viewerKey, { query: nestedHistory(2), variables: { e: fx.endpointId } });
    expect(one.body.errors).toBeUndefined();
    const batch = await post(viewerKey, Array.from({ length: 5 }, () => ({ query: nestedHistory(2), variables: { e: fx.endpointId } })));
    const body = JSON.stringify(batch.body);
    expect(body).toContain('COST_LIMIT_EXCEEDED');
    expect(body).toMatch(/batch/);
    expect(body).not.toContain('"edges"');
  });

  it('answers device polls promptly while a heavy but allowed operator request runs', async () => {
    const operator = post(viewerKey, { query: nestedHistory(2), variables: { e: fx.endpointId } });
    const polls: number[] = [];
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const res = await fetch(`${app.url}/kp1/${fx.appVersion}/cex/${fx.token}/command/other`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(200);
      await res.arrayBuffer();
      polls.push(Date.now() - started);
    }
    const done = await operator;
    expect(JSON.stringify(done.body)).not.toContain('"errors"');
    expect(Math.max(...polls), `polls: ${polls.join(', ')} ms; the operator request took ${done.ms} ms`).toBeLessThan(1_500);
  });
});

describe.runIf(usingPostgres)('statement timeout of GraphQL requests (PostgreSQL)', () => {
  it('ends a GraphQL statement that waits past the timeout with QUERY_TIMEOUT; device requests do not have one', async () => {
    const base = testConfig();
    if (base.database.kind !== 'postgres') throw new Error('PostgreSQL only');
    const timed = await startApp({ database: { ...base.database, operatorStatementTimeoutMs: 300 } });
    const locker = postgres(base.database.url, { max: 1, onnotice: () => {} });
    try {
      const device = await createEndpoint(timed);
      // Hold a lock the GraphQL statement must wait for (the test's own connection).
      const held = locker.begin(async (sql) => {
        await sql`lock table applications in access exclusive mode`;
        await new Promise((r) => setTimeout(r, 1_500));
      });
      await new Promise((r) => setTimeout(r, 200));
      const started = Date.now();
      const res = await fetch(`${timed.url}/graphql`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
        body: JSON.stringify({ query: '{ applications { name } }' }),
      });
      const body = (await res.json()) as any;
      expect(body.errors?.[0]?.extensions?.code).toBe('QUERY_TIMEOUT');
      expect(Date.now() - started).toBeLessThan(1_200);
      // A device request waits for the same lock and is answered when it is released.
      const poll = await fetch(`${timed.url}/kp1/${device.appVersion}/cex/${device.token}/command/x`, { method: 'POST', body: '{}' });
      expect(poll.status).toBe(200);
      await held;
    } finally {
      await locker.end();
      await timed.stop();
    }
  });
});
