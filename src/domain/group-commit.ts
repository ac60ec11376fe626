// Group commit: writes that arrive while a transaction is being committed wait and go
// together in the next one, so N concurrent writers pay for one transaction (one WAL flush,
// a few round trips) instead of N. At low load a write goes alone at once (no added delay);
// under load, batches grow by themselves. A failed batch is retried one write at a time, so
// one bad write fails only its own caller.
import type { GroupCommitObserver } from '../metrics/database.ts';

export class GroupCommit<I, O> {
  private queue: { input: I; resolve: (o: O) => void; reject: (e: unknown) => void }[] = [];
  private running = 0;

  constructor(
    private readonly commit: (inputs: I[]) => Promise<O[]>,
    private readonly options: { maxBatch: number; concurrency: number; observer?: GroupCommitObserver },
  ) {}

  run(input: I): Promise<O> {
    return new Promise<O>((resolve, reject) => {
      this.queue.push({ input, resolve, reject });
      this.options.observer?.queued(1);
      if (this.running < this.options.concurrency) void this.drain();
    });
  }

  private async drain(): Promise<void> {
    this.running++;
    try {
      while (this.queue.length > 0) {
        const batch = this.queue.splice(0, this.options.maxBatch);
        this.options.observer?.queued(-batch.length);
        try {
          const started = performance.now();
          const out = await this.commit(batch.map((b) => b.input));
          this.options.observer?.committed(batch.length, started);
          batch.forEach((b, i) => b.resolve(out[i]!));
        } catch (error) {
          if (batch.length === 1) {
            batch[0]!.reject(error);
            continue;
          }
          for (const b of batch) {
            try {
              const [o] = await this.commit([b.input]);
              b.resolve(o!);
            } catch (e) {
              b.reject(e);
            }
          }
        }
      }
    } finally {
      this.running--;
    }
  }
}
