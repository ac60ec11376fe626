// A small interpreting JSON Schema validator (the keywords command schemas use, draft 2020-12
// semantics). The console cannot use Ajv: Ajv compiles schemas with `new Function`, which the
// console's Content-Security-Policy (no 'unsafe-eval') forbids. The server checks again with Ajv;
// this one only has to agree on what a form can produce.

export interface SchemaError {
  instancePath: string;
  schemaPath: string;
  keyword: string;
  params: Record<string, unknown>;
  message: string;
  parentSchema?: Schema;
}

export type Schema = { [key: string]: unknown } | boolean;
type Obj = { [key: string]: unknown };

const isObject = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);

function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function typeMatches(value: unknown, type: string): boolean {
  const actual = typeOf(value);
  return actual === type || (type === 'number' && actual === 'integer');
}

export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== 'object') return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === (b as unknown[]).length && a.every((x, i) => deepEqual(x, (b as unknown[])[i]));
  const ka = Object.keys(a as Obj);
  const kb = Object.keys(b as Obj);
  return ka.length === kb.length && ka.every((k) => deepEqual((a as Obj)[k], (b as Obj)[k]));
}

const escape = (key: string) => key.replace(/~/g, '~0').replace(/\//g, '~1');

function resolveRef(ref: string, root: Schema): Schema | undefined {
  if (!ref.startsWith('#')) return undefined;
  let node: unknown = root;
  for (const raw of ref.slice(1).split('/').slice(1)) {
    const key = decodeURIComponent(raw).replace(/~1/g, '/').replace(/~0/g, '~');
    node = isObject(node) ? node[key] : undefined;
  }
  return node as Schema | undefined;
}

/** Every violation of `schema` by `value` (empty when valid). */
export function validate(schema: Schema, value: unknown, root: Schema = schema): SchemaError[] {
  const errors: SchemaError[] = [];
  check(schema, value, '', '#', root, errors);
  return errors;
}

export function isValid(schema: Schema, value: unknown, root: Schema = schema): boolean {
  return validate(schema, value, root).length === 0;
}

function check(schema: Schema, value: unknown, path: string, spath: string, root: Schema, out: SchemaError[]): void {
  if (schema === true) return;
  if (schema === false) {
    out.push({ instancePath: path, schemaPath: spath, keyword: 'false schema', params: {}, message: 'boolean schema is false' });
    return;
  }
  const s = schema;
  const fail = (keyword: string, message: string, params: Record<string, unknown> = {}) =>
    out.push({ instancePath: path, schemaPath: `${spath}/${keyword}`, keyword, params, message, parentSchema: s });

  if (typeof s['$ref'] === 'string') {
    const target = resolveRef(s['$ref'], root);
    if (target !== undefined) check(target, value, path, `${spath}/$ref`, root, out);
  }
  if (s['type'] !== undefined) {
    const types = Array.isArray(s['type']) ? (s['type'] as string[]) : [s['type'] as string];
    if (!types.some((t) => typeMatches(value, t))) {
      fail('type', `must be ${types.join(',')}`, { type: types.join(',') });
      return;
    }
  }
  if ('const' in s && !deepEqual(value, s['const'])) fail('const', 'must be equal to constant', { allowedValue: s['const'] });
  if (Array.isArray(s['enum']) && !s['enum'].some((e) => deepEqual(e, value)))
    fail('enum', 'must be equal to one of the allowed values', { allowedValues: s['enum'] });

  if (typeof value === 'number') {
    const n = (k: string) => (typeof s[k] === 'number' ? (s[k] as number) : undefined);
    const min = n('minimum'), max = n('maximum'), xmin = n('exclusiveMinimum'), xmax = n('exclusiveMaximum'), mult = n('multipleOf');
    if (min !== undefined && value < min) fail('minimum', `must be >= ${min}`, { comparison: '>=', limit: min });
    if (max !== undefined && value > max) fail('maximum', `must be <= ${max}`, { comparison: '<=', limit: max });
    if (xmin !== undefined && value <= xmin) fail('exclusiveMinimum', `must be > ${xmin}`, { comparison: '>', limit: xmin });
    if (xmax !== undefined && value >= xmax) fail('exclusiveMaximum', `must be < ${xmax}`, { comparison: '<', limit: xmax });
    if (mult !== undefined && Math.abs(value / mult - Math.round(value / mult)) > 1e-9) fail('multipleOf', `must be multiple of ${mult}`, { multipleOf: mult });
  }
  if (typeof value === 'string') {
    const length = [...value].length;
    if (typeof s['minLength'] === 'number' && length < s['minLength'])
      fail('minLength', `must NOT have fewer than ${s['minLength']} characters`, { limit: s['minLength'] });
    if (typeof s['maxLength'] === 'number' && length > s['maxLength'])
      fail('maxLength', `must NOT have more than ${s['maxLength']} characters`, { limit: s['maxLength'] });
    if (typeof s['pattern'] === 'string') {
      let re: RegExp | undefined;
      try {
        re = new RegExp(s['pattern'], 'u');
      } catch {
        re = undefined;
      }
      if (re && !re.test(value)) fail('pattern', `must match pattern "${s['pattern']}"`, { pattern: s['pattern'] });
    }
  }
  if (Array.isArray(value)) {
    if (typeof s['minItems'] === 'number' && value.length < s['minItems']) fail('minItems', `must NOT have fewer than ${s['minItems']} items`, { limit: s['minItems'] });
    if (typeof s['maxItems'] === 'number' && value.length > s['maxItems']) fail('maxItems', `must NOT have more than ${s['maxItems']} items`, { limit: s['maxItems'] });
    if (s['uniqueItems'] === true && value.some((x, i) => value.findIndex((y) => deepEqual(x, y)) !== i)) fail('uniqueItems', 'must NOT have duplicate items');
    const prefix = Array.isArray(s['prefixItems']) ? (s['prefixItems'] as Schema[]) : [];
    value.forEach((item, i) => {
      const itemSchema = i < prefix.length ? prefix[i] : (s['items'] as Schema | undefined);
      if (itemSchema !== undefined) check(itemSchema, item, `${path}/${i}`, `${spath}/${i < prefix.length ? `prefixItems/${i}` : 'items'}`, root, out);
    });
  }
  if (isObject(value)) {
    for (const key of Array.isArray(s['required']) ? (s['required'] as string[]) : [])
      if (!(key in value)) fail('required', `must have required property '${key}'`, { missingProperty: key });
    if (isObject(s['dependentRequired']))
      for (const [key, deps] of Object.entries(s['dependentRequired']))
        if (key in value) for (const dep of deps as string[]) if (!(dep in value)) fail('dependentRequired', `must have property ${dep} when property ${key} is present`, { property: key, missingProperty: dep, deps: dep });
    const props = isObject(s['properties']) ? s['properties'] : {};
    const patterns = isObject(s['patternProperties']) ? Object.entries(s['patternProperties']) : [];
    for (const [key, item] of Object.entries(value)) {
      let known = false;
      if (key in props) {
        known = true;
        check(props[key] as Schema, item, `${path}/${escape(key)}`, `${spath}/properties/${escape(key)}`, root, out);
      }
      for (const [pattern, sub] of patterns)
        if (new RegExp(pattern, 'u').test(key)) {
          known = true;
          check(sub as Schema, item, `${path}/${escape(key)}`, `${spath}/patternProperties`, root, out);
        }
      if (!known && s['additionalProperties'] !== undefined) {
        if (s['additionalProperties'] === false) fail('additionalProperties', 'must NOT have additional properties', { additionalProperty: key });
        else check(s['additionalProperties'] as Schema, item, `${path}/${escape(key)}`, `${spath}/additionalProperties`, root, out);
      }
    }
    if (typeof s['minProperties'] === 'number' && Object.keys(value).length < s['minProperties']) fail('minProperties', `must NOT have fewer than ${s['minProperties']} properties`);
    if (typeof s['maxProperties'] === 'number' && Object.keys(value).length > s['maxProperties']) fail('maxProperties', `must NOT have more than ${s['maxProperties']} properties`);
  }
  if (Array.isArray(s['allOf'])) (s['allOf'] as Schema[]).forEach((sub, i) => check(sub, value, path, `${spath}/allOf/${i}`, root, out));
  if (Array.isArray(s['anyOf']) && !(s['anyOf'] as Schema[]).some((sub) => isValid(sub, value, root))) fail('anyOf', 'must match a schema in anyOf');
  if (Array.isArray(s['oneOf'])) {
    const passing = (s['oneOf'] as Schema[]).filter((sub) => isValid(sub, value, root)).length;
    if (passing !== 1) fail('oneOf', 'must match exactly one schema in oneOf', { passingSchemas: passing });
  }
  if (s['not'] !== undefined && isValid(s['not'] as Schema, value, root)) fail('not', 'must NOT be valid');
  if (s['if'] !== undefined) {
    const branch = isValid(s['if'] as Schema, value, root) ? 'then' : 'else';
    if (s[branch] !== undefined) check(s[branch] as Schema, value, path, `${spath}/${branch}`, root, out);
  }
}
