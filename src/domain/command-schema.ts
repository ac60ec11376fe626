/**
 * Command schemas: the JSON Schema an operator attaches to (application version, command type),
 * and the pure rules that turn an operator's payload into the payload that is stored and
 * delivered. No I/O here; storage and GraphQL call in.
 *
 * Dialect: JSON Schema draft 2020-12 (ajv's `Ajv2020`). It is the current published dialect and
 * the one OpenAPI 3.1 speaks; it has `dependentRequired`/`dependentSchemas` (the issue's
 * conditional rules) as keywords of their own, plus `$defs`, `prefixItems` and
 * `unevaluatedProperties`. A schema may omit `$schema`; any other `$schema` value (draft-07, …)
 * is refused instead of being silently read as 2020-12.
 *
 * Decisions where the issue is silent:
 * - A command schema describes an object: its root must say `"type": "object"`. A command type
 *   without a schema accepts any JSON (`composePayload(undefined, x)` passes `x` through).
 * - Schemas are checked in strict mode and every reason is reported at once: meta-schema
 *   violations, unknown keywords, unknown formats, invalid regular expressions, `$async`, size
 *   (64 Ki characters of JSON) and nesting (32 levels of subschemas); then ajv compiles and its
 *   first compile error (e.g. an unresolvable `$ref`) is reported. Nothing is ever fetched: a
 *   `$ref` outside the schema cannot resolve and is refused.
 * - Paths are RFC 6901 JSON Pointers; the root is `""`. For schema errors they point into the
 *   schema, for payload errors into the payload. `required` errors point at the missing property.
 * - Composition: a missing or `null` payload is treated as `{}`. Then, object by object, every
 *   absent property whose subschema has `const` gets the constant and every other absent property
 *   with a `default` gets a copy of it; a property present with another value than its `const` is
 *   left as sent and reported (`must be 60 (fixed by the schema)`). `null` counts as a value, not
 *   as absence. Subschemas are followed through `properties`, `allOf`, local `$ref` (`#/...`
 *   pointers and `#anchor`), `prefixItems`/`items` (array elements that are objects), and
 *   conditionally through `then`/`else` (the `if` is evaluated, by a validator compiled with the
 *   schema, on the object after its own unconditional fills) and `dependentSchemas` (when the key
 *   is present). `anyOf`/`oneOf`/`not` are never used to fill: the branch is ambiguous.
 * - A missing nested object is created when it has a `default`, or when it is required, declares
 *   `"type": "object"`, and filling `{}` satisfies all its own required properties (the operator
 *   could not have written anything else). Otherwise it stays absent and validation says so.
 * - Composed objects list the schema's properties first, in schema order, then any other keys in
 *   the order sent. The caller's payload is never mutated (the composer works on a JSON copy).
 * - Form metadata (`formFields`) is read from `properties` through `allOf`/`$ref`/`then`/`else`/
 *   `dependentSchemas`. A field is `required` when an unconditional `required` names it;
 *   conditional requirements come back as `requiredWhen`: alternatives, each a human `text` plus,
 *   when the condition is simple (`const`/`enum` tests and presence), structured `conditions`
 *   that all must hold. JSON Schema reads `if: {properties: {k: {const: v}}}` as true also when `k`
 *   is absent; the metadata simplifies that to "k is v".
 */
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { ErrorObject, Options, ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ValidationIssue } from './errors.ts';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule.default;

export const COMMAND_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

export const COMMAND_SCHEMA_LIMITS = Object.freeze({
  /** Characters of the schema serialized as JSON. */
  maxChars: 64 * 1024,
  /** Levels of nested subschemas; also the deepest payload level that composition fills. */
  maxDepth: 32,
});

export type SchemaCheck = { ok: true } | { ok: false; errors: ValidationIssue[] };

export interface CompiledCommandSchema {
  /** The schema as compiled: a deep-frozen JSON copy, safe to share. */
  readonly schema: Readonly<Record<string, unknown>>;
  /** ajv validator (allErrors) for composed payloads. */
  readonly validate: ValidateFunction;
  /** Validators of every `if`, keyed by the schema object that holds the `if`. */
  readonly conditions: ReadonlyMap<object, ValidateFunction | boolean>;
  /** Reference resolution for the composer. */
  readonly doc: SchemaDoc;
}

export type CompileResult =
  | { ok: true; compiled: CompiledCommandSchema }
  | { ok: false; errors: ValidationIssue[] };

export type Composition =
  | { valid: true; payload: unknown; errors: [] }
  | { valid: false; payload: unknown; errors: ValidationIssue[] };

