/**
 * A token bucket: holds up to `capacity` tokens, refilled at `perSecond`; a full bucket to start.
 * Callers keep one per thing they limit (a connection, an API key), or a KeyedTokenBuckets.
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(
    private readonly capacity: number,
    private readonly perSecond: number,
    now = Date.now(),
  ) {
    this.tokens = capacity;
    this.at = now;
  }

  /** Takes `cost` tokens and returns 0, or takes none and returns the seconds until there are enough. */
  take(cost = 1, now = Date.now()): number {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) / 1000) * this.perSecond);
    this.at = now;
    if (this.tokens < cost) return (cost - this.tokens) / this.perSecond;
    this.tokens -= cost;
    return 0;
  }

  /** Takes `cost` tokens whatever is left (another worker of the node already granted them): the
   *  bucket may go below zero, and grants nothing until it has refilled past that debt. */
  charge(cost: number, now = Date.now()): void {
    this.tokens = Math.min(this.capacity, this.tokens + ((now - this.at) / 1000) * this.perSecond) - cost;
    this.at = now;
  }

  /** Whether the bucket has refilled completely: it then behaves exactly like a new one. */
  isFull(now = Date.now()): boolean {
    return this.tokens + ((now - this.at) / 1000) * this.perSecond >= this.capacity;
  }
}
