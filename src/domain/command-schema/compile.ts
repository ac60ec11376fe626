// Checking and compiling a command schema: every reason for refusal at once, then one ajv
// instance per schema (docs/command-schemas.md, "Checking a schema" and "Compiling").
import { Ajv2020 } from 'ajv/dist/2020.js';
import type { Options, ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import type { ValidationIssue } from '../errors.ts';
import { deepFreeze } from '../../lib/deep-freeze.ts';
import { isPlainObject, jsonDepthExceeds, type JsonObject, type Schema } from './json.ts';
import { COMMAND_SCHEMA_LIMITS } from './limits.ts';
import { dedupe, humanizeErrors } from './messages.ts';
import { decodeFragment, escapePointer, forEachSubschema, makeDoc, type SchemaDoc } from './navigation.ts';
import { linearPatternProblem, linearRegExp } from './linear-regexp.ts';

// ajv-formats is CommonJS; under NodeNext its default import is the module object.
const addFormats = addFormatsModule.default;

const COMMAND_SCHEMA_DIALECT = 'https://json-schema.org/draft/2020-12/schema';

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

type CompileResult =
  | { ok: true; compiled: CompiledCommandSchema }
  | { ok: false; errors: ValidationIssue[] };

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
  // `pattern` and `patternProperties` match in linear time (RE2), whatever the operator wrote.
  code: { regExp: linearRegExp },
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
    return;
  }
  const problem = linearPatternProblem(source);
  if (problem) out.push({ path, message: problem });
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

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