/** A test on a sibling field of the same object. */
export type FieldCondition =
  | { field: string; op: 'present' | 'absent' }
  | { field: string; op: 'in' | 'notIn'; values: unknown[] };

/** One situation in which a field is required. `conditions` (all must hold) is omitted when the schema's condition is too complex to describe structurally. */
export interface RequiredWhen {
  text: string;
  conditions?: FieldCondition[];
}

export interface FormFieldShape {
  title?: string;
  description?: string;
  type?: string | string[];
  enum?: unknown[];
  /** Labels for `enum`, from `oneOf`/`anyOf` lists of `{const, title}`. */
  enumTitles?: string[];
  default?: unknown;
  /** True when the schema fixes the value (`const`); the server fills it in. */
  fixed: boolean;
  const?: unknown;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  exclusiveMaximum?: number;
  multipleOf?: number;
  minLength?: number;
  maxLength?: number;
  pattern?: string;
  format?: string;
  /** Properties of an object field. */
  fields?: FormField[];
  /** Shape of an array field's elements. */
  items?: FormFieldShape;
}

export interface FormField extends FormFieldShape {
  name: string;
  required: boolean;
  requiredWhen?: RequiredWhen[];
}

export class InvalidCommandSchemaError extends Error {
  readonly errors: ValidationIssue[];
  constructor(errors: ValidationIssue[]) {
    super(`invalid command schema: ${errors.map((e) => `${e.path || '(root)'} ${e.message}`).join('; ')}`);
    this.name = 'InvalidCommandSchemaError';
    this.errors = errors;
  }
}

type JsonObject = Record<string, unknown>;
type Schema = JsonObject | boolean;

const AJV_OPTIONS: Options = {
  allErrors: true,
  // Unknown keywords and formats are operator mistakes: refuse them rather than ignore them.
  strict: true,
  // `properties` without `type` is normal in `if` conditions; do not demand types everywhere.
  strictTypes: false,
  strictTuples: false,
  // `then: {required: ["period_s"]}` names a property declared by the parent schema.
  strictRequired: false,
  logger: false,
};

const ROOT_KEY = 'urn:cex:command-schema';

let checkerInstance: Ajv2020 | undefined;

/** The shared instance that only meta-validates schemas (its meta-schema compiles once). */
function checker(): Ajv2020 {
  checkerInstance ??= (() => {
    const ajv = new Ajv2020(AJV_OPTIONS);
    addFormats(ajv);
    return ajv;
  })();
  return checkerInstance;
}

// ---------------------------------------------------------------------------------------------
// Schema check and compilation

/** Checks that `schema` is an acceptable command schema; all reasons at once. */
export function checkSchema(schema: unknown): SchemaCheck {
  const result = compileCommandSchema(schema);
  return result.ok ? { ok: true } : { ok: false, errors: result.errors };
}

/**
 * Checks and compiles a schema. Each compilation gets its own ajv instance: an operator's `$id`
 * cannot collide with another schema's, and dropping the artefact frees everything it compiled.
 */
export function compileCommandSchema(schema: unknown): CompileResult {
  const prepared = prepare(schema);
  if (!prepared.ok) return prepared;
  const root = deepFreeze(prepared.schema);
  try {
    return { ok: true, compiled: build(root) };
  } catch (error) {
    return { ok: false, errors: [compileError(error, prepared.refs)] };
  }
}

/**
 * Compiled schemas per schema version. Keys must name immutable versions (e.g. the stored
 * schema row id): a key that is cached is never compiled again. Least recently used entries
 * beyond `maxEntries` are dropped (and recompiled on next use).
 */
export class CommandSchemaCache {
  readonly #entries = new Map<string, CompiledCommandSchema>();
  readonly #maxEntries: number;
  #compilations = 0;

  constructor(options: { maxEntries?: number } = {}) {
    const max = options.maxEntries ?? 1000;
    if (!Number.isInteger(max) || max < 1) throw new RangeError('maxEntries must be a positive integer');
    this.#maxEntries = max;
  }

  /** How many schemas this cache compiled. */
  get compilations(): number {
    return this.#compilations;
  }

  get size(): number {
    return this.#entries.size;
  }

  /** The compiled schema for `key`; compiles `schema` only on a miss. Throws InvalidCommandSchemaError. */
  getOrCompile(key: string, schema: unknown): CompiledCommandSchema {
    const cached = this.peek(key);
    if (cached) return cached;
    this.#compilations += 1;
    const result = compileCommandSchema(schema);
    if (!result.ok) throw new InvalidCommandSchemaError(result.errors);
    this.prime(key, result.compiled);
    return result.compiled;
  }

