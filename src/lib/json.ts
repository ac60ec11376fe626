/** A JSON object as JSON.parse makes it: not null, not an array, not a class instance. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * Deepest nesting of arrays and objects accepted from clients (devices and operators). Far
 * below where JSON.stringify, drizzle and PostgreSQL recurse out of stack (a few thousand
 * levels), and far above any real payload.
 */
export const MAX_JSON_DEPTH = 100;

// A high surrogate not followed by a low one, or a low one not preceded by a high one.
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/**
 * Why PostgreSQL would refuse the text, or undefined when it stores it: text and jsonb cannot
 * hold U+0000, and a lone UTF-16 surrogate has no UTF-8 form (jsonb refuses it; text would
 * silently get U+FFFD instead).
 */
export function unstorableText(text: string): string | undefined {
  if (text.includes('\u0000')) return 'contains a NUL character (\\u0000)';
  if (LONE_SURROGATE.test(text)) return 'contains a lone UTF-16 surrogate (not valid Unicode)';
  return undefined;
}

/** What is wrong with a JSON value, and where (a JSON Pointer, '' for the whole value). */
export interface JsonProblem {
  path: string;
  message: string;
}

/**
 * The first problem that keeps a JSON value from being stored: nesting deeper than `maxDepth`,
 * or a string or object key that unstorableText refuses. Iterative, so any depth is safe.
 */
export function jsonProblem(value: unknown, maxDepth = MAX_JSON_DEPTH): JsonProblem | undefined {
  const stack: { value: unknown; path: string; depth: number }[] = [{ value, path: '', depth: 0 }];
  for (let item = stack.pop(); item; item = stack.pop()) {
    const { value: v, path, depth } = item;
    if (typeof v === 'string') {
      const why = unstorableText(v);
      if (why) return { path, message: `the string ${why}` };
      continue;
    }
    if (typeof v !== 'object' || v === null) continue;
    if (depth >= maxDepth) return { path, message: `nesting is deeper than ${maxDepth} levels` };
    const entries = Array.isArray(v) ? v.map((x, i) => [String(i), x] as const) : Object.entries(v);
    for (const [key, child] of entries) {
      const childPath = `${path}/${key.replaceAll('~', '~0').replaceAll('/', '~1')}`;
      if (!Array.isArray(v)) {
        const why = unstorableText(key);
        if (why) return { path: childPath, message: `the key ${why}` };
      }
      stack.push({ value: child, path: childPath, depth: depth + 1 });
    }
  }
  return undefined;
}

/**
 * The UTF-8 size of JSON.stringify(value), computed without recursion (JSON.stringify itself
 * runs out of stack a few thousand levels deep).
 */
export function jsonByteLength(value: unknown): number {
  let bytes = 0;
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const v = stack.pop();
    if (typeof v === 'object' && v !== null && typeof (v as { toJSON?: unknown }).toJSON !== 'function') {
      const children = Array.isArray(v) ? v : Object.values(v).filter(isSerialized);
      bytes += 2 + Math.max(0, children.length - 1); // brackets and commas
      if (!Array.isArray(v)) {
        for (const [key, child] of Object.entries(v)) if (isSerialized(child)) bytes += Buffer.byteLength(JSON.stringify(key)) + 1;
      }
      for (const child of children) stack.push(child);
    } else {
      bytes += Buffer.byteLength(JSON.stringify(v) ?? 'null');
    }
  }
  return bytes;
}

/** Whether JSON.stringify writes an object property with this value. */
function isSerialized(value: unknown): boolean {
  return value !== undefined && typeof value !== 'function' && typeof value !== 'symbol';
}
