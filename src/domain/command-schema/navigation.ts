// Finding subschemas: local `$ref` resolution, the subschemas that apply to the same value,
// every direct subschema of a schema, and RFC 6901 JSON Pointers (docs/command-schemas.md,
// "Paths"). Composition, form fields, messages and compilation all walk schemas through here.
import { COMMAND_SCHEMA_LIMITS } from './limits.ts';
import { isPlainObject, isSchema, type JsonObject, type Schema } from './json.ts';

export interface SchemaDoc {
  readonly root: JsonObject;
  readonly rootId: string | undefined;
  readonly anchors: ReadonlyMap<string, JsonObject>;
}

export function makeDoc(root: JsonObject): SchemaDoc {
  const anchors = new Map<string, JsonObject>();
  const visit = (node: Schema, depth: number): void => {
    if (typeof node === 'boolean' || depth > COMMAND_SCHEMA_LIMITS.maxDepth) return;
    const anchor = node['$anchor'];
    if (typeof anchor === 'string' && !anchors.has(anchor)) anchors.set(anchor, node);
    forEachSubschema(node, (sub) => visit(sub, depth + 1));
  };
  visit(root, 0);
  const id = root['$id'];
  return { root, rootId: typeof id === 'string' ? id.replace(/#$/, '') : undefined, anchors };
}

/** Local references only: `#`, `#/json/pointer`, `#anchor` (optionally prefixed by the root `$id`). */
function resolveRef(doc: SchemaDoc, ref: string): unknown {
  const hash = ref.indexOf('#');
  const base = hash < 0 ? ref : ref.slice(0, hash);
  if (base !== '' && base !== doc.rootId) return undefined;
  const fragment = hash < 0 ? '' : ref.slice(hash + 1);
  if (fragment === '') return doc.root;
  if (!fragment.startsWith('/')) return doc.anchors.get(fragment);
  const pointer = decodeFragment(fragment);
  return pointer === undefined ? undefined : resolvePointer(doc.root, pointerSegments(pointer));
}

/** Adds `start` and everything that applies to the same value unconditionally: `$ref` targets and `allOf` members. */
export function closure(doc: SchemaDoc, start: unknown, seen: Set<JsonObject>, out: JsonObject[]): void {
  if (!isPlainObject(start) || seen.has(start) || seen.size > 1000) return;
  seen.add(start);
  out.push(start);
  const ref = start['$ref'];
  if (typeof ref === 'string') closure(doc, resolveRef(doc, ref), seen, out);
  const all = start['allOf'];
  if (Array.isArray(all)) for (const member of all) closure(doc, member, seen, out);
}

/** The first schema in the closure of `start` that has `keyword`, as `{value}`. */
export function ownKeyword(doc: SchemaDoc, start: unknown, keyword: string): { value: unknown } | undefined {
  const schemas: JsonObject[] = [];
  closure(doc, start, new Set(), schemas);
  const holder = schemas.find((s) => Object.hasOwn(s, keyword));
  return holder ? { value: holder[keyword] } : undefined;
}

export function declaresObject(doc: SchemaDoc, start: unknown): boolean {
  const schemas: JsonObject[] = [];
  closure(doc, start, new Set(), schemas);
  return schemas.some((s) => s['type'] === 'object');
}

export function propertyEntries(schema: JsonObject): [string, unknown][] {
  const properties = schema['properties'];
  return isPlainObject(properties) ? Object.entries(properties) : [];
}

const MAP_KEYWORDS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas', 'dependencies'];
const SCHEMA_KEYWORDS = [
  'additionalProperties', 'items', 'contains', 'propertyNames', 'not', 'if', 'then', 'else',
  'unevaluatedItems', 'unevaluatedProperties', 'contentSchema', 'additionalItems',
];
const LIST_KEYWORDS = ['prefixItems', 'allOf', 'anyOf', 'oneOf'];

/** Calls `visit` for every direct subschema with its path segments relative to `schema`. */
export function forEachSubschema(schema: JsonObject, visit: (sub: Schema, segments: string[]) => void): void {
  for (const keyword of MAP_KEYWORDS) {
    const map = schema[keyword];
    if (isPlainObject(map)) for (const [key, sub] of Object.entries(map)) if (isSchema(sub)) visit(sub, [keyword, key]);
  }
  for (const keyword of SCHEMA_KEYWORDS) {
    const sub = schema[keyword];
    if (isSchema(sub)) visit(sub, [keyword]);
  }
  for (const keyword of LIST_KEYWORDS) {
    const list = schema[keyword];
    if (Array.isArray(list)) list.forEach((sub, index) => { if (isSchema(sub)) visit(sub, [keyword, String(index)]); });
  }
}

export function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

export function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

export function decodeFragment(fragment: string): string | undefined {
  try {
    return decodeURIComponent(fragment);
  } catch {
    return undefined;
  }
}

export function resolvePointer(root: unknown, segments: readonly string[]): unknown {
  let node: unknown = root;
  for (const segment of segments) {
    if (Array.isArray(node)) node = /^(0|[1-9]\d*)$/.test(segment) ? node[Number(segment)] : undefined;
    else if (isPlainObject(node) && Object.hasOwn(node, segment)) node = node[segment];
    else return undefined;
  }
  return node;
}