  /** The cached artefact, if any (marks it recently used). */
  peek(key: string): CompiledCommandSchema | undefined {
    const cached = this.#entries.get(key);
    if (cached) {
      this.#entries.delete(key);
      this.#entries.set(key, cached);
    }
    return cached;
  }

  /** Stores an artefact compiled elsewhere (e.g. by the check that accepted a new version). */
  prime(key: string, compiled: CompiledCommandSchema): void {
    this.#entries.delete(key);
    this.#entries.set(key, compiled);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next();
      if (oldest.done) break;
      this.#entries.delete(oldest.value);
    }
  }

  delete(key: string): boolean {
    return this.#entries.delete(key);
  }

  clear(): void {
    this.#entries.clear();
  }
}

interface RefSite {
  path: string;
  value: string;
}

function prepare(
  schema: unknown,
): { ok: true; schema: JsonObject; refs: RefSite[] } | { ok: false; errors: ValidationIssue[] } {
  const fail = (path: string, message: string) => ({ ok: false as const, errors: [{ path, message }] });
  if (!isPlainObject(schema)) {
    return fail('', 'must be a JSON object: a JSON Schema describing the command payload');
  }
  if (jsonDepthExceeds(schema, COMMAND_SCHEMA_LIMITS.maxDepth * 4)) {
    return fail('', `is nested too deeply (more than ${COMMAND_SCHEMA_LIMITS.maxDepth * 4} levels of JSON)`);
  }
  let text: string;
  try {
    text = JSON.stringify(schema);
  } catch {
    return fail('', 'must be plain JSON');
  }
  if (text.length > COMMAND_SCHEMA_LIMITS.maxChars) {
    return fail('', `is too large: ${text.length} characters of JSON, at most ${COMMAND_SCHEMA_LIMITS.maxChars}`);
  }
  const copy = JSON.parse(text) as JsonObject;

  const dialect = copy['$schema'];
  if (dialect !== undefined && dialect !== COMMAND_SCHEMA_DIALECT && dialect !== `${COMMAND_SCHEMA_DIALECT}#`) {
    return fail('/$schema', `must be "${COMMAND_SCHEMA_DIALECT}" or absent: only JSON Schema draft 2020-12 is supported`);
  }

  const scanned: ValidationIssue[] = [];
  const refs: RefSite[] = [];
  scanSchema(copy, '', 0, scanned, refs);
  const scannedPaths = new Set(scanned.map((e) => e.path));

  const errors: ValidationIssue[] = [];
  const meta = checker();
  let metaValid = true;
  try {
    metaValid = meta.validateSchema(copy) === true;
  } catch (error) {
    errors.push({ path: '', message: `cannot be checked: ${errorMessage(error)}` });
  }
  if (!metaValid) {
    // The scan explains bad regular expressions better than the meta-schema's `format: regex`.
    errors.push(...humanizeErrors(meta.errors ?? [], undefined).filter((e) => !scannedPaths.has(e.path)));
  }
  errors.push(...scanned);
  if (copy['type'] !== 'object' && !errors.some((e) => e.path === '/type')) {
    errors.push({ path: '/type', message: 'must be "object": a command schema describes a JSON object payload' });
  }
  return errors.length > 0 ? { ok: false, errors: dedupe(errors) } : { ok: true, schema: copy, refs };
}

/** Finds everything strict compilation would refuse one at a time, so all of it is reported at once. */
function scanSchema(node: unknown, pointer: string, depth: number, out: ValidationIssue[], refs: RefSite[]): void {
  if (!isPlainObject(node)) return;
  if (depth > COMMAND_SCHEMA_LIMITS.maxDepth) {
    out.push({ path: pointer, message: `is nested too deeply: at most ${COMMAND_SCHEMA_LIMITS.maxDepth} levels of subschemas` });
    return;
  }
  const ajv = checker();
  for (const [key, value] of Object.entries(node)) {
    const at = `${pointer}/${escapePointer(key)}`;
    if (key === '$async') {
      out.push({ path: at, message: 'asynchronous schemas are not supported' });
    } else if (!Object.hasOwn(ajv.RULES.keywords, key)) {
      out.push({ path: at, message: `unknown keyword "${key}": only JSON Schema 2020-12 keywords are accepted (put notes in "description" or "$comment")` });
    } else if (key === 'format' && typeof value === 'string' && !Object.hasOwn(ajv.formats, value)) {
      out.push({ path: at, message: `unknown format "${value}"; known formats: ${Object.keys(ajv.formats).join(', ')}` });
    } else if (key === 'pattern' && typeof value === 'string') {
      checkRegExp(value, at, out);
    } else if (key === 'patternProperties' && isPlainObject(value)) {
      for (const pattern of Object.keys(value)) checkRegExp(pattern, `${at}/${escapePointer(pattern)}`, out);
    } else if ((key === '$ref' || key === '$dynamicRef') && typeof value === 'string') {
      refs.push({ path: at, value });
    }
  }
  forEachSubschema(node, (sub, segments) =>
    scanSchema(sub, pointer + segments.map((s) => `/${escapePointer(s)}`).join(''), depth + 1, out, refs),
  );
}

