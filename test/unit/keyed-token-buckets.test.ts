import { describe, expect, it } from 'vitest';
import { KeyedTokenBuckets } from '../../src/lib/keyed-token-buckets.ts';

describe('KeyedTokenBuckets', () => {
  it('keeps one budget per key across calls; other keys have their own', () => {
    const buckets = new KeyedTokenBuckets(2, 1, 100);
    expect([buckets.take('a', 1, 0), buckets.take('a', 1, 0)]).toEqual([0, 0]);
    expect(buckets.take('a', 1, 0)).toBe(1);
    expect(buckets.take('b', 1, 0)).toBe(0);
    expect(buckets.take('a', 1, 1_000)).toBe(0);
  });

  it('forgets buckets that have refilled, which a new bucket would equal', () => {
    const buckets = new KeyedTokenBuckets(2, 1, 100);
    for (let i = 0; i < 50; i++) buckets.take(`k${i}`, 1, 0);
    expect(buckets.size).toBe(50);
    // 1 s later every bucket is full again: touching one key forgets all the others.
    buckets.take('late', 1, 1_000);
    expect(buckets.size).toBe(1);
  });

  it('never holds more than maxKeys, forgetting the least recently used first', () => {
    const buckets = new KeyedTokenBuckets(2, 0.001, 3);
    for (const key of ['a', 'b', 'c']) buckets.take(key, 2, 0);
    buckets.take('a', 0, 1); // a is now the most recently used
    buckets.take('d', 1, 2);
    expect(buckets.size).toBe(3);
    // a and c kept their spent budgets; b was forgotten and starts full again.
    expect(buckets.take('a', 1, 3)).toBeGreaterThan(0);
    expect(buckets.take('c', 1, 3)).toBeGreaterThan(0);
    for (let i = 0; i < 10_000; i++) buckets.take(`spray${i}`, 1, 4);
    expect(buckets.size).toBe(3);
  });
});
