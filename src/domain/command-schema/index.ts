// Command schemas: the JSON Schema an operator attaches to (application version, command type),
// and the pure rules that turn an operator's payload into the payload that is stored and
// delivered. No I/O here; the service (../command-schema-service.ts) and GraphQL call in.
// The decisions these files implement are in docs/command-schemas.md. This index is the
// folder's public surface; the other exports of its files are for each other.
export { compileCommandSchema, type CompiledCommandSchema } from './compile.ts';
export { CommandSchemaCache, InvalidCommandSchemaError } from './cache.ts';
export { composePayload } from './compose.ts';
export { formFields, type FormField } from './form-fields.ts';
