// The server is SIGKILLed after commands committed and while their webhook deliveries are in
// flight (the receiver holds every request unanswered). The outbox rows survive; once the server
// is back (and the dead process's leases ran out) the receiver gets every event, in order per
// endpoint: at least once, never lost.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CreateWebhook, Receiver } from '../support/webhooks.ts';
import { createEndpoints, gqlData, invoke, waitFor, type Endpoint } from './support/api.ts';
import { openBackend, type Backend, type BackendKind } from './support/backend.ts';
import { killAllServers, type ServerProcess } from './support/server.ts';

const WEBHOOK_ENV = {
  WEBHOOK_ALLOW_PRIVATE_TARGETS: 'true',
  // A short timeout makes the lease (3 × timeout + 5 s) of the killed process run out soon.
  WEBHOOK_TIMEOUT_MS: '1000',
  WEBHOOK_RETRY_BASE_MS: '100',
  WEBHOOK_RETRY_MAX_DELAY_MS: '500',
};
const PER_ENDPOINT = 10;

describe.each<BackendKind>(['postgres', 'pglite'])('server killed between commit and webhook delivery (%s)', (kind) => {
  let backend: Backend;
  let server: ServerProcess;
  let endpoints: Endpoint[];
  let receiver: Receiver;

  beforeAll(async () => {
    backend = await openBackend(kind);
    server = backend.server('cex-webhooks', WEBHOOK_ENV);
    await server.start();
    endpoints = await createEndpoints(server, 2);
    receiver = await Receiver.start();
  });

  afterAll(async () => {
    await killAllServers();
    await receiver?.close();
    await backend?.destroy();
  });

  it('delivers every committed event after the restart, in order per endpoint', async () => {
    receiver.answer = () => 'hang';
    await gqlData(server, CreateWebhook, { input: { url: receiver.url, events: ['COMMAND_CREATED'], description: 'fault test' } });
    const acked = new Map<string, string[]>(endpoints.map((e) => [e.endpointId, []]));
    for (let i = 0; i < PER_ENDPOINT; i++) {
      for (const ep of endpoints) acked.get(ep.endpointId)!.push(String((await invoke(server, ep.endpointId, 'reboot', { i }, 3600)).id));
    }
    await waitFor(() => receiver.requests.length > 0, 15_000, () => 'a delivery in flight');
    await server.kill('SIGKILL');
    expect(receiver.received).toEqual([]);

    receiver.answer = () => 200;
    await server.start();
    await waitFor(
      () => new Set(receiver.received.map((r) => r.id)).size >= PER_ENDPOINT * endpoints.length,
      60_000,
      () => `all ${PER_ENDPOINT * endpoints.length} events after the restart`,
    );
    for (const ep of endpoints) {
      const firstSeen = [...new Set(receiver.received.filter((r) => r.data['endpointId'] === ep.endpointId).map((r) => String(r.data['id'])))];
      expect(firstSeen).toEqual(acked.get(ep.endpointId));
    }
  });
});
