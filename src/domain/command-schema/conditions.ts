// How an `if` (or a dependency) reads as a condition on sibling fields: for the "when …" of
// messages and the `requiredWhen` of form fields (docs/command-schemas.md, "Form fields").
import { isPlainObject } from './json.ts';

/** A test on a sibling field of the same object. */
export type FieldCondition =
  | { field: string; op: 'present' | 'absent' }
  | { field: string; op: 'in' | 'notIn'; values: unknown[] };

export interface Condition {
  text: string;
  tests?: FieldCondition[];
}

export function describeCondition(condition: unknown): Condition {
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

export function negate(condition: Condition): Condition {
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

/** Enum values as people read them: strings bare, everything else as JSON. */
export function showValue(value: unknown): string {
  return typeof value === 'string' ? value : JSON.stringify(value);
}
