// Memory of a process, read the same way for the server and the bare baselines: RSS from
// /proc, and heap figures (optionally after a full GC) from inside the process.
import { getHeapStatistics } from 'node:v8';

export interface MemoryFigures {
  seq?: number;
  collected: boolean;
  rssMiB: number;
  heapUsedMiB: number;
  heapTotalMiB: number;
  externalMiB: number;
  arrayBuffersMiB: number;
  mallocedMiB: number;
}

export function memoryFigures(collect: boolean): MemoryFigures {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (collect && gc) {
    gc();
    gc();
  }
  const m = process.memoryUsage();
  const mib = (x: number) => Math.round((x / 1024 / 1024) * 10) / 10;
  return {
    collected: collect && Boolean(gc),
    rssMiB: mib(m.rss),
    heapUsedMiB: mib(m.heapUsed),
    heapTotalMiB: mib(m.heapTotal),
    externalMiB: mib(m.external),
    arrayBuffersMiB: mib(m.arrayBuffers),
    mallocedMiB: mib(getHeapStatistics().malloced_memory),
  };
}
