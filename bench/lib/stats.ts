// Latency samples and their summary. Samples are kept raw (a run has at most a few hundred
// thousand), so percentiles are exact (nearest-rank).
export interface Summary {
  count: number;
  min: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

export function summarize(values: ArrayLike<number>): Summary {
  const n = values.length;
  if (n === 0) return { count: 0, min: NaN, p50: NaN, p90: NaN, p99: NaN, max: NaN, mean: NaN };
  const sorted = Float64Array.from(values).sort();
  const at = (q: number) => sorted[Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1))]!;
  let sum = 0;
  for (let i = 0; i < n; i++) sum += sorted[i]!;
  return {
    count: n,
    min: round(sorted[0]!),
    p50: round(at(0.5)),
    p90: round(at(0.9)),
    p99: round(at(0.99)),
    max: round(sorted[n - 1]!),
    mean: round(sum / n),
  };
}

export function round(x: number, digits = 3): number {
  if (!Number.isFinite(x)) return x;
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** A growable list of float samples, cheap to send over IPC (rounded to µs). */
export class Samples {
  private data: number[] = [];
  add(value: number): void {
    this.data.push(Math.round(value * 1000) / 1000);
  }
  get length(): number {
    return this.data.length;
  }
  take(): number[] {
    const out = this.data;
    this.data = [];
    return out;
  }
  peek(): readonly number[] {
    return this.data;
  }
}

export function merge(lists: ArrayLike<number>[]): number[] {
  const out: number[] = [];
  for (const list of lists) for (let i = 0; i < list.length; i++) out.push(list[i]!);
  return out;
}
