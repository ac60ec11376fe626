// LookupCache (src/domain/lookup-cache.ts): a read-through cache with a TTL, shared loads for
// concurrent misses, no memory of failures, a sweep of expired entries and a size cap. The clock
// is faked, and every lookup says at what time it happens.
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { LookupCache } from '../../src/domain/lookup-cache.ts';
import { deferred } from '../support/deferred.ts';

/** A loader that counts its calls per key and answers `${key}@${call number}`. */
function counter() {
  const calls = new Map<string, number>();
  return {
    calls: (key: string) => calls.get(key) ?? 0,
    total: () => [...calls.values()].reduce((a, b) => a + b, 0),
    load: (key: string) => () => {
      const n = (calls.get(key) ?? 0) + 1;
      calls.set(key, n);
      return Promise.resolve(`${key}@${n}`);
    },
  };
}

/** `cache.get(key, load)` at time `now` (ms). */
function lookup<K, V>(cache: LookupCache<K, V>, key: K, load: () => Promise<V>, now: number): Promise<V> {
  vi.setSystemTime(now);
  return cache.get(key, load);
}

describe('LookupCache', () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ['Date', 'setTimeout', 'clearTimeout'] });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it('loads on a miss and serves the loaded value until the TTL has passed, then loads again', async () => {
    const cache = new LookupCache<string, string>(1_000);
    const c = counter();
    expect(await lookup(cache, 'a', c.load('a'), 10_000)).toBe('a@1');
    expect(await lookup(cache, 'a', c.load('a'), 10_000)).toBe('a@1');
    expect(await lookup(cache, 'a', c.load('a'), 10_999)).toBe('a@1');
    expect(c.calls('a')).toBe(1);
    // Exactly ttlMs after the load, the entry is stale.
    expect(await lookup(cache, 'a', c.load('a'), 11_000)).toBe('a@2');
    expect(c.calls('a')).toBe(2);
    // The TTL counts from the new load, not from the last hit.
    expect(await lookup(cache, 'a', c.load('a'), 11_999)).toBe('a@2');
    expect(await lookup(cache, 'a', c.load('a'), 12_000)).toBe('a@3');
  });

  it('keeps keys apart', async () => {
    const cache = new LookupCache<string, string>(1_000);
    const c = counter();
    expect(await lookup(cache, 'a', c.load('a'), 0)).toBe('a@1');
    expect(await lookup(cache, 'b', c.load('b'), 0)).toBe('b@1');
    expect(await lookup(cache, 'a', c.load('a'), 1)).toBe('a@1');
    expect(await lookup(cache, 'b', c.load('b'), 1)).toBe('b@1');
    expect(c.total()).toBe(2);
  });

  it('remembers null (a lookup that found nothing) like any other value', async () => {
    const cache = new LookupCache<string, string | null>(1_000);
    let loads = 0;
    const load = () => {
      loads++;
      return Promise.resolve(null);
    };
    expect(await lookup(cache, 'missing', load, 0)).toBeNull();
    expect(await lookup(cache, 'missing', load, 500)).toBeNull();
    expect(loads).toBe(1);
  });

  it('with keepNull off, forgets a lookup that found nothing once it settles; concurrent callers still share it', async () => {
    const cache = new LookupCache<string, string | null>(1_000, { keepNull: false });
    let loads = 0;
    const load = () => {
      loads++;
      return Promise.resolve(loads === 3 ? 'found' : null);
    };
    const [first, second] = await Promise.all([lookup(cache, 'k', load, 0), lookup(cache, 'k', load, 0)]);
    expect([first, second, loads]).toEqual([null, null, 1]);
    expect(await lookup(cache, 'k', load, 100)).toBeNull();
    expect(loads).toBe(2);
    // A value is kept as usual.
    expect(await lookup(cache, 'k', load, 200)).toBe('found');
    expect(await lookup(cache, 'k', load, 300)).toBe('found');
    expect(loads).toBe(3);
  });

  it('concurrent misses for one key share one load', async () => {
    const cache = new LookupCache<string, { row: number }>(1_000);
    const d = deferred<{ row: number }>();
    let loads = 0;
    const load = () => {
      loads++;
      return d.promise;
    };
    const gets = [lookup(cache, 'k', load, 0), lookup(cache, 'k', load, 1), lookup(cache, 'k', load, 2)];
    expect(loads).toBe(1);
    const row = { row: 7 };
    d.resolve(row);
    const values = await Promise.all(gets);
    // The very same object for everyone.
    for (const v of values) expect(v).toBe(row);
    expect(loads).toBe(1);
  });

  it('does not remember a failed load: its waiters share the failure, the next get loads again', async () => {
    const cache = new LookupCache<string, string>(10_000);
    const d = deferred<string>();
    const failure = new Error('database down');
    let loads = 0;
    const failing = () => {
      loads++;
      return d.promise;
    };
    const first = lookup(cache, 'k', failing, 0);
    const second = lookup(cache, 'k', failing, 1);
    d.reject(failure);
    await expect(first).rejects.toBe(failure);
    await expect(second).rejects.toBe(failure);
    expect(loads).toBe(1);
    // Well within the TTL, the failure is forgotten.
    expect(await lookup(cache, 'k', () => Promise.resolve('recovered'), 2)).toBe('recovered');
    expect(await lookup(cache, 'k', () => Promise.resolve('not loaded'), 3)).toBe('recovered');
  });

  it('a failed load that finishes late does not drop the newer entry that replaced it', async () => {
    const cache = new LookupCache<string, string>(10_000);
    const old = deferred<string>();
    const stale = lookup(cache, 'k', () => old.promise, 0);
    stale.catch(() => {});
    // The entry is dropped (an event said it changed) and loaded again while the old load runs.
    cache.delete('k');
    expect(await lookup(cache, 'k', () => Promise.resolve('fresh'), 1)).toBe('fresh');
    old.reject(new Error('late failure'));
    await expect(stale).rejects.toThrow('late failure');
    let loads = 0;
    const reload = () => {
      loads++;
      return Promise.resolve('reloaded');
    };
    expect(await lookup(cache, 'k', reload, 2)).toBe('fresh');
    expect(loads).toBe(0);
  });

  it('delete drops one key; clear drops all', async () => {
    const cache = new LookupCache<string, string>(10_000);
    const c = counter();
    for (const k of ['a', 'b', 'c']) await lookup(cache, k, c.load(k), 0);
    cache.delete('b');
    expect(await lookup(cache, 'a', c.load('a'), 1)).toBe('a@1');
    expect(await lookup(cache, 'b', c.load('b'), 1)).toBe('b@2');
    expect(await lookup(cache, 'c', c.load('c'), 1)).toBe('c@1');
    cache.delete('nonexistent');
    cache.clear();
    expect(await lookup(cache, 'a', c.load('a'), 2)).toBe('a@2');
    expect(await lookup(cache, 'b', c.load('b'), 2)).toBe('b@3');
    expect(await lookup(cache, 'c', c.load('c'), 2)).toBe('c@2');
  });

  it('a value loaded before delete() reaches its own caller, but is not served afterwards', async () => {
    const cache = new LookupCache<string, string>(10_000);
    const d = deferred<string>();
    const inFlight = lookup(cache, 'k', () => d.promise, 0);
    cache.delete('k');
    d.resolve('before the change');
    expect(await inFlight).toBe('before the change');
    expect(await lookup(cache, 'k', () => Promise.resolve('after the change'), 1)).toBe('after the change');
  });

  it('holds at most maxEntries: adding one more starts over', async () => {
    const cache = new LookupCache<string, string>(10_000, { maxEntries: 3 });
    const c = counter();
    for (const k of ['a', 'b', 'c']) await lookup(cache, k, c.load(k), 0);
    // Three entries fit: all hits.
    for (const k of ['a', 'b', 'c']) expect(await lookup(cache, k, c.load(k), 1)).toBe(`${k}@1`);
    expect(c.total()).toBe(3);
    // A fourth key: the cache is emptied, and holds only the new one.
    expect(await lookup(cache, 'd', c.load('d'), 2)).toBe('d@1');
    expect(await lookup(cache, 'd', c.load('d'), 3)).toBe('d@1');
    expect(await lookup(cache, 'a', c.load('a'), 3)).toBe('a@2');
    expect(c.calls('a')).toBe(2);
  });

  it('sweeps expired entries, so they do not count against maxEntries', async () => {
    const ttl = 1_000;
    const cache = new LookupCache<string, string>(ttl, { maxEntries: 3 });
    const c = counter();
    // Two entries that will expire unused (quiet devices).
    await lookup(cache, 'quiet1', c.load('quiet1'), 0);
    await lookup(cache, 'quiet2', c.load('quiet2'), 0);
    // After the TTL, a miss sweeps them; then three live entries fit without hitting the cap.
    await lookup(cache, 'x', c.load('x'), 1_500);
    await lookup(cache, 'y', c.load('y'), 1_600);
    await lookup(cache, 'z', c.load('z'), 1_700);
    // Without the sweep there would have been 5 entries, and 'y' would have emptied the cache.
    expect(await lookup(cache, 'x', c.load('x'), 1_800)).toBe('x@1');
    expect(await lookup(cache, 'y', c.load('y'), 1_800)).toBe('y@1');
    expect(await lookup(cache, 'z', c.load('z'), 1_800)).toBe('z@1');
    expect(c.calls('x') + c.calls('y') + c.calls('z')).toBe(3);
  });

  it('the sweep keeps entries that are still fresh', async () => {
    const cache = new LookupCache<string, string>(1_000);
    const c = counter();
    await lookup(cache, 'old', c.load('old'), 0);
    await lookup(cache, 'young', c.load('young'), 900);
    // A miss at 1 000 sweeps: 'old' is expired, 'young' (100 ms old) is not.
    await lookup(cache, 'other', c.load('other'), 1_000);
    expect(await lookup(cache, 'young', c.load('young'), 1_100)).toBe('young@1');
    expect(await lookup(cache, 'old', c.load('old'), 1_100)).toBe('old@2');
  });
});
