// batchLoader: keys asked for in one turn of the event loop load with one call, each key once;
// later turns load again (nothing is cached across batches).
import { describe, expect, it } from 'vitest';
import { batchLoader } from '../../src/lib/batch-loader.ts';

function counting() {
  const calls: string[][] = [];
  const load = batchLoader(async (keys: readonly string[]) => {
    calls.push([...keys]);
    return new Map(keys.filter((k) => k !== 'missing').map((k) => [k, `value of ${k}`]));
  });
  return { calls, load };
}

describe('batchLoader', () => {
  it('loads the keys of one turn with one call, each key once, and null for a key not found', async () => {
    const { calls, load } = counting();
    const values = await Promise.all([load('a'), load('b'), load('a'), load('missing')]);
    expect(values).toEqual(['value of a', 'value of b', 'value of a', null]);
    expect(calls).toEqual([['a', 'b', 'missing']]);
  });

  it('joins keys asked for after an await within the same turn (resolvers that await first)', async () => {
    const { calls, load } = counting();
    const late = (async () => {
      await Promise.resolve();
      return load('late');
    })();
    expect(await Promise.all([load('early'), late])).toEqual(['value of early', 'value of late']);
    expect(calls).toEqual([['early', 'late']]);
  });

  it('loads again in a later turn, so each subscription event sees current rows', async () => {
    const { calls, load } = counting();
    await load('a');
    await load('a');
    expect(calls).toEqual([['a'], ['a']]);
  });

  it('rejects every key of a batch whose load failed, and the next batch loads afresh', async () => {
    let fail = true;
    const load = batchLoader(async (keys: readonly string[]) => {
      if (fail) throw new Error('database unavailable');
      return new Map(keys.map((k) => [k, k]));
    });
    await expect(Promise.all([load('a'), load('b')])).rejects.toThrow('database unavailable');
    fail = false;
    expect(await load('a')).toBe('a');
  });
});
