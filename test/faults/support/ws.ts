// graphql-ws subscribers for fault tests: they record every event (and every error, close and
// reconnect), and can be told to reconnect on their own after a server restart.
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { ResultOf, VariablesOf } from '../../../src/graphql/typed.ts';
import { CommandStatusChanged } from '../../support/documents.ts';
import { ADMIN_KEY } from './server.ts';

export interface StatusEvent {
  id: number;
  status: 'PENDING' | 'EXECUTED' | 'EXPIRED' | 'CANCELED';
  statusCode: number | null;
  endpointId: string;
  at: number;
}

export class Subscriber {
  readonly client: Client;
  readonly events: StatusEvent[] = [];
  readonly errors: unknown[] = [];
  connects = 0;
  closes = 0;
  completed = 0;
  private dispose: (() => void) | undefined;

  constructor(
    httpPort: () => number,
    private readonly variables: VariablesOf<typeof CommandStatusChanged> = {},
    opts: { reconnect?: boolean } = {},
  ) {
    this.client = createClient({
      url: () => `ws://127.0.0.1:${httpPort()}/graphql`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${ADMIN_KEY}` },
      lazy: false,
      // Closes are expected here (servers get killed); they are counted, not printed.
      onNonLazyError: (error) => this.errors.push(error),
      retryAttempts: opts.reconnect ? 1000 : 0,
      shouldRetry: () => Boolean(opts.reconnect),
      retryWait: async () => new Promise((r) => setTimeout(r, 200)),
      keepAlive: 2_000,
      on: {
        connected: () => this.connects++,
        closed: () => this.closes++,
      },
    });
  }

  /** Subscribes to commandStatusChanged (graphql-ws re-subscribes by itself after a reconnect). */
  subscribe(): void {
    this.dispose = this.client.subscribe<ResultOf<typeof CommandStatusChanged>>(
      { query: print(CommandStatusChanged), variables: this.variables },
      {
        next: (msg) => {
          if (msg.errors) this.errors.push(...msg.errors);
          const c = msg.data?.commandStatusChanged;
          if (c) this.events.push({ id: Number(c.id), status: c.status, statusCode: c.statusCode, endpointId: c.endpoint.id, at: Date.now() });
        },
        error: (e) => this.errors.push(e),
        complete: () => this.completed++,
      },
    );
  }

  statuses(id: number): string[] {
    return this.events.filter((e) => e.id === id).map((e) => e.status);
  }

  has(id: number, status: string): boolean {
    return this.events.some((e) => e.id === id && e.status === status);
  }

  async close(): Promise<void> {
    this.dispose?.();
    await this.client.dispose();
  }
}

/**
 * graphql-ws does not acknowledge a subscription; `poke` causes an event (e.g. invokes a
 * command) until one shows up, so what follows cannot race the subscription's start.
 */
export async function untilSubscribed(sub: Subscriber, poke: () => Promise<number>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (;;) {
    const id = await poke();
    const until = Date.now() + 500;
    while (Date.now() < until) {
      if (sub.has(id, 'PENDING')) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    if (Date.now() > deadline) throw new Error(`subscription not live within ${ms} ms: ${JSON.stringify(sub.errors)}`);
  }
}
