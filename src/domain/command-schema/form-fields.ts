// What a UI needs to render a form for a command schema, without a JSON Schema engine
// (docs/command-schemas.md, "Form fields").
import { describeCondition, negate, showValue, type Condition, type FieldCondition } from './conditions.ts';
import { isPlainObject, type JsonObject } from './json.ts';
import { COMMAND_SCHEMA_LIMITS } from './limits.ts';
import { closure, makeDoc, propertyEntries, type SchemaDoc } from './navigation.ts';

/** One situation in which a field is required. `conditions` (all must hold) is omitted when the schema's condition is too complex to describe structurally. */
interface RequiredWhen {
  text: string;
  conditions?: FieldCondition[];
}

interface FormFieldShape {
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