function checkRegExp(source: string, path: string, out: ValidationIssue[]): void {
  try {
    new RegExp(source, 'u'); // ajv compiles patterns with the u flag (unicodeRegExp)
  } catch (error) {
    out.push({ path, message: `is not a valid regular expression: ${errorMessage(error).replace(/^Invalid regular expression: /, '')}` });
  }
}

function compileError(error: unknown, refs: RefSite[]): ValidationIssue {
  if (typeof error === 'object' && error !== null && 'missingRef' in error) {
    const missing = String((error as { missingRef: unknown }).missingRef);
    const site = refs.find((r) => r.value === missing || missing.endsWith(r.value));
    return {
      path: site?.path ?? '',
      message: `cannot be resolved: "${site?.value ?? missing}" is not inside this schema (referenced schemas are never fetched)`,
    };
  }
  const message = errorMessage(error).replace(/^strict mode: /, '');
  const at = /at (?:path )?"#([^"]*)"/.exec(message);
  return { path: at ? decodeFragment(at[1] ?? '') ?? '' : '', message: `cannot be compiled: ${message}` };
}

function build(root: JsonObject): CompiledCommandSchema {
  const ajv = new Ajv2020({ ...AJV_OPTIONS, validateSchema: false }); // prepare() meta-validated it
  addFormats(ajv);
  ajv.addSchema(root, ROOT_KEY);
  const validate = ajv.getSchema(ROOT_KEY) as ValidateFunction | undefined;
  if (!validate) throw new Error('schema did not compile');

  // Every `if` is compiled now, so composing a payload never compiles.
  const conditions = new Map<object, ValidateFunction | boolean>();
  const visit = (node: Schema, segments: string[]): void => {
    if (typeof node === 'boolean') return;
    const condition = node['if'];
    if (typeof condition === 'boolean') {
      conditions.set(node, condition);
    } else if (isPlainObject(condition)) {
      const fragment = [...segments, 'if'].map((s) => `/${encodeURIComponent(escapePointer(s))}`).join('');
      const check = ajv.getSchema(`${ROOT_KEY}#${fragment}`) as ValidateFunction | undefined;
      // Without a validator the branch's fills are skipped; validation still applies the branch.
      if (check) conditions.set(node, check);
    }
    forEachSubschema(node, (sub, more) => visit(sub, [...segments, ...more]));
  };
  visit(root, []);

  return Object.freeze({ schema: root, validate, conditions, doc: makeDoc(root) });
}

// ---------------------------------------------------------------------------------------------
// Composition

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

// ---------------------------------------------------------------------------------------------
// Human messages

function humanizeErrors(errors: readonly ErrorObject[], root: Schema | undefined): ValidationIssue[] {
  const replaced = new Map<ErrorObject, string>();
  const consumed = new Set<ErrorObject>();
  errors.forEach((error, index) => {
    if (error.keyword !== 'anyOf' && error.keyword !== 'oneOf') return;
    const inner = alternativeErrors(errors, index);
    const simple = inner.length > 0 && inner.every(
      (e) => e.instancePath === error.instancePath && (e.keyword === 'const' || e.keyword === 'enum' || e.keyword === 'type'),
    );
    if (!simple) return;
    // Alternatives that are only values and types read better as one list.
    const values: unknown[] = [];
    const types: string[] = [];
    for (const e of inner) {
      if (e.keyword === 'const') values.push(e.params['allowedValue']);
      if (e.keyword === 'enum') values.push(...(e.params['allowedValues'] as unknown[]));
      if (e.keyword === 'type') types.push(...typeList(e.params['type']));
      consumed.add(e);
    }
    const typeText = types.map(withArticle).join(' or ');
    replaced.set(
      error,
      values.length === 0
        ? `must be ${types.join(' or ')}`
        : `must be one of: ${values.map(showValue).join(', ')}${types.length > 0 ? `, or ${typeText}` : ''}`,
    );
  });

  // "must be string" adds nothing next to "must be one of: …" from the same schema.
  for (const error of errors) {
    if (error.keyword !== 'type') continue;
    const parent = error.schemaPath.slice(0, error.schemaPath.lastIndexOf('/'));
    const valued = errors.some(
      (e) => (e.keyword === 'const' || e.keyword === 'enum') && e.instancePath === error.instancePath && e.schemaPath === `${parent}/${e.keyword}`,
    );
    if (valued) consumed.add(error);
  }

  const out: ValidationIssue[] = [];
  for (const error of errors) {
    if (consumed.has(error)) continue;
    const message = replaced.get(error);
    const human = message !== undefined ? { path: error.instancePath, message } : humanizeError(error, root);
    if (human) out.push(human);
  }
  return dedupe(out);
}

