// Endpoint metadata (kaa-rfcs 0010, 10/EPMP): key-value pairs about a device (name, model,
// firmware version, location…) that the device and operators both read and write. Pure rules
// shared by the kp1 `epmx` extension and the GraphQL API; storage is registry-store.ts.
import { isPlainObject } from '../lib/json.ts';
import { badInput } from './errors.ts';

/** A metadata object: keys match METADATA_KEY, values are any JSON. */
export type Metadata = Record<string, unknown>;

// [10/EPMP] "metadata keys MUST match the following regular expression pattern: `^[a-zA-Z0-9_]+$`."
export const METADATA_KEY = /^[a-zA-Z0-9_]+$/;
export const METADATA_KEY_RULE = 'non-empty, letters, digits and "_" only (^[a-zA-Z0-9_]+$)';

/** Largest metadata of one endpoint as JSON text (ours: it is loaded with the endpoint page). */
export const MAX_METADATA_BYTES = 64 * 1024;
/** Deepest nesting of a metadata value (ours: PostgreSQL's jsonb recursion has limits too). */
const MAX_DEPTH = 32;

/** What a change does [10/EPMP]: `update` replaces, `update/keys` merges, `delete/keys` removes. */
export type MetadataChange =
  | { kind: 'replace'; metadata: Metadata }
  | { kind: 'merge'; metadata: Metadata }
  | { kind: 'delete'; keys: string[] };

export function isMetadataKey(key: string): boolean {
  return METADATA_KEY.test(key);
}

/** The metadata after the changes in order, or a BAD_USER_INPUT error when it would be too large. */
export function applyMetadataChanges(current: Metadata, changes: readonly MetadataChange[]): Metadata {
  let next = { ...current };
  for (const change of changes) {
    if (change.kind === 'replace') next = { ...change.metadata };
    else if (change.kind === 'merge') next = { ...next, ...change.metadata };
    else for (const key of change.keys) delete next[key];
  }
  const bytes = Buffer.byteLength(JSON.stringify(next));
  if (bytes > MAX_METADATA_BYTES) {
    throw badInput(`The metadata would be ${bytes} bytes as JSON; at most ${MAX_METADATA_BYTES} are kept per endpoint.`);
  }
  return next;
}

/**
 * Checks a metadata object from any source: keys by the 10/EPMP pattern, values storable in
 * PostgreSQL jsonb (no U+0000 and no lone surrogates in strings, which jsonb refuses; at most
 * MAX_DEPTH levels). Throws BAD_USER_INPUT naming the first fault.
 */
export function checkMetadata(value: unknown, where: string, opts: { allowEmpty: boolean }): Metadata {
  if (!isPlainObject(value)) throw badInput(`${where} must be a JSON object of key-value pairs.`);
  const keys = Object.keys(value);
  // [10/EPMP update request schema] "minProperties":1
  if (!opts.allowEmpty && keys.length === 0) throw badInput(`${where} must have at least one key.`);
  for (const key of keys) {
    checkKey(key, where);
    checkValue(value[key], `${where}: the value of "${key}"`, 1);
  }
  return value;
}

/** A list of distinct metadata keys ([10/EPMP] `uniqueItems`); `minItems` per resource. */
export function checkKeyList(value: unknown, where: string, minItems: number): string[] {
  if (!Array.isArray(value)) throw badInput(`${where} must be a JSON array of metadata keys.`);
  if (value.length < minItems) throw badInput(`${where} must name at least ${minItems} key.`);
  const seen = new Set<string>();
  for (const key of value) {
    if (typeof key !== 'string') throw badInput(`${where} must contain only strings.`);
    checkKey(key, where);
    if (seen.has(key)) throw badInput(`${where} names "${key}" twice; keys must be unique.`);
    seen.add(key);
  }
  return [...seen];
}

function checkKey(key: string, where: string): void {
  if (!isMetadataKey(key)) {
    throw badInput(`${where}: bad metadata key ${JSON.stringify(key.slice(0, 64))}; keys are ${METADATA_KEY_RULE}.`);
  }
}

function checkValue(value: unknown, where: string, depth: number): void {
  if (depth > MAX_DEPTH) throw badInput(`${where} is nested deeper than ${MAX_DEPTH} levels.`);
  if (typeof value === 'string') {
    if (!storableString(value)) throw badInput(`${where} contains U+0000 or a lone surrogate, which cannot be stored.`);
  } else if (Array.isArray(value)) {
    for (const item of value) checkValue(item, where, depth + 1);
  } else if (isPlainObject(value)) {
    for (const [k, v] of Object.entries(value)) {
      if (!storableString(k)) throw badInput(`${where} has a key with U+0000 or a lone surrogate.`);
      checkValue(v, where, depth + 1);
    }
  }
}

const UNSTORABLE = /\u0000|[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function storableString(text: string): boolean {
  return !UNSTORABLE.test(text);
}
