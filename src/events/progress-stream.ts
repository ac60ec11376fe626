// A coalesced state stream: events only mark the state dirty, and the state is read again at most
// once per interval, so a burst of 10,000 events costs one read, not 10,000 buffered events (a
// buffer would end a fast batch's subscriber as too slow). It emits when the state changed and
// ends after the state it reads is final. A gap in the event feed is just another reason to
// re-read. Hand-written like eventStream: ending it never waits for the next event.
import { ApiKeyRevokedError } from './stream.ts';
import type { EventBus } from './bus.ts';

export interface CoalescedOptions<S> {
  /** Subscribes `poke` to whatever may change the state; returns the function that stops. */
  watch: (poke: () => void) => () => void;
  read: () => Promise<S>;
  /** Whether the state can no longer change (emitted once more, then the stream ends). */
  isFinal: (state: S) => boolean;
  /** Equal signatures are not emitted twice. */
  signature: (state: S) => string;
  intervalMs: number;
  /** End with UNAUTHENTICATED when this API key is revoked. */
  keyId?: string;
}

export function coalescedStream<S>(bus: EventBus, options: CoalescedOptions<S>): AsyncIterableIterator<S> {
  let dirty = true;
  let done = false;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let lastSignature: string | undefined;
  let nextReadAt = 0;
  let timer: ReturnType<typeof setTimeout> | undefined;

  const poke = () => {
    dirty = true;
    wake?.();
  };
  const offWatch = options.watch(poke);
  const offMissed = bus.onMissed(poke);
  const offRevoked = bus.on('apiKeyRevoked', (revoked) => {
    if (done || revoked.keyId !== options.keyId) return;
    failure = new ApiKeyRevokedError();
    finish();
  });
  const finish = () => {
    done = true;
    offWatch();
    offMissed();
    offRevoked();
    if (timer) clearTimeout(timer);
    wake?.();
  };
  const waitFor = (ms: number) =>
    new Promise<void>((resolve) => {
      wake = resolve;
      if (ms > 0) timer = setTimeout(resolve, ms);
    }).finally(() => {
      wake = undefined;
      if (timer) clearTimeout(timer);
      timer = undefined;
    });

  const iterator: AsyncIterableIterator<S> = {
    [Symbol.asyncIterator]() {
      return iterator;
    },
    async next() {
      for (;;) {
        if (failure) {
          const error = failure;
          failure = undefined;
          throw error;
        }
        if (done) return { value: undefined, done: true };
        if (!dirty) {
          await waitFor(0);
          continue;
        }
        const wait = nextReadAt - Date.now();
        if (wait > 0) {
          // Pokes during the wait only keep it dirty; the timer decides when to read.
          await new Promise<void>((resolve) => {
            wake = () => done && resolve();
            timer = setTimeout(resolve, wait);
          }).finally(() => {
            wake = undefined;
            timer = undefined;
          });
          continue;
        }
        dirty = false;
        nextReadAt = Date.now() + options.intervalMs;
        const state = await options.read();
        if (done) continue;
        const final = options.isFinal(state);
        const signature = options.signature(state);
        if (final) finish();
        if (final || signature !== lastSignature) {
          lastSignature = signature;
          return { value: state, done: false };
        }
      }
    },
    async return() {
      finish();
      return { value: undefined, done: true };
    },
  };
  return iterator;
}