/**
 * The errors an anyOf/oneOf summary at `index` sums up. ajv reports them right before the summary;
 * they sit under the summary's schema path, or elsewhere when reached through a `$ref` (whereas a
 * sibling keyword of the same schema sits under the parent's path, and ends the run).
 */
function alternativeErrors(errors: readonly ErrorObject[], index: number): ErrorObject[] {
  const summary = errors[index];
  if (!summary) return [];
  const parent = summary.schemaPath.slice(0, summary.schemaPath.lastIndexOf('/'));
  const inner: ErrorObject[] = [];
  for (let i = index - 1; i >= 0; i -= 1) {
    const e = errors[i];
    if (!e) break;
    const samePlace = e.instancePath === summary.instancePath || e.instancePath.startsWith(`${summary.instancePath}/`);
    const underSummary = e.schemaPath.startsWith(`${summary.schemaPath}/`);
    if (!samePlace || (!underSummary && e.schemaPath.startsWith(`${parent}/`))) break;
    inner.unshift(e);
  }
  return inner;
}

const FORMAT_NAMES: Record<string, string> = {
  'date-time': 'date-time (RFC 3339, e.g. 2024-05-01T12:00:00Z)',
  date: 'date (YYYY-MM-DD)',
  time: 'time (RFC 3339, e.g. 12:00:00Z)',
  duration: 'duration (ISO 8601, e.g. PT15M)',
  email: 'email address',
  hostname: 'hostname',
  ipv4: 'IPv4 address',
  ipv6: 'IPv6 address',
  uri: 'absolute URI',
  'uri-reference': 'URI reference',
  uuid: 'UUID',
  regex: 'regular expression',
};

function humanizeError(error: ErrorObject, root: Schema | undefined): ValidationIssue | null {
  const params = error.params as Record<string, unknown>;
  const at = error.instancePath;
  const child = (name: unknown) => `${at}/${escapePointer(String(name))}`;
  switch (error.keyword) {
    case 'if':
    case 'propertyNames':
      return null; // summaries: the failing branch / name has its own error
    case 'required':
      return { path: child(params['missingProperty']), message: `is required${whenSuffix(error.schemaPath, root)}` };
    case 'dependentRequired':
    case 'dependencies':
      return { path: child(params['missingProperty']), message: `is required when ${String(params['property'])} is present` };
    case 'additionalProperties':
      return { path: child(params['additionalProperty']), message: 'is not allowed: the schema does not define this property' };
    case 'unevaluatedProperties':
      return { path: child(params['unevaluatedProperty']), message: 'is not allowed: the schema does not define this property' };
    case 'const':
      return { path: at, message: `must be ${JSON.stringify(params['allowedValue'])} (fixed by the schema)` };
    case 'enum':
      return { path: at, message: `must be one of: ${(params['allowedValues'] as unknown[]).map(showValue).join(', ')}` };
    case 'type':
      return { path: at, message: `must be ${typeList(params['type']).join(' or ')}` };
    case 'format': {
      const format = String(params['format']);
      const name = FORMAT_NAMES[format];
      return { path: at, message: name ? `must be a valid ${name}` : `must match format "${format}"` };
    }
    case 'multipleOf':
      return { path: at, message: `must be a multiple of ${String(params['multipleOf'])}` };
    case 'minLength':
    case 'maxLength':
      return { path: at, message: `must be at ${error.keyword === 'minLength' ? 'least' : 'most'} ${plural(params['limit'], 'character')} long` };
    case 'minItems':
    case 'maxItems':
      return { path: at, message: `must have at ${error.keyword === 'minItems' ? 'least' : 'most'} ${plural(params['limit'], 'item')}` };
    case 'minProperties':
    case 'maxProperties':
      return { path: at, message: `must have at ${error.keyword === 'minProperties' ? 'least' : 'most'} ${plural(params['limit'], 'property', 'properties')}` };
    case 'uniqueItems':
      return { path: at, message: `must not contain duplicates (items ${String(params['j'])} and ${String(params['i'])} are identical)` };
    case 'anyOf':
      return { path: at, message: 'must match at least one of the allowed alternatives (anyOf)' };
    case 'oneOf':
      return {
        path: at,
        message: Array.isArray(params['passingSchemas'])
          ? 'must match exactly one of the alternatives (oneOf), but matches several'
          : 'must match exactly one of the allowed alternatives (oneOf)',
      };
    case 'not':
      return { path: at, message: 'must not match the schema under "not"' };
    case 'false schema':
      return { path: at, message: 'is not allowed' };
    default: {
      // Errors about a property name (from propertyNames) concern that key.
      const name = (error as { propertyName?: unknown }).propertyName;
      if (typeof name === 'string') return { path: child(name), message: `property name ${error.message ?? 'is invalid'}` };
      return { path: at, message: error.message ?? `fails "${error.keyword}"` };
    }
  }
}

