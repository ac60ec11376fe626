// A revoked API key ends its subscriptions on every transport, SSE included (graphql-ws sockets
// are also closed, see auth tests); and subscriptions route by the stored endpoint id whatever
// case the caller wrote it in.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createApiKey, createEndpoint, invokeCommand, revokeApiKey } from './support/api.ts';
import { sseSubscribe, startApp, waitFor } from './support/app.ts';
import { CommandStatusChanged, TelemetryReceived } from './support/documents.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

/** Invokes until the stream shows an event: SSE gives no "subscribed" signal. */
async function untilFlowing(stream: { events: unknown[] }, endpointId: string): Promise<void> {
  await waitFor(async () => {
    if (stream.events.length > 0) return true;
    await invokeCommand(app, endpointId, 'warm-up');
    await new Promise((r) => setTimeout(r, 200));
    return stream.events.length > 0;
  }, 10_000);
}

describe('revoking an API key', () => {
  it('ends its SSE subscription with UNAUTHENTICATED; later commands reach it no more', async () => {
    const fx = await createEndpoint(app);
    const viewer = await createApiKey(app, 'VIEWER');
    const stream = await sseSubscribe(app, CommandStatusChanged, { endpointId: fx.endpointId }, viewer.secret);
    // The ADMIN key's stream on the same endpoint is the marker for "a later event was sent".
    const witness = await sseSubscribe(app, CommandStatusChanged, { endpointId: fx.endpointId });
    try {
      await untilFlowing(stream, fx.endpointId);
      await untilFlowing(witness, fx.endpointId);
      await revokeApiKey(app, viewer.id);
      await stream.waitFor((events) => events.some((e) => e.errors?.length), 5_000);
      expect(stream.events.at(-1)!.errors![0]!.extensions?.code).toBe('UNAUTHENTICATED');
      await waitFor(() => stream.ended(), 5_000);

      const seen = stream.events.length;
      const later = await invokeCommand(app, fx.endpointId, 'after-revocation');
      await witness.waitFor((events) => events.some((e) => e.data?.commandStatusChanged.id === later.id), 5_000);
      expect(stream.events.length).toBe(seen);
    } finally {
      await stream.close();
      await witness.close();
    }
  });

  it("leaves other keys' SSE subscriptions running", async () => {
    const fx = await createEndpoint(app);
    const revoked = await createApiKey(app, 'VIEWER');
    const kept = await createApiKey(app, 'VIEWER');
    const stream = await sseSubscribe(app, CommandStatusChanged, { endpointId: fx.endpointId }, kept.secret);
    try {
      await untilFlowing(stream, fx.endpointId);
      await revokeApiKey(app, revoked.id);
      const before = stream.events.length;
      await invokeCommand(app, fx.endpointId, 'still-here');
      await stream.waitFor((events) => events.length > before, 5_000);
      expect(stream.events.every((e) => !e.errors)).toBe(true);
      expect(stream.ended()).toBe(false);
    } finally {
      await stream.close();
    }
  });
});

describe('endpoint ids in upper case', () => {
  it('a telemetry subscription receives the endpoint’s samples', async () => {
    const fx = await createEndpoint(app);
    const stream = await sseSubscribe(app, TelemetryReceived, { endpointId: fx.endpointId.toUpperCase() });
    try {
      await waitFor(async () => {
        if (stream.events.length > 0) return true;
        const res = await fetch(`${app.url}/kp1/${fx.appVersion}/dcx/${fx.token}/json`, {
          method: 'POST',
          body: JSON.stringify({ temperature: 21 }),
        });
        expect(res.status).toBe(200);
        await new Promise((r) => setTimeout(r, 200));
        return stream.events.length > 0;
      }, 10_000);
      expect(stream.events[0]!.data?.telemetryReceived.data).toEqual({ temperature: 21 });
    } finally {
      await stream.close();
    }
  });

  it('a command subscription with both ids accepts the endpoint id in upper case', async () => {
    const fx = await createEndpoint(app);
    const command = await invokeCommand(app, fx.endpointId, 'x');
    const stream = await sseSubscribe(app, CommandStatusChanged, { endpointId: fx.endpointId.toUpperCase(), commandId: command.id });
    try {
      // The command's own next event is the witness: a refused subscription shows an error
      // instead, and an accepted one cannot show EXECUTED without having been routed there.
      const res = await fetch(`${app.url}/kp1/${fx.appVersion}/cex/${fx.token}/result/x`, {
        method: 'POST',
        body: JSON.stringify([{ id: Number(command.id), statusCode: 200 }]),
      });
      expect(res.status).toBe(200);
      await stream.waitFor((events) => events.some((e) => e.errors || e.data), 5_000);
      expect(stream.events.filter((e) => e.errors)).toEqual([]);
      expect(stream.events.map((e) => e.data?.commandStatusChanged)).toMatchObject([{ id: command.id, status: 'EXECUTED' }]);
    } finally {
      await stream.close();
    }
  });
});
