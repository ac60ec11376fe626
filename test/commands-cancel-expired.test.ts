// Cancel of a command past its deadline that no sweep has marked EXPIRED yet: it is EXPIRED to
// the caller (polls already hide it), a CONFLICT that says so, and it stays uncanceled.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { graphql } from '../src/graphql/typed.ts';
import { commandById, createEndpoint, invokeCommand } from './support/api.ts';
import { gql, startApp, usingPostgres, waitFor } from './support/app.ts';
import { errorOf } from './support/commands.ts';

const CancelCommand = graphql(`mutation CancelCommandPastDeadline($id: ID!) { cancelCommand(id: $id) { id status } }`);

let app: App;
beforeAll(async () => {
  // No sweep during the test: the command stays PENDING in storage past its deadline.
  app = await startApp({ expirySweepMs: 3_600_000 });
});
afterAll(() => app?.stop());

describe('cancelCommand past the deadline, before the sweep', () => {
  it('is a CONFLICT naming EXPIRED, and cancels nothing', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'x', null, 1);
    // The server's own witness that the deadline passed: the device's poll no longer gets it.
    await waitFor(async () => {
      const res = await fetch(`${app.url}/kp1/${fx.appVersion}/cex/${fx.token}/command/x`, { method: 'POST', body: '{}' });
      return res.status === 200 && (await res.json()).length === 0;
    }, 5_000);
    // On PostgreSQL the servers of other test files share the database and may sweep it.
    if (!usingPostgres) expect((await commandById(app, c.id)).status).toBe('PENDING');

    const error = errorOf(await gql(app, CancelCommand, { id: c.id }));
    expect(error.extensions?.code).toBe('CONFLICT');
    expect(error.message).toBe(`Command ${c.id} is EXPIRED; only a PENDING command can be canceled.`);
    expect((await commandById(app, c.id)).status).not.toBe('CANCELED');
  });
});
