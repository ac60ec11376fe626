// GroupCommit (src/domain/group-commit.ts) with fake commit functions whose completion the test
// controls: which writes go together, in which order, how many at once, and what a failure costs.
import { describe, expect, it } from 'vitest';
import { GroupCommit } from '../../src/domain/group-commit.ts';
import { deferred, type Deferred } from '../support/deferred.ts';

/** Lets every pending promise callback run. */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/** Lets pending promise callbacks run, without giving any timer a turn. */
async function microtasks(): Promise<void> {
  for (let i = 0; i < 50; i++) await Promise.resolve();
}

/**
 * A commit function that records every call and holds it until the test releases it; released
 * calls return `map(input)` for each input, in order, unless `fails` says the batch throws.
 */
class GatedCommit<I, O> {
  readonly calls: { inputs: I[]; gate: Deferred<void> }[] = [];
  active = 0;
  maxActive = 0;

  constructor(
    private readonly map: (input: I) => O,
    private readonly fails: (inputs: I[]) => Error | undefined = () => undefined,
  ) {}

  readonly commit = async (inputs: I[]): Promise<O[]> => {
    const call = { inputs: [...inputs], gate: deferred<void>() };
    this.calls.push(call);
    this.active++;
    this.maxActive = Math.max(this.maxActive, this.active);
    try {
      await call.gate.promise;
      const error = this.fails(call.inputs);
      if (error) throw error;
      return call.inputs.map(this.map);
    } finally {
      this.active--;
    }
  };

  batches(): I[][] {
    return this.calls.map((c) => c.inputs);
  }

  /** Releases call `index` and lets its callers and the next calls proceed. */
  async release(index: number): Promise<void> {
    const call = this.calls[index];
    if (!call) throw new Error(`no commit call #${index}; calls so far: ${JSON.stringify(this.batches())}`);
    call.gate.resolve();
    await settle();
  }

  /** Releases every call, including those started by releasing others, until none is left. */
  async releaseAll(): Promise<void> {
    for (let released = 0; released < this.calls.length; released++) await this.release(released);
  }
}

/** Records how each run() settled, without leaving a rejection unhandled. */
function track<O>(promise: Promise<O>): { state: () => 'pending' | 'fulfilled' | 'rejected'; value?: O; error?: unknown } {
  const t: { state: () => 'pending' | 'fulfilled' | 'rejected'; value?: O; error?: unknown } = { state: () => s };
  let s: 'pending' | 'fulfilled' | 'rejected' = 'pending';
  promise.then(
    (v) => {
      s = 'fulfilled';
      t.value = v;
    },
    (e: unknown) => {
      s = 'rejected';
      t.error = e;
    },
  );
  return t;
}

