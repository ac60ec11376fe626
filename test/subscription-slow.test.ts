// A subscriber that stops reading is ended with RATE_LIMITED once MAX_BUFFERED_EVENTS events
// wait for it, instead of holding them in memory without limit (README, subscriptions). The
// stream is the one the GraphQL subscription resolvers get, fed by the real event bus.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { MAX_BUFFERED_EVENTS } from '../src/events/stream.ts';
import { createEndpoint } from './support/api.ts';
import { ADMIN_PRINCIPAL, startApp } from './support/app.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

describe('a subscriber that falls behind', () => {
  it(`is ended with RATE_LIMITED after ${MAX_BUFFERED_EVENTS} unread events, keeping those`, async () => {
    const fx = await createEndpoint(app);
    const { commands, subscriptions } = app.services;
    const slow = await subscriptions.commandChanges(ADMIN_PRINCIPAL, { endpointId: fx.endpointId });
    // Read as the events come (concurrently, so it never falls behind itself): once it has had
    // every command's event, the slow stream was offered all of them too.
    const reader = await subscriptions.commandChanges(ADMIN_PRINCIPAL, { endpointId: fx.endpointId });
    const total = MAX_BUFFERED_EVENTS + 1;
    const allOffered = (async () => {
      for (let seen = 0; seen < total; seen++) await reader.next();
    })();
    try {
      for (let i = 0; i < total; i += 100) {
        const batch = Array.from({ length: Math.min(100, total - i) }, () =>
          commands.invoke(ADMIN_PRINCIPAL, { endpointId: fx.endpointId, commandType: 'flood' }),
        );
        await Promise.all(batch);
      }
      await allOffered;

      const received: number[] = [];
      for (let i = 0; i < MAX_BUFFERED_EVENTS; i++) received.push((await slow.next()).value!.id);
      expect(new Set(received).size).toBe(MAX_BUFFERED_EVENTS);
      await expect(slow.next()).rejects.toMatchObject({ code: 'RATE_LIMITED' });
      expect(await slow.next()).toEqual({ value: undefined, done: true });
    } finally {
      await slow.return?.();
      await reader.return?.();
    }
  });
});
