// Token buckets by key (a source address, a device token) that outlive the connections using
// them, in bounded memory: the keys are kept in least-recently-used order, a bucket that has
// refilled is forgotten (a new one would behave the same), and beyond `maxKeys` the least
// recently used are forgotten even if not full. Given a name, the budgets are shared by the
// workers of a node (cluster-share.ts): what one worker grants is charged to the others.
import { shareChannel } from './cluster-share.ts';
import { TokenBucket } from './token-bucket.ts';

export class KeyedTokenBuckets {
  private readonly buckets = new Map<string, TokenBucket>();
  private readonly report: ((key: string, cost: number) => void) | undefined;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    private readonly maxKeys: number,
    /** The budget's name in every worker of the node; unset: this process's alone. */
    shareAs?: string,
  ) {
    this.report = shareAs === undefined ? undefined : shareChannel(shareAs, (key, cost) => this.bucket(key, Date.now()).charge(cost));
  }

  /** Takes `cost` tokens from the key's bucket and returns 0, or takes none and returns the seconds until there are enough. */
  take(key: string, cost = 1, now = Date.now()): number {
    const wait = this.bucket(key, now).take(cost, now);
    if (wait === 0) this.report?.(key, cost);
    return wait;
  }

  /** The key's bucket, now the most recently used. */
  private bucket(key: string, now: number): TokenBucket {
    const bucket = this.buckets.get(key) ?? new TokenBucket(this.capacity, this.perSecond, now);
    this.buckets.delete(key);
    this.forget(now);
    this.buckets.set(key, bucket);
    return bucket;
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
