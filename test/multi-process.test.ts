// Two servers on one database (each with its own pool, listener and expiry sweeper), as two
// processes behind a load balancer would be: events cross between them through the database.
// Both run in this test process, sharing its event loop (and, with PGlite, one database
// instance), so their sweepers take turns here rather than race: these tests check that two
// sweepers each expire a command once and tell both servers once. Sweepers racing in two real
// processes on PostgreSQL: test/faults/expiry-race.test.ts.
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import type { ResultOf } from '../src/graphql/typed.ts';
import { createEndpoint, invokeCommand } from './support/api.ts';
import { collect, startApp, untilSubscribed, wsClient } from './support/app.ts';
import { CommandStatusChanged } from './support/documents.ts';

let a: App;
let b: App;
const clients: Client[] = [];
beforeAll(async () => {
  [a, b] = await Promise.all([startApp(), startApp()]);
});
afterAll(async () => {
  for (const c of clients) await c.dispose();
  await Promise.all([a?.stop(), b?.stop()]);
});

type Event = ResultOf<typeof CommandStatusChanged>;
const statusesOf = (events: Event[], id: string) =>
  events.filter((e) => e.commandStatusChanged.id === id).map((e) => e.commandStatusChanged.status);

/**
 * Waits until a command invoked after everything else has expired on every subscriber: events
 * arrive in commit order, so whatever the sweeps before it published has arrived by then.
 */
async function afterLaterExpiry(subs: { waitFor: (pred: (events: Event[]) => boolean, ms?: number) => Promise<Event[]> }[], endpointId: string) {
  const marker = await invokeCommand(a, endpointId, 'marker', null, 1);
  for (const sub of subs) await sub.waitFor((events) => statusesOf(events, marker.id).includes('EXPIRED'), 5_000);
}

/** A subscriber on `on` for the endpoint, proven to listen by a command invoked through `via`. */
async function subscriber(on: App, endpointId: string, via: App) {
  const client = wsClient(on);
  clients.push(client);
  const sub = collect(client, CommandStatusChanged, { endpointId });
  await untilSubscribed(sub, () => invokeCommand(via, endpointId, 'probe'));
  return sub;
}

describe('two servers on one database', () => {
  it('delivers PENDING and EXECUTED from server B to a subscriber on server A', async () => {
    expect(a.httpPort).not.toBe(b.httpPort);
    const fx = await createEndpoint(b);
    const onA = await subscriber(a, fx.endpointId, b);
    const c = await invokeCommand(b, fx.endpointId, 'reboot');
    await onA.waitFor((events) => statusesOf(events, c.id).includes('PENDING'));

    await b.services.commands.recordResults(fx.endpointId, 'reboot', [{ id: Number(c.id), statusCode: 200 }]);
    await onA.waitFor((events) => statusesOf(events, c.id).includes('EXECUTED'));
    expect(statusesOf(onA.events, c.id)).toEqual(['PENDING', 'EXECUTED']);
    expect(onA.events.find((e) => e.commandStatusChanged.status === 'EXECUTED')!.commandStatusChanged.statusCode).toBe(200);
    onA.dispose();
  });

  it('expires each command exactly once with both sweepers running (in one process), and tells both servers once', async () => {
    const fx = await createEndpoint(a);
    const onA = await subscriber(a, fx.endpointId, b);
    const onB = await subscriber(b, fx.endpointId, a);
    // Several short-lived commands through both servers, for both sweepers to find.
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await invokeCommand(i % 2 ? a : b, fx.endpointId, 'short', { i }, 1)).id);

    for (const sub of [onA, onB]) {
      await sub.waitFor((events) => ids.every((id) => statusesOf(events, id).includes('EXPIRED')), 5_000);
    }
    // Sweeps of both servers ran meanwhile: a duplicate would have arrived before the marker.
    await afterLaterExpiry([onA, onB], fx.endpointId);
    for (const sub of [onA, onB]) {
      for (const id of ids) expect(statusesOf(sub.events, id), `command ${id}`).toEqual(['PENDING', 'EXPIRED']);
      expect(sub.errors).toEqual([]);
    }
    onA.dispose();
    onB.dispose();
  });

  it('keeps a result recorded through B against expiry swept by both', async () => {
    const fx = await createEndpoint(a);
    const onA = await subscriber(a, fx.endpointId, b);
    const executed = await invokeCommand(a, fx.endpointId, 'sw', null, 1);
    await b.services.commands.recordResults(fx.endpointId, 'sw', [{ id: Number(executed.id), statusCode: 200 }]);
    const expiring = await invokeCommand(b, fx.endpointId, 'sw', null, 1);
    await onA.waitFor((events) => statusesOf(events, expiring.id).includes('EXPIRED'), 5_000);
    await afterLaterExpiry([onA], fx.endpointId);
    expect(statusesOf(onA.events, executed.id)).toEqual(['PENDING', 'EXECUTED']);
    expect(statusesOf(onA.events, expiring.id)).toEqual(['PENDING', 'EXPIRED']);
    onA.dispose();
  });
});
