// The payload to store: constants and defaults filled in, then validated
// (docs/command-schemas.md, "Composition").
import type { ValidationIssue } from '../errors.ts';
import type { CompiledCommandSchema } from './compile.ts';
import { isPlainObject, setOwn, type JsonObject } from './json.ts';
import { COMMAND_SCHEMA_LIMITS } from './limits.ts';
import { humanizeErrors } from './messages.ts';
import { closure, declaresObject, ownKeyword, propertyEntries } from './navigation.ts';

type Composition =
  | { valid: true; payload: unknown; errors: [] }
  | { valid: false; payload: unknown; errors: ValidationIssue[] };

/**
 * Composes the payload to store: constants and defaults filled in, then validated with every
 * violation reported. Without a schema any JSON is accepted as given.
 */
export function composePayload(compiled: CompiledCommandSchema | null | undefined, payload: unknown): Composition {
  if (!compiled) return { valid: true, payload: payload ?? null, errors: [] };
  let data: unknown;
  if (payload === null || payload === undefined) {
    data = {};
  } else {
    try {
      data = JSON.parse(JSON.stringify(payload)) as unknown;
    } catch {
      return { valid: false, payload: null, errors: [{ path: '', message: 'must be plain JSON' }] };
    }
  }
  const pass: Pass = { compiled, creations: MAX_CREATIONS };
  const composed = isPlainObject(data) ? composeObject(pass, data, [compiled.schema], 0).value : data;
  if (compiled.validate(composed) === true) return { valid: true, payload: composed, errors: [] };
  return { valid: false, payload: composed, errors: humanizeErrors(compiled.validate.errors ?? [], compiled.schema) };
}

/**
 * Objects one composition may create speculatively: a schema that requires objects recursively
 * (`{"properties": {"a": {"$ref": "#"}, "b": {"$ref": "#"}}, "required": ["a", "b"]}`) would
 * otherwise cost 2^depth attempts.
 */
const MAX_CREATIONS = 1000;

interface Pass {
  readonly compiled: CompiledCommandSchema;
  creations: number;
}

/** Fills `obj` (a private copy) in place, then returns it rebuilt in schema property order. */
function composeObject(
  pass: Pass,
  obj: JsonObject,
  starts: readonly unknown[],
  depth: number,
): { value: JsonObject; required: Set<string> } {
  const { compiled } = pass;
  const { doc } = compiled;
  const seen = new Set<JsonObject>();
  const applied: JsonObject[] = [];
  let batch: JsonObject[] = [];
  for (const start of starts) closure(doc, start, seen, batch);

  while (batch.length > 0) {
    for (const schema of batch) {
      for (const [name, sub] of propertyEntries(schema)) {
        if (Object.hasOwn(obj, name)) continue;
        const fixed = ownKeyword(doc, sub, 'const');
        const fallback = fixed ?? ownKeyword(doc, sub, 'default');
        if (fallback) setOwn(obj, name, structuredClone(fallback.value));
      }
    }
    applied.push(...batch);
    const next: JsonObject[] = [];
    for (const schema of batch) {
      if (Object.hasOwn(schema, 'if')) {
        const condition = compiled.conditions.get(schema);
        const holds = typeof condition === 'function' ? condition(obj) === true : condition;
        if (holds === true) closure(doc, schema['then'], seen, next);
        if (holds === false) closure(doc, schema['else'], seen, next);
      }
      const dependents = schema['dependentSchemas'];
      if (isPlainObject(dependents)) {
        for (const [key, sub] of Object.entries(dependents)) if (Object.hasOwn(obj, key)) closure(doc, sub, seen, next);
      }
    }
    batch = next;
  }

  const required = new Set<string>();
  for (const schema of applied) {
    const names = schema['required'];
    if (Array.isArray(names)) for (const name of names) if (typeof name === 'string') required.add(name);
  }

  if (depth < COMMAND_SCHEMA_LIMITS.maxDepth) {
    for (const [key, value] of Object.entries(obj)) {
      const subs = applied.flatMap((schema) => propertyEntries(schema).filter(([name]) => name === key).map(([, sub]) => sub));
      if (subs.length === 0) continue;
      if (isPlainObject(value)) setOwn(obj, key, composeObject(pass, value, subs, depth + 1).value);
      else if (Array.isArray(value)) setOwn(obj, key, composeArray(pass, value, subs, depth + 1));
    }
    // A required object whose every required member the schema determines is created for the operator.
    for (const schema of applied) {
      for (const [name, sub] of propertyEntries(schema)) {
        if (Object.hasOwn(obj, name) || !required.has(name) || !declaresObject(doc, sub)) continue;
        if (pass.creations <= 0) continue;
        pass.creations -= 1;
        const child = composeObject(pass, {}, [sub], depth + 1);
        if ([...child.required].every((member) => Object.hasOwn(child.value, member))) setOwn(obj, name, child.value);
      }
    }
  }

  const ordered: JsonObject = {};
  for (const schema of applied) {
    for (const [name] of propertyEntries(schema)) {
      if (Object.hasOwn(obj, name) && !Object.hasOwn(ordered, name)) setOwn(ordered, name, obj[name]);
    }
  }
  for (const [key, value] of Object.entries(obj)) if (!Object.hasOwn(ordered, key)) setOwn(ordered, key, value);
  return { value: ordered, required };
}

function composeArray(pass: Pass, array: unknown[], starts: readonly unknown[], depth: number): unknown[] {
  const schemas: JsonObject[] = [];
  const seen = new Set<JsonObject>();
  for (const start of starts) closure(pass.compiled.doc, start, seen, schemas);
  return array.map((element, index) => {
    if (!isPlainObject(element) && !Array.isArray(element)) return element;
    const subs: unknown[] = [];
    for (const schema of schemas) {
      const prefix = schema['prefixItems'];
      const prefixLength = Array.isArray(prefix) ? prefix.length : 0;
      if (Array.isArray(prefix) && index < prefixLength) subs.push(prefix[index]);
      else if (schema['items'] !== undefined) subs.push(schema['items']);
    }
    if (subs.length === 0) return element;
    return isPlainObject(element)
      ? composeObject(pass, element, subs, depth).value
      : composeArray(pass, element as unknown[], subs, depth + 1);
  });
}
