// Idempotency keys (docs/api.md, "Idempotency keys"): a client that retries an invoke or re-run
// with the same key gets the first command back instead of a second one. Keys belong to the
// API key that sent them; a request is compared by a hash of its operation and normalized input.
import { createHash } from 'node:crypto';
import type { Claim } from '../storage/idempotency-store.ts';
import { badInput, conflict } from './errors.ts';
import type { Principal } from './types.ts';

const MAX_KEY_LENGTH = 255;

/** The claim a request makes, or undefined without a key. */
export function claimOf(actor: Principal, key: string | null | undefined, operation: string, input: unknown): Claim | undefined {
  if (key === null || key === undefined) return undefined;
  if (key.length < 1 || key.length > MAX_KEY_LENGTH || !/^[\x21-\x7e]+$/.test(key)) {
    throw badInput(`An idempotency key is 1 to ${MAX_KEY_LENGTH} printable ASCII characters without spaces.`, {
      field: 'idempotencyKey',
    });
  }
  const requestHash = createHash('sha256').update(canonicalJson({ operation, input })).digest('hex');
  return { apiKeyId: actor.keyId, key, requestHash };
}

export function keyConflict(key: string) {
  return conflict(`The idempotency key "${key}" was used with a different request in the last 24 hours; use a new key.`);
}

/** JSON with object keys sorted, so a retry that serializes the same value differently matches. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([x], [y]) => (x < y ? -1 : x > y ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value ?? null);
}
