// How big a command schema may be (docs/command-schemas.md, "Checking a schema").
export const COMMAND_SCHEMA_LIMITS = Object.freeze({
  /** Characters of the schema serialized as JSON. */
  maxChars: 64 * 1024,
  /** Levels of nested subschemas; also the deepest payload level that composition fills. */
  maxDepth: 32,
});
