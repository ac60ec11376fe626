// Small JSON helpers of the command-schema modules.
import { isPlainObject } from '../../lib/json.ts';

export { isPlainObject };
export type JsonObject = Record<string, unknown>;
export type Schema = JsonObject | boolean;

export function isSchema(value: unknown): value is Schema {
  return typeof value === 'boolean' || isPlainObject(value);
}

/** Defines an own property even for keys like "__proto__". */
export function setOwn(target: JsonObject, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, writable: true, enumerable: true, configurable: true });
}

export function jsonDepthExceeds(value: unknown, limit: number): boolean {
  if (typeof value !== 'object' || value === null) return false;
  if (limit <= 0) return true;
  const children = Array.isArray(value) ? value : Object.values(value);
  return children.some((child) => jsonDepthExceeds(child, limit - 1));
}
