// Turns bus events into an async iterator for one subscriber. The buffer is bounded: a
// subscriber that falls this far behind is ended with an error instead of growing memory
// without limit; clients reconnect and re-read (the subscription contract in the README).
import { DomainError } from '../domain/errors.ts';
import type { EventBus, EventMap, EventName, Route } from './bus.ts';

export const MAX_BUFFERED_EVENTS = 1000;

export class SubscriberTooSlowError extends DomainError {
  constructor() {
    super(
      'RATE_LIMITED',
      `The subscriber fell more than ${MAX_BUFFERED_EVENTS} events behind and was ended; re-subscribe and re-query.`,
    );
  }
}

/** The server lost its event feed for a moment: changes of that gap were not sent. */
export class EventsMissedError extends DomainError {
  constructor() {
    super('SERVICE_UNAVAILABLE', 'The server lost its database event feed for a moment; re-subscribe and re-query.');
  }
}

/** The subscriber's API key was revoked: its streams end on every transport (SSE as well as graphql-ws). */
export class ApiKeyRevokedError extends DomainError {
  constructor() {
    super('UNAUTHENTICATED', 'The API key of this subscription was revoked.');
  }
}

/**
 * Events of kind `name`: all of them, or those on `route` (see EventBus.on). With `keyId`, the
 * stream ends with an error when that API key is revoked, in whichever process it was revoked.
 */
export function eventStream<K extends EventName>(
  bus: EventBus,
  name: K,
  route?: Route<K>,
  keyId?: string,
): AsyncIterableIterator<EventMap[K]> {
  const buffer: EventMap[K][] = [];
  let wake: (() => void) | undefined;
  let failure: Error | undefined;
  let done = false;

  const off = bus.on(
    name,
    (event) => {
      if (done) return;
      if (buffer.length >= MAX_BUFFERED_EVENTS) {
        failure = new SubscriberTooSlowError();
        finish();
        return;
      }
      buffer.push(event);
      wake?.();
    },
    route,
  );
  const offMissed = bus.onMissed(() => {
    if (done) return;
    failure = new EventsMissedError();
    finish();
  });
  const offRevoked =
    keyId === undefined
      ? () => {}
      : bus.on('apiKeyRevoked', (revoked) => {
          if (done || revoked.keyId !== keyId) return;
          buffer.length = 0;
          failure = new ApiKeyRevokedError();
          finish();
        });
  const finish = () => {
    done = true;
    off();
    offMissed();
    offRevoked();
    wake?.();
  };

  const iterator: AsyncIterableIterator<EventMap[K]> = {
    [Symbol.asyncIterator]() {
      return iterator;
    },
    async next() {
      for (;;) {
        if (buffer.length > 0) return { value: buffer.shift()!, done: false };
        if (failure) {
          const error = failure;
          failure = undefined;
          throw error;
        }
        if (done) return { value: undefined, done: true };
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    },
    async return() {
      buffer.length = 0;
      finish();
      return { value: undefined, done: true };
    },
  };
  return iterator;
}

/**
 * The items of each event, one at a time. Hand-written rather than an async generator: ending
 * a generator that waits for the next event would wait for that event, and keep the
 * subscriber's handler on the bus until then.
 */
export function flatten<E, T>(source: AsyncIterableIterator<E>, items: (event: E) => readonly T[]): AsyncIterableIterator<T> {
  let batch: readonly T[] = [];
  let next = 0;
  const iterator: AsyncIterableIterator<T> = {
    [Symbol.asyncIterator]() {
      return iterator;
    },
    async next() {
      while (next >= batch.length) {
        const result = await source.next();
        if (result.done) return { value: undefined, done: true };
        batch = items(result.value);
        next = 0;
      }
      return { value: batch[next++]!, done: false };
    },
    async return() {
      batch = [];
      await source.return?.();
      return { value: undefined, done: true };
    },
  };
  return iterator;
}
