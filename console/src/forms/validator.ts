// rjsf's ValidatorType over @cfworker/json-schema, an interpreting draft 2020-12 validator: the
// console cannot use Ajv, which compiles with `new Function` and the console's
// Content-Security-Policy (no 'unsafe-eval') forbids that. The server checks again with Ajv.
// Errors land on their field (a missing required property on the property itself, labelled with
// the field's title), one per field.
import { dereference, validate, type OutputUnit, type Schema, type ValidationResult } from '@cfworker/json-schema';
import { toErrorSchema, type RJSFSchema, type RJSFValidationError, type ValidatorType } from '@rjsf/utils';

type Lookup = Record<string, Schema | boolean>;

const lookups = new WeakMap<object, { root: Schema; lookup: Lookup }>();

/**
 * The root schema (a copy: dereferencing marks the objects it walks) and its references. rjsf also
 * hands over pieces of the root, some of them copied, whose "#/…" references have no base URI:
 * every pointer is also registered under its bare fragment.
 */
function prepared(root: RJSFSchema): { root: Schema; lookup: Lookup } {
  let entry = lookups.get(root);
  if (!entry) {
    const copy = structuredClone(root) as Schema;
    const lookup = dereference(copy) as Lookup;
    for (const [uri, schema] of Object.entries(lookup)) {
      const hash = uri.indexOf('#');
      if (hash >= 0) lookup[uri.slice(hash)] ??= schema;
    }
    lookup['#'] ??= copy;
    entry = { root: copy, lookup };
    lookups.set(root, entry);
  }
  return entry;
}

/** rjsf leaves cleared fields as `undefined`: absent in JSON, as Ajv on the server sees them. */
const asJson = (value: unknown): unknown => (value === undefined ? null : JSON.parse(JSON.stringify(value)));

function run(schema: RJSFSchema, data: unknown, rootSchema: RJSFSchema = schema): ValidationResult {
  try {
    const { root, lookup } = prepared(rootSchema);
    return validate(asJson(data), schema === rootSchema ? root : (schema as Schema), '2020-12', lookup, false);
  } catch (e) {
    // An unresolvable $ref or a duplicate $id: the schema is broken, not the data.
    return { valid: false, errors: [{ instanceLocation: '#', keyword: 'schema', keywordLocation: '#', error: (e as Error).message }] };
  }
}

/** Keywords whose error only says that the errors right after it, about a part, happened. */
const WRAPPERS = new Set([
  '$ref',
  '$recursiveRef',
  'properties',
  'patternProperties',
  'additionalProperties',
  'unevaluatedProperties',
  'propertyNames',
  'dependentSchemas',
  'allOf',
  'if',
  'prefixItems',
  'items',
  'additionalItems',
  'unevaluatedItems',
]);

/** The errors a person can act on: no wrappers, and for anyOf/oneOf the summary, not each option's. */
function leaves(errors: readonly OutputUnit[]): OutputUnit[] {
  const out: OutputUnit[] = [];
  let alternatives: string | null = null;
  for (const error of errors) {
    if (alternatives !== null && error.keywordLocation.startsWith(alternatives)) continue;
    alternatives = error.keyword === 'anyOf' || error.keyword === 'oneOf' ? `${error.keywordLocation}/` : null;
    if (!WRAPPERS.has(error.keyword)) out.push(error);
  }
  return out;
}

const segments = (pointer: string) =>
  pointer
    .split('/')
    .slice(1)
    .map((s) => decodeURIComponent(s).replace(/~1/g, '/').replace(/~0/g, '~'));

function titleOf(root: RJSFSchema, path: readonly string[]): string | undefined {
  let node: unknown = root;
  for (const part of path) node = (node as { properties?: Record<string, unknown> } | undefined)?.properties?.[part];
  return (node as { title?: unknown } | undefined)?.title as string | undefined;
}

/** The property a required-like error names as missing (cfworker only says it in the message). */
const MISSING = /(?:required property|but does not have) "(.*)"\.$/s;

function toRjsf(error: OutputUnit, root: RJSFSchema): RJSFValidationError {
  const path = segments(error.instanceLocation);
  let message = error.error.replace(/^Instance /, '');
  const missing = MISSING.exec(error.error)?.[1];
  if (missing !== undefined) {
    path.push(missing);
    message = `must have required property '${titleOf(root, path) ?? missing}'`;
  } else if (error.keyword === 'false') {
    message = 'is not allowed here';
  }
  const property = path.map((p) => `.${p}`).join('');
  return { name: error.keyword, property, message, params: {}, stack: `${property} ${message}`.trim(), schemaPath: error.keywordLocation };
}

function fieldErrors(schema: RJSFSchema, data: unknown): RJSFValidationError[] {
  const seen = new Set<string>();
  return leaves(run(schema, data).errors)
    .map((e) => toRjsf(e, schema))
    .filter((e) => !seen.has(e.property!) && Boolean(seen.add(e.property!)));
}

export const validator: ValidatorType = {
  validateFormData(formData, schema, customValidate, transformErrors, uiSchema) {
    let errors = fieldErrors(schema, formData ?? {});
    if (transformErrors) errors = transformErrors(errors, uiSchema);
    return { errors, errorSchema: toErrorSchema(errors) };
  },
  isValid(schema, formData, rootSchema) {
    return run(schema, formData, rootSchema).valid;
  },
  rawValidation(schema, formData) {
    return { errors: leaves(run(schema, formData).errors) as never[] };
  },
};
