// The process's Prometheus registry and what every area's metrics share. Metrics are per
// process (Prometheus scrapes each server process and sums), so they live in one module-level
// registry that the recording modules (commands.ts, devices.ts, database.ts, graphql.ts) fill.
// Label values are bounded: no endpoint ids, tokens or free text; values a client chooses
// (command types, operation names) go through a CappedLabel.
import { collectDefaultMetrics, Registry } from 'prom-client';

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

/** The label value for whatever a CappedLabel no longer admits. */
export const OTHER = 'other';

/**
 * Admits the first `limit` distinct values as label values and maps every later one to
 * "other", so a client that invents names cannot grow the series without bound.
 */
export class CappedLabel {
  private readonly admitted = new Set<string>();

  constructor(private readonly limit: number) {}

  of(value: string): string {
    if (this.admitted.has(value)) return value;
    if (this.admitted.size >= this.limit) return OTHER;
    this.admitted.add(value);
    return value;
  }
}

/**
 * Gauges read at scrape time from the parts that hold the numbers (one source per app: tests
 * run several apps in one process); returns the function that removes the source.
 */
export class GaugeSources<S> {
  private readonly sources = new Set<S>();

  add(source: S): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }

  sum(read: (source: S) => number): number {
    let total = 0;
    for (const source of this.sources) total += read(source);
    return total;
  }
}

/** Seconds between two performance.now() readings, for histograms. */
export function secondsSince(startMs: number): number {
  return (performance.now() - startMs) / 1000;
}
