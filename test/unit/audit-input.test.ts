// boundInput: what an audit entry's input keeps. Values up to 8 KiB of JSON as given, larger ones
// as their size and hash, and keys that name a secret dropped, whoever passes them.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { MAX_INPUT_VALUE_BYTES, boundInput } from '../../src/domain/audit.ts';

const sha256 = (text: string) => createHash('sha256').update(text).digest('hex');

describe('boundInput', () => {
  it('keeps small values as given and leaves out undefined ones', () => {
    const input = { name: 'hall lamp', n: 3, ok: false, none: null, list: ['a'], nested: { a: { b: 1 } }, gone: undefined };
    expect(boundInput(input)).toEqual({ name: 'hall lamp', n: 3, ok: false, none: null, list: ['a'], nested: { a: { b: 1 } } });
  });

  it('replaces a value over the limit by its size and the hash of its JSON, at the exact boundary', () => {
    const fits = { s: 'x'.repeat(MAX_INPUT_VALUE_BYTES - 8) }; // {"s":"…"} is the limit exactly
    expect(JSON.stringify(fits)).toHaveLength(MAX_INPUT_VALUE_BYTES);
    expect(boundInput({ payload: fits }).payload).toBe(fits);
    const over = { s: 'x'.repeat(MAX_INPUT_VALUE_BYTES - 7) };
    const json = JSON.stringify(over);
    expect(boundInput({ payload: over }).payload).toEqual({ truncated: true, bytes: json.length, sha256: sha256(json) });
  });

  it('counts bytes, not characters, and bounds long strings too', () => {
    const wide = ['é'.repeat(MAX_INPUT_VALUE_BYTES / 2)]; // 2 bytes each: over the limit in fewer characters
    expect(boundInput({ v: wide }).v).toMatchObject({ truncated: true, bytes: Buffer.byteLength(JSON.stringify(wide)) });
    const text = 'y'.repeat(MAX_INPUT_VALUE_BYTES + 1);
    expect(boundInput({ text }).text).toEqual({ truncated: true, bytes: text.length + 2, sha256: sha256(JSON.stringify(text)) });
    expect(boundInput({ text: 'short' }).text).toBe('short');
  });

  it('summarises values jsonb cannot hold (U+0000, lone surrogates), in strings and keys alike', () => {
    for (const value of ['a\u0000b', { s: 'a\u0000' }, { ['k\u0000']: 1 }, ['\ud800'], '\udc00x']) {
      const json = JSON.stringify(value);
      expect(boundInput({ value }).value).toEqual({ truncated: true, bytes: Buffer.byteLength(json), sha256: sha256(json) });
    }
    expect(boundInput({ value: { s: '😀 paired surrogates are fine' } }).value).toEqual({ s: '😀 paired surrogates are fine' });
  });

  it('drops keys that name a secret', () => {
    const input = { token: 't', secret: 's', password: 'p', tokenHash: 'h', secretHash: 'h', passwordHash: 'h', apiKey: 'k', username: 'u' };
    expect(boundInput(input)).toEqual({ username: 'u' });
  });
});
