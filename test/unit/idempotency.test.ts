// How idempotency keys compare requests: the operation and the normalized input, by hash.
import { describe, expect, it } from 'vitest';
import { DomainError } from '../../src/domain/errors.ts';
import { canonicalJson, claimOf } from '../../src/domain/idempotency.ts';
import type { Principal } from '../../src/domain/types.ts';

const alice: Principal = { keyId: 'k-alice', name: 'alice', role: 'OPERATOR' };
const bob: Principal = { keyId: 'k-bob', name: 'bob', role: 'OPERATOR' };
const hash = (actor: Principal, op: string, input: unknown) => claimOf(actor, 'key', op, input)!.requestHash;

describe('canonicalJson', () => {
  it('sorts object keys at every depth, keeps array order, drops undefined members', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, { y: 1, x: 2 }], c: null }, u: undefined })).toBe(
      '{"a":{"c":null,"d":[3,{"x":2,"y":1}]},"b":1}',
    );
    expect(canonicalJson([2, 1])).not.toBe(canonicalJson([1, 2]));
    expect(canonicalJson('a"b')).toBe('"a\\"b"');
    expect(canonicalJson(undefined)).toBe('null');
  });
});

describe('claimOf', () => {
  it('gives the same hash for the same input in another key order, another for another input or operation', () => {
    const input = { endpointId: 'e', payload: { level: 3, at: 'x' } };
    expect(hash(alice, 'invokeCommand', input)).toBe(hash(alice, 'invokeCommand', { payload: { at: 'x', level: 3 }, endpointId: 'e' }));
    expect(hash(alice, 'invokeCommand', input)).not.toBe(hash(alice, 'invokeCommand', { ...input, payload: { level: 4, at: 'x' } }));
    expect(hash(alice, 'invokeCommand', input)).not.toBe(hash(alice, 'rerunCommand', input));
    // "1" and 1 are different payloads.
    expect(hash(alice, 'op', { p: 1 })).not.toBe(hash(alice, 'op', { p: '1' }));
  });

  it('scopes the key to the API key, and is undefined without a key', () => {
    expect(claimOf(alice, 'k', 'op', {})!.apiKeyId).toBe('k-alice');
    expect(claimOf(bob, 'k', 'op', {})!.apiKeyId).toBe('k-bob');
    expect(claimOf(alice, null, 'op', {})).toBeUndefined();
    expect(claimOf(alice, undefined, 'op', {})).toBeUndefined();
  });

  it('refuses keys that are empty, too long, or not printable ASCII without spaces', () => {
    expect(claimOf(alice, 'x'.repeat(255), 'op', {})).toBeDefined();
    for (const key of ['', 'x'.repeat(256), 'a b', 'tab\t', 'é']) {
      expect(() => claimOf(alice, key, 'op', {}), JSON.stringify(key)).toThrow(DomainError);
    }
  });
});
