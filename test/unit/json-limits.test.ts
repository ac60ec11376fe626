// The JSON checks every door applies before the database: storable text, depth, and a size
// computed without recursion.
import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, jsonByteLength, jsonProblem, unstorableText } from '../../src/lib/json.ts';

const nest = (depth: number): unknown => {
  let value: unknown = 1;
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
  return value;
};

describe('unstorableText', () => {
  it.each(['', 'plain', 'emoji 😀', '\u00e9\u4e2d', '\ud83d\ude00'])('stores %j', (text) => {
    expect(unstorableText(text)).toBeUndefined();
  });
  it.each([
    ['a\u0000b', /NUL/],
    ['\ud800', /surrogate/],
    ['x\udc00', /surrogate/],
    ['\ude00\ud83d', /surrogate/],
    ['\ud83d\ud83d\ude00', /surrogate/],
  ])('refuses %j', (text, reason) => {
    expect(unstorableText(text)).toMatch(reason);
  });
});

describe('jsonProblem', () => {
  it('accepts MAX_JSON_DEPTH levels and refuses one more, at the deepest container', () => {
    expect(jsonProblem(nest(MAX_JSON_DEPTH))).toBeUndefined();
    expect(jsonProblem(nest(MAX_JSON_DEPTH + 1))).toMatchObject({ message: `nesting is deeper than ${MAX_JSON_DEPTH} levels` });
    expect(jsonProblem([[1]], 1)).toEqual({ path: '/0', message: 'nesting is deeper than 1 levels' });
  });

  it('walks 100,000 levels without recursion', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(jsonProblem(deep)?.message).toMatch(/deeper/);
  });

  it('names the string or key that cannot be stored by its JSON Pointer', () => {
    expect(jsonProblem({ a: [1, 'ok', 'x\u0000'] })).toEqual({ path: '/a/2', message: 'the string contains a NUL character (\\u0000)' });
    expect(jsonProblem({ 'a/b~': { ['k\ud800']: 1 } })).toMatchObject({ path: '/a~1b~0/k\ud800', message: expect.stringMatching(/^the key .*surrogate/) });
    expect(jsonProblem('\u0000')).toMatchObject({ path: '' });
    expect(jsonProblem({ ok: ['😀', null, true, 1.5] })).toBeUndefined();
  });
});

describe('jsonByteLength', () => {
  it.each([
    null,
    true,
    -1.5e-7,
    'é😀"\\\n',
    [],
    {},
    [1, null, 'x', [[]], {}],
    { a: 1, 'ké': ['😀', { b: null }], u: undefined, f: () => 1 },
    [undefined, () => 1],
    { d: new Date(0) },
  ])('is Buffer.byteLength(JSON.stringify(%j))', (value) => {
    expect(jsonByteLength(value)).toBe(Buffer.byteLength(JSON.stringify(value)));
  });

  it('measures 100,000 levels, where JSON.stringify overflows the stack', () => {
    const deep = JSON.parse('['.repeat(100_000) + ']'.repeat(100_000)) as unknown;
    expect(() => JSON.stringify(deep)).toThrow(RangeError);
    expect(jsonByteLength(deep)).toBe(200_000);
  });
});
