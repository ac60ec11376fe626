import { describe, expect, it } from 'vitest';
import { TokenBucket } from '../../src/lib/token-bucket.ts';

describe('TokenBucket', () => {
  it('starts full, refuses past its capacity and says how long to wait', () => {
    const bucket = new TokenBucket(4, 2, 0);
    expect([1, 2, 3, 4].map(() => bucket.take(1, 0))).toEqual([0, 0, 0, 0]);
    expect(bucket.take(1, 0)).toBe(0.5);
    expect(bucket.take(3, 0)).toBe(1.5);
  });

  it('refills at its rate up to its capacity', () => {
    const bucket = new TokenBucket(4, 2, 0);
    expect(bucket.take(4, 0)).toBe(0);
    expect(bucket.take(1, 499)).toBeGreaterThan(0);
    expect(bucket.take(1, 500)).toBe(0);
    expect(bucket.take(5, 60_000)).toBe(0.5);
    expect(bucket.take(4, 60_000)).toBe(0);
  });

  it('charges what another worker granted, into debt, and grants again only once the debt is refilled', () => {
    const bucket = new TokenBucket(4, 2, 0);
    expect(bucket.take(3, 0)).toBe(0);
    bucket.charge(3, 0);
    expect(bucket.take(1, 0)).toBe(1.5);
    expect(bucket.take(1, 1499)).toBeGreaterThan(0);
    expect(bucket.take(1, 1500)).toBe(0);
    bucket.charge(10, 60_000);
    expect(bucket.isFull(60_000 + 4_999)).toBe(false);
    expect(bucket.isFull(60_000 + 5_000)).toBe(true);
  });
});
