// ajv's errors as messages an operator can act on, each at a JSON Pointer
// (docs/command-schemas.md, "Messages").
import type { ErrorObject } from 'ajv/dist/2020.js';
import type { ValidationIssue } from '../errors.ts';
import { describeCondition, negate, showValue } from './conditions.ts';
import { isPlainObject, type Schema } from './json.ts';
import { decodeFragment, escapePointer, pointerSegments, resolvePointer } from './navigation.ts';

export function humanizeErrors(errors: readonly ErrorObject[], root: Schema | undefined): ValidationIssue[] {
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

export function dedupe(errors: ValidationIssue[]): ValidationIssue[] {
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

function plural(count: unknown, singular: string, pluralForm = `${singular}s`): string {
  return `${String(count)} ${count === 1 ? singular : pluralForm}`;
}
