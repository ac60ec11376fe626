// Preloaded into the server process by the bench (`--import bench/lib/server-probe.ts`, with
// `--expose-gc`): on SIGUSR2 it writes the process's memory figures to $BENCH_PROBE_FILE, after
// a full garbage collection when $BENCH_PROBE_GC is set for that signal (the file
// $BENCH_PROBE_FILE.gc exists). It changes nothing else in the server; it only answers the
// signal, so the bench can tell live memory from garbage not yet collected.
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { getHeapStatistics } from 'node:v8';

const file = process.env['BENCH_PROBE_FILE'];
if (file) {
  let seq = 0;
  process.on('SIGUSR2', () => {
    const gc = (globalThis as { gc?: () => void }).gc;
    const collect = existsSync(`${file}.gc`);
    if (collect && gc) {
      gc();
      gc();
      rmSync(`${file}.gc`, { force: true });
    }
    const m = process.memoryUsage();
    const h = getHeapStatistics();
    const mib = (x: number) => Math.round((x / 1024 / 1024) * 10) / 10;
    writeFileSync(
      file,
      JSON.stringify({
        seq: ++seq,
        collected: collect && Boolean(gc),
        rssMiB: mib(m.rss),
        heapUsedMiB: mib(m.heapUsed),
        heapTotalMiB: mib(m.heapTotal),
        externalMiB: mib(m.external),
        arrayBuffersMiB: mib(m.arrayBuffers),
        mallocedMiB: mib(h.malloced_memory),
      }),
    );
  });
}
