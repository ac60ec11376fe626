// Structural checks of a command schema while it is edited, with JSON pointers into the schema:
// instant feedback as the author types (the server only checks on save, and a save is a new
// version). The server's check (Ajv against the draft 2020-12 meta-schema) stays the authority.

interface Problem {
  instancePath: string;
  message: string;
}

const TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);
const SCHEMA_MAPS = ['properties', 'patternProperties', '$defs', 'definitions', 'dependentSchemas'];
const SCHEMAS = ['items', 'additionalProperties', 'not', 'if', 'then', 'else', 'contains', 'propertyNames'];
const SCHEMA_LISTS = ['allOf', 'anyOf', 'oneOf', 'prefixItems'];
const NUMBERS = ['minimum', 'maximum', 'exclusiveMinimum', 'exclusiveMaximum', 'multipleOf'];
const COUNTS = ['minLength', 'maxLength', 'minItems', 'maxItems', 'minProperties', 'maxProperties'];

const isSchema = (v: unknown) => typeof v === 'boolean' || (typeof v === 'object' && v !== null && !Array.isArray(v));
const esc = (k: string) => k.replace(/~/g, '~0').replace(/\//g, '~1');

export function lintSchema(schema: unknown): Problem[] {
  const out: Problem[] = [];
  if (!isSchema(schema) || typeof schema === 'boolean' || (schema as { type?: unknown }).type !== 'object')
    out.push({ instancePath: '/type', message: 'must be "object": a command payload is a JSON object' });
  if (isSchema(schema)) walk(schema, '', out);
  return out;
}

function walk(schema: unknown, path: string, out: Problem[]): void {
  if (typeof schema === 'boolean') return;
  const s = schema as Record<string, unknown>;
  const at = (k: string) => `${path}/${esc(k)}`;
  const bad = (k: string, message: string) => out.push({ instancePath: at(k), message });
  if ('type' in s) {
    const types = Array.isArray(s['type']) ? s['type'] : [s['type']];
    if (types.length === 0 || !types.every((t) => typeof t === 'string' && TYPES.has(t))) bad('type', `must be one of ${[...TYPES].join(', ')} (or a list of them)`);
  }
  if ('required' in s && !(Array.isArray(s['required']) && s['required'].every((r) => typeof r === 'string'))) bad('required', 'must be an array of property names');
  if ('enum' in s && !(Array.isArray(s['enum']) && s['enum'].length > 0)) bad('enum', 'must be a non-empty array');
  for (const k of NUMBERS) if (k in s && typeof s[k] !== 'number') bad(k, 'must be a number');
  for (const k of COUNTS) if (k in s && !(Number.isInteger(s[k]) && (s[k] as number) >= 0)) bad(k, 'must be a non-negative integer');
  if ('pattern' in s) {
    try {
      new RegExp(String(s['pattern']), 'u');
      if (typeof s['pattern'] !== 'string') bad('pattern', 'must be a string');
    } catch (e) {
      bad('pattern', `is not a valid regular expression: ${(e as Error).message}`);
    }
  }
  for (const k of SCHEMA_MAPS) {
    if (!(k in s)) continue;
    const map = s[k];
    if (!isSchema(map) || typeof map === 'boolean') bad(k, 'must be an object of schemas');
    else for (const [name, sub] of Object.entries(map as object)) isSchema(sub) ? walk(sub, `${at(k)}/${esc(name)}`, out) : out.push({ instancePath: `${at(k)}/${esc(name)}`, message: 'must be a schema (object or boolean)' });
  }
  for (const k of SCHEMAS) if (k in s) (isSchema(s[k]) ? walk(s[k], at(k), out) : bad(k, 'must be a schema (object or boolean)'));
  for (const k of SCHEMA_LISTS) {
    if (!(k in s)) continue;
    const list = s[k];
    if (!Array.isArray(list) || list.length === 0) bad(k, 'must be a non-empty array of schemas');
    else list.forEach((sub, i) => (isSchema(sub) ? walk(sub, `${at(k)}/${i}`, out) : out.push({ instancePath: `${at(k)}/${i}`, message: 'must be a schema' })));
  }
}
