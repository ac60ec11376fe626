// Budgets and counts that the worker processes of one node hold together (WORKERS > 1). Each
// worker decides alone and at once, on its own numbers, and tells the others what it took:
// every SHARE_EVERY_MS it sends its deltas (per channel and key) to the primary, which passes
// them to the other workers, who apply them to theirs. So a worker's view lags the others' by
// at most one period plus an IPC hop; docs/scaling.md says what that means for each limit.
// Outside a cluster worker nothing is registered and nothing is sent.

/** How often a worker sends what it took; the lag of the other workers' view. */
export const SHARE_EVERY_MS = 20;

/** [channel, key, delta] */
export type ShareDelta = [string, string, number];

type Apply = (key: string, delta: number) => void;

const channels = new Map<string, Apply>();
/** Counts for channels this worker has not registered yet (it is starting): applied when it does. */
const early = new Map<string, ShareDelta[]>();
let outbox = new Map<string, Map<string, number>>();
let send: ((deltas: ShareDelta[]) => void) | undefined;
let timer: NodeJS.Timeout | undefined;

/**
 * Makes this process a sharing worker: deltas go to `sender`; returns the function that applies
 * the other workers' deltas. Call before anything registers a channel.
 */
export function startSharing(sender: (deltas: ShareDelta[]) => void): (deltas: ShareDelta[]) => void {
  send = sender;
  return (deltas) => {
    for (const entry of deltas) {
      const apply = channels.get(entry[0]);
      if (apply) apply(entry[1], entry[2]);
      else if (isCountChannel(entry[0])) early.set(entry[0], [...(early.get(entry[0]) ?? []), entry]);
    }
  };
}

/**
 * Registers a channel (one name per limit, the same in every worker); returns the function that
 * reports this worker's deltas, or undefined when the process is not a sharing worker.
 */
export function shareChannel(name: string, apply: Apply): ((key: string, delta: number) => void) | undefined {
  if (!send) return undefined;
  channels.set(name, apply);
  for (const [, key, delta] of early.get(name) ?? []) apply(key, delta);
  early.delete(name);
  return (key, delta) => {
    let keys = outbox.get(name);
    if (!keys) outbox.set(name, (keys = new Map()));
    keys.set(key, (keys.get(key) ?? 0) + delta);
    if (!timer) timer = setTimeout(flush, SHARE_EVERY_MS).unref();
  };
}

/** Counting channels (open connections) are undone by the primary when a worker dies. */
export function isCountChannel(name: string): boolean {
  return name.startsWith('count:');
}

function flush(): void {
  timer = undefined;
  const deltas: ShareDelta[] = [];
  for (const [channel, keys] of outbox) for (const [key, delta] of keys) if (delta !== 0) deltas.push([channel, key, delta]);
  outbox = new Map();
  if (deltas.length > 0) send?.(deltas);
}
