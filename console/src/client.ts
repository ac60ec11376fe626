// One urql client (HTTP queries and mutations, graphql-ws subscriptions) per signed-in key.
// A key the server no longer accepts ends the session: HTTP answers UNAUTHENTICATED, the
// websocket closes with 4401/4403.
import { Client, cacheExchange, fetchExchange, mapExchange, subscriptionExchange, type CombinedError } from 'urql';
import { createClient as createWsClient, type Client as WsClient } from 'graphql-ws';

export type LiveState = 'connecting' | 'connected' | 'down';

export interface Connection {
  client: Client;
  ws: WsClient;
  /** Current state of the live (websocket) connection, and a way to follow it. */
  live: { state: LiveState; listen(fn: (state: LiveState, reconnected: boolean) => void): () => void };
  dispose(): void;
}

const KEEP_ALIVE_MS = 5_000;
const PONG_TIMEOUT_MS = 3_000;

export const EXPIRED_NOTICE = 'Your API key is no longer valid (revoked or expired). Sign in with another key.';

function isAuthError(error: CombinedError): boolean {
  return error.graphQLErrors.some((e) => e.extensions?.['code'] === 'UNAUTHENTICATED') || error.response?.status === 401;
}

export function connect(key: string, onAuthLost: (notice: string) => void): Connection {
  const listeners = new Set<(state: LiveState, reconnected: boolean) => void>();
  const live = {
    state: 'connecting' as LiveState,
    listen(fn: (state: LiveState, reconnected: boolean) => void) {
      listeners.add(fn);
      return () => listeners.delete(fn);
    },
  };
  let everConnected = false;
  const setState = (state: LiveState) => {
    const reconnected = state === 'connected' && everConnected;
    if (state === 'connected') everConnected = true;
    if (live.state === state) return;
    live.state = state;
    for (const fn of listeners) fn(state, reconnected);
  };
  let lost = false;
  const loseAuth = () => {
    if (lost) return;
    lost = true;
    onAuthLost(EXPIRED_NOTICE);
  };

  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/graphql`;
  // graphql-ws pings but never gives up on a silent socket (a dropped network sends no close):
  // no pong within PONG_TIMEOUT_MS closes it, which shows the connection down and retries.
  let socket: WebSocket | undefined;
  let pongTimer: ReturnType<typeof setTimeout> | undefined;
  const ws = createWsClient({
    url,
    connectionParams: { authorization: `Bearer ${key}` },
    lazy: false,
    keepAlive: KEEP_ALIVE_MS,
    retryAttempts: Infinity,
    shouldRetry: (event) => !(event instanceof CloseEvent && (event.code === 4401 || event.code === 4403)),
    retryWait: async (retries) => new Promise((r) => setTimeout(r, Math.min(500 * 2 ** retries, 5_000))),
    on: {
      connected: (s) => {
        socket = s as WebSocket;
        setState('connected');
      },
      ping: (received) => {
        if (received) return;
        clearTimeout(pongTimer);
        pongTimer = setTimeout(() => {
          if (socket?.readyState === WebSocket.OPEN) socket.close(4408, 'Pong timeout');
        }, PONG_TIMEOUT_MS);
      },
      pong: (received) => {
        if (received) clearTimeout(pongTimer);
      },
      connecting: () => setState(everConnected ? 'down' : 'connecting'),
      closed: (event) => {
        clearTimeout(pongTimer);
        const code = (event as CloseEvent | undefined)?.code;
        if (code === 4401 || code === 4403) loseAuth();
        else setState('down');
      },
    },
  });

  const client = new Client({
    url: '/graphql',
    requestPolicy: 'cache-and-network',
    fetchOptions: () => ({ headers: { authorization: `Bearer ${key}` } }),
    exchanges: [
      mapExchange({
        onError(error) {
          if (isAuthError(error)) loseAuth();
        },
      }),
      cacheExchange,
      fetchExchange,
      subscriptionExchange({
        forwardSubscription: (request) => ({
          subscribe: (sink) => ({ unsubscribe: ws.subscribe({ ...request, query: request.query ?? '' }, sink) }),
        }),
      }),
    ],
  });
  return {
    client,
    ws,
    live,
    dispose: () => {
      lost = true;
      void ws.dispose();
    },
  };
}
