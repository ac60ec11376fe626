// Command schema patterns (`pattern`, `patternProperties`) run on RE2, which matches in time
// linear in the input: `^(a+)+$` cannot stall the event loop (docs/command-schemas.md, "Patterns").
//
// re2-wasm has a fixed 16 MB heap for every expression of the process, and running out of it
// breaks the engine for good. So patterns are weighed when a schema is set (counted repetitions
// multiply, Unicode classes are heavy), and compiled expressions are kept in a small LRU that
// frees what it drops; a cached schema holds only the pattern's text.
import { RE2 } from 're2-wasm';
import type { RegExpEngine, RegExpLike } from 'ajv/dist/types/index.js';

/** Largest weight of one pattern: about `.{100}`, `\w{200}` or `\p{L}{2}`. */
export const MAX_PATTERN_WEIGHT = 200;
export const MAX_PATTERN_CHARS = 1000;
/** Compiled expressions kept at once (each at most a few hundred KB of the 16 MB heap). */
const LIVE_EXPRESSIONS = 32;

const live = new Map<string, RE2>();

/** Frees the expression's share of the heap (re2-wasm has no method for it; its wrapper does). */
function free(re: RE2): void {
  (re as unknown as { wrapper?: { delete(): void } }).wrapper?.delete();
}

function compiled(source: string): RE2 {
  let re = live.get(source);
  if (re) {
    live.delete(source);
  } else {
    re = new RE2(source, 'u');
    if (live.size >= LIVE_EXPRESSIONS) {
      const [oldest, dropped] = live.entries().next().value as [string, RE2];
      live.delete(oldest);
      free(dropped);
    }
  }
  live.set(source, re);
  return re;
}

/** ajv's `code.regExp`: the expression is looked up (or compiled again) at each test. */
export const linearRegExp: RegExpEngine = Object.assign(
  (source: string): RegExpLike => {
    compiled(source); // fails now, at compile time, for a pattern RE2 cannot take
    return { test: (input: string) => compiled(source).test(input), toString: () => `/${source}/u` } as RegExpLike;
  },
  { code: 'linearRegExp' },
);

/** Why RE2 cannot run `source` within the budget, or undefined when it can. */
export function linearPatternProblem(source: string): string | undefined {
  if (source.length > MAX_PATTERN_CHARS) return `is too long for a pattern: ${source.length} characters, at most ${MAX_PATTERN_CHARS}`;
  const weight = patternWeight(source);
  if (weight > MAX_PATTERN_WEIGHT) {
    return (
      `is too complex a pattern (weight ${weight}, at most ${MAX_PATTERN_WEIGHT}): counted repetitions multiply and ` +
      'Unicode classes are heavy; bound lengths with minLength/maxLength instead of {n,m}'
    );
  }
  let re: RE2 | undefined;
  try {
    re = new RE2(source, 'u');
  } catch (error) {
    const reason = (error instanceof Error ? error.message : String(error)).replace(/^Invalid regular expression: \/.*\/u: /s, '');
    return `cannot be matched in linear time (RE2: ${reason}): backreferences and lookaround are not supported`;
  } finally {
    if (re) free(re);
  }
  return undefined;
}

/**
 * An estimate of the size of the automaton: every atom weighs 1, a class that can match
 * non-ASCII characters more, and `{n,m}` multiplies what it repeats by m (n + 1 for `{n,}`).
 */
export function patternWeight(source: string): number {
  const stack: number[] = [0];
  let last = 0; // weight of the atom a quantifier would repeat
  const add = (w: number) => {
    stack[stack.length - 1]! += w;
    last = w;
  };
  for (let i = 0; i < source.length; i++) {
    const c = source[i]!;
    if (c === '\\') {
      const next = source[i + 1] ?? '';
      const braced = source[i + 2] === '{' && 'pPu'.includes(next);
      if (braced) i = Math.max(source.indexOf('}', i), i + 1);
      else i++;
      add(braced && next !== 'u' ? UNICODE_PROPERTY : 'DWS'.includes(next) ? WIDE : 1);
    } else if (c === '[') {
      let j = i + 1;
      if (source[j] === '^') j++;
      if (source[j] === ']') j++;
      while (j < source.length && source[j] !== ']') j += source[j] === '\\' ? 2 : 1;
      const body = source.slice(i + 1, j);
      add(/\\[pP]\{/.test(body) ? UNICODE_PROPERTY : body.startsWith('^') || /[^\x00-\x7f]|\\[DWSu]/.test(body) ? WIDE : 1);
      i = j;
    } else if (c === '(') {
      stack.push(0);
    } else if (c === ')') {
      const group = stack.length > 1 ? stack.pop()! : 0;
      add(group);
    } else if (c === '{') {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(source.slice(i));
      if (!m) {
        add(1);
        continue;
      }
      const times = m[2] === undefined ? Number(m[1]) : m[3] ? Number(m[3]) : Number(m[1]) + 1;
      stack[stack.length - 1]! += last * (Math.max(times, 1) - 1);
      last *= Math.max(times, 1);
      i += m[0].length - 1;
    } else if (c === '.') {
      add(WIDE);
    } else if (!'*+?|^$'.includes(c)) {
      add(1);
    }
  }
  return stack.reduce((a, b) => a + b, 0);
}

/** `.`, negated classes and the like: every Unicode code point, in UTF-8 several states deep. */
const WIDE = 2;
/** `\p{…}`: hundreds of ranges (`\p{L}` alone takes about 130 KB of the heap). */
const UNICODE_PROPERTY = 100;