/** " when output_mode is blinking" for a `required` that sits in a `then`/`else`/`dependentSchemas` branch. */
function whenSuffix(schemaPath: string, root: Schema | undefined): string {
  if (root === undefined || !schemaPath.startsWith('#')) return '';
  const segments = pointerSegments(decodeFragment(schemaPath.slice(1)) ?? '');
  if (segments.pop() !== 'required') return '';
  const branch = segments.pop();
  if (branch === 'then' || branch === 'else') {
    const parent = resolvePointer(root, segments);
    if (!isPlainObject(parent)) return '';
    const condition = describeCondition(parent['if']);
    const text = branch === 'then' ? condition.text : negate(condition).text;
    return ` when ${text}`;
  }
  if (segments.pop() === 'dependentSchemas' && branch !== undefined) return ` when ${branch} is present`;
  return '';
}

interface Condition {
  text: string;
  tests?: FieldCondition[];
}

function describeCondition(condition: unknown): Condition {
  const opaque = { text: "the schema's condition holds" };
  if (!isPlainObject(condition)) return opaque;
  const tests: FieldCondition[] = [];
  for (const [key, value] of Object.entries(condition)) {
    if (key === 'properties' && isPlainObject(value)) {
      for (const [field, sub] of Object.entries(value)) {
        if (isPlainObject(sub) && Object.hasOwn(sub, 'const')) tests.push({ field, op: 'in', values: [sub['const']] });
        else if (isPlainObject(sub) && Array.isArray(sub['enum'])) tests.push({ field, op: 'in', values: [...sub['enum']] });
        else return opaque;
      }
    } else if (key === 'required' && Array.isArray(value)) {
      for (const field of value) {
        if (typeof field === 'string' && !tests.some((t) => t.field === field)) tests.push({ field, op: 'present' });
      }
    } else if (!(key === 'type' && value === 'object') && !['title', 'description', '$comment'].includes(key)) {
      return opaque;
    }
  }
  if (tests.length === 0) return opaque;
  return { text: tests.map(describeTest).join(' and '), tests };
}

function negate(condition: Condition): Condition {
  const only = condition.tests?.length === 1 ? condition.tests[0] : undefined;
  if (!condition.tests) return { text: "the schema's condition does not hold" };
  if (!only) return { text: `not (${condition.text})` };
  const test: FieldCondition =
    'values' in only
      ? { field: only.field, op: only.op === 'in' ? 'notIn' : 'in', values: only.values }
      : { field: only.field, op: only.op === 'present' ? 'absent' : 'present' };
  return { text: describeTest(test), tests: [test] };
}

