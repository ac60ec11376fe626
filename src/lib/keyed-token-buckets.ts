// Token buckets by key (a source address, a device token) that outlive the connections using
// them, in bounded memory: the keys are kept in least-recently-used order, a bucket that has
// refilled is forgotten (a new one would behave the same), and beyond `maxKeys` the least
// recently used are forgotten even if not full.
import { TokenBucket } from './token-bucket.ts';

export class KeyedTokenBuckets {
  private readonly buckets = new Map<string, TokenBucket>();

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly maxKeys: number,
  ) {}

  /** Takes `cost` tokens from the key's bucket and returns 0, or takes none and returns the seconds until there are enough. */
  take(key: string, cost = 1, now = Date.now()): number {
    const bucket = this.buckets.get(key) ?? new TokenBucket(this.capacity, this.perSecond, now);
    this.buckets.delete(key);
    this.forget(now);
    this.buckets.set(key, bucket);
    return bucket.take(cost, now);
  }

  /** How many keys are remembered. */
  get size(): number {
    return this.buckets.size;
  }

  private forget(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (this.buckets.size < this.maxKeys && !bucket.isFull(now)) return;
      this.buckets.delete(key);
    }
  }
}
