import { describe, expect, it } from 'vitest';
import { linearPatternProblem, linearRegExp, MAX_PATTERN_WEIGHT, patternWeight } from '../../src/domain/command-schema/linear-regexp.ts';

describe('pattern weight', () => {
  it('counts atoms, multiplies counted repetitions and weighs Unicode classes', () => {
    expect(patternWeight('^abc$')).toBe(3);
    expect(patternWeight('a{10}')).toBe(10);
    expect(patternWeight('(ab){3}')).toBe(6);
    expect(patternWeight('(a{4}){5}')).toBe(20);
    expect(patternWeight('a{2,}')).toBe(3);
    expect(patternWeight('[a-z]{1,8}')).toBe(8);
    expect(patternWeight('.{10}')).toBe(20);
    expect(patternWeight('\\p{L}')).toBe(100);
    expect(patternWeight('[\\p{L}\\d]{2}')).toBe(200);
    expect(patternWeight('\\u{1F600}')).toBe(1);
    expect(patternWeight('a{x}')).toBe(4);
  });

  it('refuses what RE2 cannot take or what is over the budget', () => {
    expect(linearPatternProblem('^(a+)+$')).toBeUndefined();
    expect(linearPatternProblem('(a)\\1')).toMatch(/RE2: invalid escape sequence/);
    expect(linearPatternProblem('(?<=a)b')).toMatch(/lookaround/);
    expect(linearPatternProblem(`a{${MAX_PATTERN_WEIGHT + 1}}`)).toMatch(/too complex/);
    expect(linearPatternProblem('a'.repeat(1001))).toMatch(/too long/);
  });

  it('keeps matching after many more distinct patterns than it keeps compiled', () => {
    const engines = Array.from({ length: 100 }, (_, i) => linearRegExp(`^x${i}$`, 'u'));
    for (let round = 0; round < 3; round++) {
      engines.forEach((re, i) => expect(re.test(`x${i}`)).toBe(true));
    }
    expect(engines[5]!.test('x6')).toBe(false);
  });
});
