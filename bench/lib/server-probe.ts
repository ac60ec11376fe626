// Preloaded into the server process by the bench (`--import bench/lib/server-probe.ts`, with
// `--expose-gc`): on SIGUSR2 it writes the process's memory figures to $BENCH_PROBE_FILE, after
// a full garbage collection when $BENCH_PROBE_GC is set for that signal (the file
// $BENCH_PROBE_FILE.gc exists). It changes nothing else in the server; it only answers the
// signal, so the bench can tell live memory from garbage not yet collected.
import { existsSync, writeFileSync, rmSync } from 'node:fs';
import { memoryFigures } from './memory.ts';

const file = process.env['BENCH_PROBE_FILE'];
if (file) {
  let seq = 0;
  process.on('SIGUSR2', () => {
    const collect = existsSync(`${file}.gc`);
    const figures = memoryFigures(collect);
    if (collect) rmSync(`${file}.gc`, { force: true });
    writeFileSync(file, JSON.stringify({ seq: ++seq, ...figures }));
  });
}