describe('GroupCommit', () => {
  it('commits a lone write at once, alone, and resolves it with its output', async () => {
    const fake = new GatedCommit<number, string>((n) => `out-${n}`);
    const gc = new GroupCommit(fake.commit, { maxBatch: 10, concurrency: 2 });
    const result = track(gc.run(7));
    await microtasks(); // no timer gets a turn: no added delay
    expect(fake.batches()).toEqual([[7]]);
    expect(result.state()).toBe('pending');
    await fake.release(0);
    expect(result.state()).toBe('fulfilled');
    expect(result.value).toBe('out-7');
  });

  it('writes that arrive while a commit runs share the next one; each caller gets the output of its own input', async () => {
    const fake = new GatedCommit<string, { echo: string; len: number }>((s) => ({ echo: s, len: s.length }));
    const gc = new GroupCommit(fake.commit, { maxBatch: 100, concurrency: 1 });
    const first = track(gc.run('a'));
    await settle();
    const inputs = ['bb', 'c', 'dddd', 'eee', 'ff'];
    const later = inputs.map((s) => track(gc.run(s)));
    await settle();
    // Still one commit in flight; the others wait for it.
    expect(fake.batches()).toEqual([['a']]);
    await fake.release(0);
    expect(first.value).toEqual({ echo: 'a', len: 1 });
    // All five went together, in arrival order.
    expect(fake.batches()).toEqual([['a'], inputs]);
    expect(later.every((t) => t.state() === 'pending')).toBe(true);
    await fake.release(1);
    expect(later.map((t) => t.value)).toEqual(inputs.map((s) => ({ echo: s, len: s.length })));
    expect(fake.calls).toHaveLength(2);
  });

  it('maps outputs to callers by position even when the outputs do not depend on the input', async () => {
    // Output i of the batch goes to input i: a commit returning ids in input order.
    let nextId = 100;
    const gate = deferred<void>();
    const gc = new GroupCommit<string, number>(
      async (inputs) => {
        await gate.promise;
        return inputs.map(() => nextId++);
      },
      { maxBatch: 50, concurrency: 1 },
    );
    const hold = gc.run('hold');
    const names = Array.from({ length: 20 }, (_, i) => `w${i}`);
    const runs = names.map((n) => gc.run(n));
    gate.resolve();
    expect(await hold).toBe(100);
    expect(await Promise.all(runs)).toEqual(names.map((_, i) => 101 + i));
  });

  it('never puts more than maxBatch inputs in one commit', async () => {
    const fake = new GatedCommit<number, number>((n) => n * 2);
    const gc = new GroupCommit(fake.commit, { maxBatch: 3, concurrency: 1 });
    const all = [1, 2, 3, 4, 5, 6, 7, 8].map((n) => track(gc.run(n)));
    await settle();
    expect(fake.batches()).toEqual([[1]]);
    await fake.releaseAll();
    expect(fake.batches()).toEqual([[1], [2, 3, 4], [5, 6, 7], [8]]);
    expect(all.map((t) => t.value)).toEqual([2, 4, 6, 8, 10, 12, 14, 16]);
  });

  it('runs at most `concurrency` commits at once; a second write at low load still goes at once', async () => {
    const fake = new GatedCommit<number, number>((n) => -n);
    const gc = new GroupCommit(fake.commit, { maxBatch: 100, concurrency: 2 });
    const a = track(gc.run(1));
    const b = track(gc.run(2));
    await settle();
    // Two commits, each alone, both in flight.
    expect(fake.batches()).toEqual([[1], [2]]);
    const rest = [3, 4, 5].map((n) => track(gc.run(n)));
    await settle();
    expect(fake.calls).toHaveLength(2);
    expect(fake.active).toBe(2);
    // The second commit finishes first: its drain takes everything that waited.
    await fake.release(1);
    expect(b.value).toBe(-2);
    expect(a.state()).toBe('pending');
    expect(fake.batches()).toEqual([[1], [2], [3, 4, 5]]);
    await fake.releaseAll();
    expect(a.value).toBe(-1);
    expect(rest.map((t) => t.value)).toEqual([-3, -4, -5]);
    expect(fake.maxActive).toBe(2);
  });

  it('under random load: at most `concurrency` at once, batches within maxBatch, every input committed once in arrival order', async () => {
    const concurrency = 3;
    const maxBatch = 7;
    let active = 0;
    let maxActive = 0;
    const batches: number[][] = [];
    let seed = 12345;
    const random = () => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const gc = new GroupCommit<number, string>(
      async (inputs) => {
        batches.push([...inputs]);
        active++;
        maxActive = Math.max(maxActive, active);
        try {
          await new Promise((r) => setTimeout(r, Math.floor(random() * 4)));
          return inputs.map((n) => `#${n}`);
        } finally {
          active--;
        }
      },
      { maxBatch, concurrency },
    );
    const inputs: number[] = [];
    const runs: Promise<string>[] = [];
    let n = 0;
    // Waves of concurrent writers with pauses in between.
    for (let wave = 0; wave < 15; wave++) {
      const size = 1 + Math.floor(random() * 30);
      for (let i = 0; i < size; i++) {
        inputs.push(n);
        runs.push(gc.run(n++));
      }
      await new Promise((r) => setTimeout(r, Math.floor(random() * 3)));
    }
    const outputs = await Promise.all(runs);
    expect(outputs).toEqual(inputs.map((i) => `#${i}`));
    expect(maxActive).toBeLessThanOrEqual(concurrency);
    expect(maxActive).toBeGreaterThan(1);
    for (const b of batches) {
      expect(b.length).toBeGreaterThan(0);
      expect(b.length).toBeLessThanOrEqual(maxBatch);
    }
    // Each input went into exactly one commit, batches taken from the front of the queue.
    expect(batches.flat()).toEqual(inputs);
    // Writers that arrived together shared commits.
    expect(batches.length).toBeLessThan(inputs.length / 2);
    expect(active).toBe(0);
  });

  it('when a batch fails, retries each input alone: only the bad input rejects, with the error of its own commit', async () => {
    const fake = new GatedCommit<string, string>(
      (s) => s.toUpperCase(),
      (inputs) => (inputs.includes('bad') ? new Error(`bad input in a commit of ${inputs.length}`) : undefined),
    );
    const gc = new GroupCommit(fake.commit, { maxBatch: 10, concurrency: 1 });
    const hold = track(gc.run('hold'));
    await settle();
    const [a, bad, c] = ['a', 'bad', 'c'].map((s) => track(gc.run(s)));
    await fake.releaseAll();
    expect(hold.value).toBe('HOLD');
    expect(a!.state()).toBe('fulfilled');
    expect(a!.value).toBe('A');
    expect(c!.value).toBe('C');
    expect(bad!.state()).toBe('rejected');
    expect((bad!.error as Error).message).toBe('bad input in a commit of 1');
    // The batch, then each of its inputs alone, in order.
    expect(fake.batches()).toEqual([['hold'], ['a', 'bad', 'c'], ['a'], ['bad'], ['c']]);
  });

  it('a batch failure that is no one input’s fault costs nobody anything: each succeeds alone', async () => {
    let failNextBatch = true;
    const gate = deferred<void>();
    const calls: string[][] = [];
    const gc = new GroupCommit<string, string>(
      async (inputs) => {
        calls.push([...inputs]);
        if (inputs[0] === 'hold') await gate.promise;
        if (inputs.length > 1 && failNextBatch) {
          failNextBatch = false;
          throw new Error('serialization failure');
        }
        return inputs.map((s) => `ok:${s}`);
      },
      { maxBatch: 10, concurrency: 1 },
    );
    const hold = gc.run('hold');
    const runs = ['x', 'y', 'z'].map((s) => gc.run(s));
    gate.resolve();
    await hold;
    expect(await Promise.all(runs)).toEqual(['ok:x', 'ok:y', 'ok:z']);
    expect(calls).toEqual([['hold'], ['x', 'y', 'z'], ['x'], ['y'], ['z']]);
  });

  it('a lone failing write rejects with its error, is not retried, and the next write still commits', async () => {
    const boom = new Error('unique violation');
    const calls: string[][] = [];
    const gc = new GroupCommit<string, string>(
      async (inputs) => {
        calls.push([...inputs]);
        if (inputs.includes('dup')) throw boom;
        return inputs.map((s) => `ok:${s}`);
      },
      { maxBatch: 10, concurrency: 1 },
    );
    await expect(gc.run('dup')).rejects.toBe(boom);
    expect(calls).toEqual([['dup']]);
    // Nothing stuck: with concurrency 1, this write only commits if the failed drain ended cleanly.
    await expect(gc.run('next')).resolves.toBe('ok:next');
    expect(calls).toEqual([['dup'], ['next']]);
  });

  it('writes queued behind a lone failing write still commit, together', async () => {
    const fake = new GatedCommit<string, string>(
      (s) => `ok:${s}`,
      (inputs) => (inputs.includes('dup') ? new Error('duplicate') : undefined),
    );
    const gc = new GroupCommit(fake.commit, { maxBatch: 10, concurrency: 1 });
    const dup = track(gc.run('dup'));
    await settle();
    const queued = ['x', 'y'].map((s) => track(gc.run(s)));
    await settle();
    expect(fake.batches()).toEqual([['dup']]);
    await fake.releaseAll();
    expect(dup.state()).toBe('rejected');
    expect((dup.error as Error).message).toBe('duplicate');
    expect(queued.map((t) => t.value)).toEqual(['ok:x', 'ok:y']);
    expect(fake.batches()).toEqual([['dup'], ['x', 'y']]);
  });

  it('several bad inputs in one batch each fail with their own error; writes queued behind them still commit', async () => {
    const fake = new GatedCommit<number, number>(
      (n) => n + 1000,
      (inputs) => {
        const bad = inputs.filter((n) => n % 3 === 0);
        return bad.length > 0 ? new Error(`bad: ${bad.join(',')}`) : undefined;
      },
    );
    const gc = new GroupCommit(fake.commit, { maxBatch: 4, concurrency: 1 });
    const runs = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((n) => track(gc.run(n)));
    await settle();
    await fake.releaseAll();
    runs.forEach((t, i) => {
      const n = i + 1;
      if (n % 3 === 0) {
        expect(t.state(), `input ${n}`).toBe('rejected');
        expect((t.error as Error).message).toBe(`bad: ${n}`);
      } else {
        expect(t.state(), `input ${n}`).toBe('fulfilled');
        expect(t.value).toBe(n + 1000);
      }
    });
    // Every input was committed successfully exactly once or rejected exactly once.
    const succeeded = fake.calls
      .filter((c) => !c.inputs.some((n) => n % 3 === 0))
      .flatMap((c) => c.inputs);
    expect(succeeded.sort((x, y) => x - y)).toEqual([1, 2, 4, 5, 7, 8, 10]);
  });
});
