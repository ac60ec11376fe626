// Kaa's batch resources over command batches: a by-endpoints invoke is one batch (skips reported,
// idempotent with Idempotency-Key), its task shows the counts, and the roles are GraphQL's.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createApiKey, revokeEndpoint } from './support/api.ts';
import { startApp, unique } from './support/app.ts';
import { createFleet, storedCounts } from './support/batches.ts';
import { kp1 } from './support/devices-concurrency.ts';
import { commandsIn } from './support/mqtt.ts';
import { rest } from './support/rest.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

describe('REST batch resources', () => {
  it('POST …/batch/by-endpoints creates one batch; its task counts what devices did', async () => {
    const fleet = await createFleet(app, 3);
    await revokeEndpoint(app, fleet[2]!.endpointId);
    const res = await rest(app, 'POST', '/endpoints/commands/reboot/batch/by-endpoints?commandTtl=60000', {
      body: { endpointIds: fleet.map((f) => f.endpointId), payload: { delay: 1 } },
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/cex/api/v1/endpoints/commands/batch/tasks/${res.body.id}`);
    expect(res.body).toMatchObject({
      commandType: 'reboot',
      total: 2,
      skipped: [{ endpointId: fleet[2]!.endpointId, reason: 'REVOKED' }],
      counts: { pending: 2, executed: 0, expired: 0, canceled: 0 },
      createdBy: { door: 'REST' },
      done: false,
    });
    const [c] = commandsIn((await kp1(app, fleet[0]!, 'command/reboot', {})).text);
    expect(c!.payload).toEqual({ delay: 1 });
    await kp1(app, fleet[0]!, 'result/reboot', [{ id: c!.id, statusCode: 200 }]);
    const task = await rest(app, 'GET', res.headers.get('location')!);
    expect(task.status).toBe(200);
    expect(task.body.counts).toEqual({ pending: 1, executed: 1, expired: 0, canceled: 0 });
    expect(task.body.counts).toEqual(await storedCounts(res.body.id));
    expect(task.body.statusCodes).toEqual([{ statusCode: 200, count: 1 }]);
    const list = await rest(app, 'GET', '/endpoints/commands/batch/tasks?size=1');
    expect(list.body.content[0].id).toBe(res.body.id);
  });

  it('is idempotent with Idempotency-Key, refuses bad bodies and follows the roles', async () => {
    const fleet = await createFleet(app, 1);
    const body = { endpointIds: [fleet[0]!.endpointId] };
    const headers = { 'idempotency-key': unique('k') };
    const first = await rest(app, 'POST', '/endpoints/commands/x/batch/by-endpoints', { body, headers });
    const again = await rest(app, 'POST', '/endpoints/commands/x/batch/by-endpoints', { body, headers });
    expect(again.body.id).toBe(first.body.id);
    expect((await rest(app, 'POST', '/endpoints/commands/y/batch/by-endpoints', { body, headers })).status).toBe(409);
    expect((await rest(app, 'POST', '/endpoints/commands/x/batch/by-endpoints', { body: { endpointIds: 'a' } })).status).toBe(400);
    expect((await rest(app, 'POST', '/endpoints/commands/x/batch/by-endpoints', { body: { endpointIds: [] } })).status).toBe(400);
    const viewer = await createApiKey(app, 'VIEWER');
    expect((await rest(app, 'POST', '/endpoints/commands/x/batch/by-endpoints', { body, key: viewer.secret })).status).toBe(403);
    expect((await rest(app, 'POST', '/endpoints/commands/x/batch/by-endpoints', { body, key: null })).status).toBe(401);
    expect((await rest(app, 'GET', `/endpoints/commands/batch/tasks/${first.body.id}`, { key: viewer.secret })).status).toBe(200);
    expect((await rest(app, 'GET', '/endpoints/commands/batch/tasks/00000000-0000-4000-8000-000000000000')).status).toBe(404);
  });
});
