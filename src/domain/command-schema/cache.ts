// Compiled schemas kept per immutable schema version (docs/command-schemas.md, "Compiling").
import type { ValidationIssue } from '../errors.ts';
import { compileCommandSchema, type CompiledCommandSchema } from './compile.ts';

export class InvalidCommandSchemaError extends Error {
  readonly errors: ValidationIssue[];
  constructor(errors: ValidationIssue[]) {
    super(`invalid command schema: ${errors.map((e) => `${e.path || '(root)'} ${e.message}`).join('; ')}`);
    this.name = 'InvalidCommandSchemaError';
    this.errors = errors;
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

  constructor(options: { maxEntries?: number } = {}) {
    const max = options.maxEntries ?? 1000;
    if (!Number.isInteger(max) || max < 1) throw new RangeError('maxEntries must be a positive integer');
    this.#maxEntries = max;
  }

  /** The compiled schema for `key`; compiles `schema` only on a miss. Throws InvalidCommandSchemaError. */
  getOrCompile(key: string, schema: unknown): CompiledCommandSchema {
    const cached = this.#entries.get(key);
    if (cached) {
      this.prime(key, cached); // now the most recently used
      return cached;
    }
    const result = compileCommandSchema(schema);
    if (!result.ok) throw new InvalidCommandSchemaError(result.errors);
    this.prime(key, result.compiled);
    return result.compiled;
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
}
