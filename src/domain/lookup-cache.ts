// A small read-through cache for lookups every request repeats (an endpoint by id or token,
// the latest command schema of a type). Entries live `ttlMs` at most and are dropped at once
// when an event says they changed, so a revoked token stops working in this process as soon
// as the revocation's event arrives (the same moment its sessions are closed today), and at
// the latest after `ttlMs` if an event were lost. Concurrent misses for one key share a query.
// With `keepNull: false`, a lookup that found nothing (null) is not remembered once it settles.
export class LookupCache<K, V> {
  private readonly entries = new Map<K, { value: Promise<V>; at: number }>();
  private sweptAt = 0;
  /** Pending while entries exist: they go even when no lookup comes to sweep them. */
  private timer: NodeJS.Timeout | undefined;

  private readonly maxEntries: number;
  private readonly keepNull: boolean;

  constructor(
    private readonly ttlMs: number,
    options: { maxEntries?: number; keepNull?: boolean } = {},
  ) {
    this.maxEntries = options.maxEntries ?? 100_000;
    this.keepNull = options.keepNull ?? true;
  }

  get(key: K, load: () => Promise<V>): Promise<V> {
    const now = Date.now();
    const hit = this.entries.get(key);
    if (hit && now - hit.at < this.ttlMs) return hit.value;
    // Expired entries go at most once per TTL (19,000 quiet devices must not stay cached).
    if (now - this.sweptAt >= this.ttlMs) this.sweep(now);
    if (this.entries.size >= this.maxEntries) this.entries.clear();
    const value = load();
    this.entries.set(key, { value, at: now });
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.sweep(Date.now());
    }, this.ttlMs * 2).unref();
    // A failed lookup (database down) is not remembered, nor a miss when keepNull is off.
    const forget = () => {
      if (this.entries.get(key)?.value === value) this.entries.delete(key);
    };
    value.then((found) => {
      if (found === null && !this.keepNull) forget();
    }, forget);
    return value;
  }

  private sweep(now: number): void {
    this.sweptAt = now;
    for (const [k, e] of this.entries) if (now - e.at >= this.ttlMs) this.entries.delete(k);
  }

  delete(key: K): void {
    this.entries.delete(key);
  }

  clear(): void {
    this.entries.clear();
  }
}
