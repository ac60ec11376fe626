// Live updates: subscriptions whose events are buffered and handed over in batches (at most one
// render per interval, however many events arrive), and a hook that re-runs queries on reconnect.
import { useContext, useEffect, useRef } from 'react';
import { stringifyDocument } from 'urql';
import type { TadaDocumentNode } from 'gql.tada';
import { SessionContext } from './session-context.ts';

const BATCH_MS = 150;

export function useLiveBatches<Data, Vars extends Record<string, unknown>>(
  document: TadaDocumentNode<Data, Vars>,
  variables: Vars,
  onBatch: (events: Data[]) => void,
  enabled = true,
): void {
  const { connection } = useContext(SessionContext);
  const handler = useRef(onBatch);
  handler.current = onBatch;
  const key = JSON.stringify(variables);
  useEffect(() => {
    if (!enabled || !connection) return;
    let buffer: Data[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flush = () => {
      timer = undefined;
      const events = buffer;
      buffer = [];
      if (events.length > 0) handler.current(events);
    };
    const unsubscribe = connection.ws.subscribe<Data>(
      { query: stringifyDocument(document), variables: JSON.parse(key) as Vars },
      {
        next: (message) => {
          if (!message.data) return;
          buffer.push(message.data as Data);
          timer ??= setTimeout(flush, BATCH_MS);
        },
        error: () => {},
        complete: () => {},
      },
    );
    return () => {
      unsubscribe();
      if (timer) clearTimeout(timer);
    };
  }, [connection, document, key, enabled]);
}

/** Calls `fn` each time the live connection comes back after being down. */
export function useOnReconnect(fn: () => void): void {
  const { connection } = useContext(SessionContext);
  const handler = useRef(fn);
  handler.current = fn;
  useEffect(() => connection?.live.listen((_state, reconnected) => reconnected && handler.current()), [connection]);
}

/**
 * Calls `fn` every `ms` while mounted: for what no subscription carries (last seen, MQTT
 * connected), which would otherwise stay as first loaded.
 */
export function useEvery(ms: number, fn: () => void): void {
  const handler = useRef(fn);
  handler.current = fn;
  useEffect(() => {
    const timer = setInterval(() => handler.current(), ms);
    return () => clearInterval(timer);
  }, [ms]);
}
