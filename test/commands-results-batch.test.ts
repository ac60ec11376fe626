// Batches on both sides of the command lifecycle: an empty result batch a device posts is
// answered without a database write, the commands one result batch changes are announced in id
// order whatever order the device listed them in, and one sweep expires every due command even
// when more than one batch of them is due (found by the mutation run of `commands`). Without the
// sort by id, the order test fails only on PGlite: PostgreSQL's plan returns that batch's rows in
// id order anyway.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Client } from 'graphql-ws';
import type { App } from '../src/app.ts';
import type { ResultOf } from '../src/graphql/typed.ts';
import { commandById, createEndpoint, invokeCommand, type Fixture } from './support/api.ts';
import { collect, startApp, untilSubscribed, usingPostgres, waitFor, wsClient } from './support/app.ts';
import { CommandStatusChanged } from './support/documents.ts';
import { scrape, total } from './support/prometheus.ts';

let app: App;
beforeAll(async () => {
  // No sweep of its own: the expiry test runs the sweep's batches itself.
  app = await startApp({ expirySweepMs: 3_600_000 });
});
const open: Client[] = [];
afterEach(async () => {
  for (const c of open.splice(0)) await c.dispose();
});
afterAll(() => app?.stop());

async function postResults(fx: Fixture, commandType: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const res = await fetch(`${app.url}/kp1/${fx.appVersion}/cex/${fx.token}/result/${commandType}`, { method: 'POST', body: JSON.stringify(body) });
  return { status: res.status, body: await res.json().catch(() => null) };
}

const resultWrites = async () => total(await scrape(app), 'cex_group_commit_batch_size_count', { writer: 'command_result' });

describe('result batches', () => {
  it('an empty batch is accepted and writes nothing', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'empty');
    const before = await resultWrites();
    expect((await postResults(fx, 'empty', [])).status).toBe(200);
    // Metrics are per process and nothing else in this file writes results meanwhile.
    expect(await resultWrites()).toBe(before);
    expect((await commandById(app, c.id)).status).toBe('PENDING');
  });

  it('announces the commands of one batch in id order, whatever order the device listed them in', async () => {
    const fx = await createEndpoint(app);
    const client = wsClient(app);
    open.push(client);
    const sub = collect(client, CommandStatusChanged, { endpointId: fx.endpointId });
    await untilSubscribed(sub, () => invokeCommand(app, fx.endpointId, 'probe'));
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await invokeCommand(app, fx.endpointId, 'ordered')).id);

    const reversed = [...ids].reverse().map((id) => ({ id: Number(id), statusCode: 200 }));
    expect((await postResults(fx, 'ordered', reversed)).status).toBe(200);

    type Change = ResultOf<typeof CommandStatusChanged>['commandStatusChanged'];
    const executed = (events: typeof sub.events): Change[] =>
      events.map((e) => e.commandStatusChanged).filter((c) => c.status === 'EXECUTED');
    await sub.waitFor((events) => executed(events).length === ids.length);
    expect(executed(sub.events).map((c) => c.id)).toEqual(ids);
  });
});

describe('the expiry sweep', () => {
  it('expires every due command in one sweep when more than one batch is due', async () => {
    const fx = await createEndpoint(app);
    const ids: string[] = [];
    for (let i = 0; i < 5; i++) ids.push((await invokeCommand(app, fx.endpointId, 'due', null, 1)).id);
    // The server's own witness that every deadline passed: the device's poll no longer gets them.
    await waitFor(async () => {
      const res = await fetch(`${app.url}/kp1/${fx.appVersion}/cex/${fx.token}/command/due`, { method: 'POST', body: '{}' });
      return res.status === 200 && (await res.json()).length === 0;
    }, 5_000);

    // Batches of 2 (the sweeper's is 500): five due commands take three, the last one short.
    await app.services.commands.expireDue(2);
    const statuses = async () => Promise.all(ids.map(async (id) => (await commandById(app, id)).status));
    // On PostgreSQL another process's sweeper may hold some of them (SKIP LOCKED) until it commits.
    if (usingPostgres) await waitFor(async () => (await statuses()).every((s) => s === 'EXPIRED'), 5_000);
    expect(await statuses()).toEqual(ids.map(() => 'EXPIRED'));
  });
});