function describeTest(test: FieldCondition): string {
  switch (test.op) {
    case 'present':
      return `${test.field} is present`;
    case 'absent':
      return `${test.field} is absent`;
    case 'in':
    case 'notIn': {
      const not = test.op === 'notIn' ? 'not ' : '';
      return test.values.length === 1
        ? `${test.field} is ${not}${showValue(test.values[0])}`
        : `${test.field} is ${not}one of ${test.values.map(showValue).join(', ')}`;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Form metadata

/** The fields a UI needs to render a form for `schema` (a command schema); [] for anything else. */
export function formFields(schema: unknown): FormField[] {
  if (!isPlainObject(schema)) return [];
  return fieldsOf(makeDoc(schema), [schema], 0);
}

function fieldsOf(doc: SchemaDoc, starts: readonly unknown[], depth: number): FormField[] {
  interface Entry {
    sources: unknown[];
    required: boolean;
    requiredWhen: RequiredWhen[];
  }
  const entries = new Map<string, Entry>();
  const entry = (name: string): Entry => {
    let found = entries.get(name);
    if (!found) entries.set(name, (found = { sources: [], required: false, requiredWhen: [] }));
    return found;
  };
  const requiredNames: { name: string; when: Condition[] }[] = [];
  const seen = new Set<JsonObject>();

  const visit = (start: unknown, when: Condition[], level: number): void => {
    if (level > COMMAND_SCHEMA_LIMITS.maxDepth) return;
    const schemas: JsonObject[] = [];
    closure(doc, start, seen, schemas);
    for (const schema of schemas) {
      for (const [name, sub] of propertyEntries(schema)) entry(name).sources.push(sub);
      const names = schema['required'];
      if (Array.isArray(names)) for (const name of names) if (typeof name === 'string') requiredNames.push({ name, when });
      const dependentRequired = schema['dependentRequired'];
      if (isPlainObject(dependentRequired)) {
        for (const [key, list] of Object.entries(dependentRequired)) {
          const condition = { text: `${key} is present`, tests: [{ field: key, op: 'present' as const }] };
          if (Array.isArray(list)) for (const name of list) if (typeof name === 'string') requiredNames.push({ name, when: [...when, condition] });
        }
      }
    }
    for (const schema of schemas) {
      if (Object.hasOwn(schema, 'if')) {
        const condition = describeCondition(schema['if']);
        visit(schema['then'], [...when, condition], level + 1);
        visit(schema['else'], [...when, negate(condition)], level + 1);
      }
      const dependents = schema['dependentSchemas'];
      if (isPlainObject(dependents)) {
        for (const [key, sub] of Object.entries(dependents)) {
          visit(sub, [...when, { text: `${key} is present`, tests: [{ field: key, op: 'present' }] }], level + 1);
        }
      }
    }
  };
  for (const start of starts) visit(start, [], 0);

  for (const { name, when } of requiredNames) {
    const target = entry(name);
    if (when.length === 0) {
      target.required = true;
      continue;
    }
    const text = when.map((c) => c.text).join(' and ');
    const complete = when.every((c) => c.tests !== undefined);
    const alternative: RequiredWhen = complete ? { text, conditions: when.flatMap((c) => c.tests ?? []) } : { text };
    if (!target.requiredWhen.some((r) => r.text === text)) target.requiredWhen.push(alternative);
  }

  return [...entries].map(([name, { sources, required, requiredWhen }]) => {
    const field: FormField = { name, ...shapeOf(doc, sources, depth + 1), required };
    if (!required && requiredWhen.length > 0) field.requiredWhen = requiredWhen;
    return field;
  });
}

function shapeOf(doc: SchemaDoc, sources: readonly unknown[], depth: number): FormFieldShape {
  const schemas: JsonObject[] = [];
  const seen = new Set<JsonObject>();
  for (const source of sources) closure(doc, source, seen, schemas);
  const first = (keyword: string): unknown => schemas.find((s) => Object.hasOwn(s, keyword))?.[keyword];

  const shape = {} as FormFieldShape; // filled in display order; `fixed` is always set below
  const title = first('title');
  if (typeof title === 'string') shape.title = title;
  const description = first('description');
  if (typeof description === 'string') shape.description = description;
  const type = first('type');
  if (typeof type === 'string' || (Array.isArray(type) && type.every((t) => typeof t === 'string'))) {
    shape.type = typeof type === 'string' ? type : [...(type as string[])];
  }
  const values = first('enum');
  if (Array.isArray(values)) {
    shape.enum = structuredClone(values);
  } else {
    // `oneOf: [{const: "off", title: "Off"}, …]` is the labelled-enum idiom of form tools.
    const alternatives = first('oneOf') ?? first('anyOf');
    if (Array.isArray(alternatives) && alternatives.length > 0 && alternatives.every((a) => isPlainObject(a) && Object.hasOwn(a, 'const'))) {
      const options = alternatives as JsonObject[];
      shape.enum = options.map((o) => structuredClone(o['const']));
      if (options.some((o) => typeof o['title'] === 'string')) {
        shape.enumTitles = options.map((o) => (typeof o['title'] === 'string' ? o['title'] : showValue(o['const'])));
      }
    }
  }
  if (schemas.some((s) => Object.hasOwn(s, 'default'))) shape.default = structuredClone(first('default'));
  shape.fixed = schemas.some((s) => Object.hasOwn(s, 'const'));
  if (shape.fixed) shape.const = structuredClone(first('const'));
  for (const keyword of ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf', 'minLength', 'maxLength'] as const) {
    const value = first(keyword);
    if (typeof value === 'number') shape[keyword] = value;
  }
  const pattern = first('pattern');
  if (typeof pattern === 'string') shape.pattern = pattern;
  const format = first('format');
  if (typeof format === 'string') shape.format = format;

  if (depth <= COMMAND_SCHEMA_LIMITS.maxDepth) {
    if (schemas.some((s) => isPlainObject(s['properties']))) {
      const fields = fieldsOf(doc, sources, depth);
      if (fields.length > 0) shape.fields = fields;
    }
    const items = first('items');
    if (isPlainObject(items)) shape.items = shapeOf(doc, [items], depth + 1);
  }
  return shape;
}

// ---------------------------------------------------------------------------------------------
// Schema navigation

export interface SchemaDoc {
  readonly root: JsonObject;
  readonly rootId: string | undefined;
  readonly anchors: ReadonlyMap<string, JsonObject>;
}

function makeDoc(root: JsonObject): SchemaDoc {
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
function closure(doc: SchemaDoc, start: unknown, seen: Set<JsonObject>, out: JsonObject[]): void {
  if (!isPlainObject(start) || seen.has(start) || seen.size > 1000) return;
  seen.add(start);
  out.push(start);
  const ref = start['$ref'];
  if (typeof ref === 'string') closure(doc, resolveRef(doc, ref), seen, out);
  const all = start['allOf'];
  if (Array.isArray(all)) for (const member of all) closure(doc, member, seen, out);
}

/** The first schema in the closure of `start` that has `keyword`, as `{value}`. */
function ownKeyword(doc: SchemaDoc, start: unknown, keyword: string): { value: unknown } | undefined {
  const schemas: JsonObject[] = [];
  closure(doc, start, new Set(), schemas);
  const holder = schemas.find((s) => Object.hasOwn(s, keyword));
  return holder ? { value: holder[keyword] } : undefined;
}

function declaresObject(doc: SchemaDoc, start: unknown): boolean {
  const schemas: JsonObject[] = [];
  closure(doc, start, new Set(), schemas);
  return schemas.some((s) => s['type'] === 'object');
}

function propertyEntries(schema: JsonObject): [string, unknown][] {
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
function forEachSubschema(schema: JsonObject, visit: (sub: Schema, segments: string[]) => void): void {
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

// ---------------------------------------------------------------------------------------------
// Small helpers

function isPlainObject(value: unknown): value is JsonObject {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

function isSchema(value: unknown): value is Schema {
  return typeof value === 'boolean' || isPlainObject(value);
}

/** Defines an own property even for keys like "__proto__". */
function setOwn(target: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

function escapePointer(segment: string): string {
  return segment.replaceAll('~', '~0').replaceAll('/', '~1');
}

function pointerSegments(pointer: string): string[] {
  if (pointer === '') return [];
  return pointer.slice(1).split('/').map((s) => s.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function decodeFragment(fragment: string): string | undefined {
  try {
    return decodeURIComponent(fragment);
  } catch {
    return undefined;
  }
}

function resolvePointer(root: unknown, segments: readonly string[]): unknown {
  let node: unknown = root;
  for (const segment of segments) {
    if (Array.isArray(node)) node = /^(0|[1-9]\d*)$/.test(segment) ? node[Number(segment)] : undefined;
    else if (isPlainObject(node) && Object.hasOwn(node, segment)) node = node[segment];
    else return undefined;
  }
  return node;
}

function jsonDepthExceeds(value: unknown, limit: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (limit <= 0) return true;
  const children = Array.isArray(value) ? value : Object.values(value);
  return children.some((child) => jsonDepthExceeds(child, limit - 1));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const child of Object.values(value)) deepFreeze(child);
  }
  return value;
}

function dedupe(errors: ValidationIssue[]): ValidationIssue[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const key = `${e.path}\u0000${e.message}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

function typeList(type: unknown): string[] {
  if (Array.isArray(type)) return type.map(String);
  return String(type).split(',');
}

function withArticle(type: string): string {
  if (type === 'null') return 'null';
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Enum values as people read them: strings bare, everything else as JSON. */
function showValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}

function plural(count: unknown, singular: string, pluralForm = `${singular}s`): string {
  return `${String(count)} ${count === 1 ? singular : pluralForm}`;
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
