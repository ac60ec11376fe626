import { describe, expect, it } from 'vitest';
import { randomSecret } from '../../src/domain/secrets.ts';

describe('randomSecret', () => {
  it('is URL-safe, of the expected length, and never starts with "-" or "_" (CLI tools take those for options)', () => {
    // 1 in 32 base64url strings starts with '-' or '_': 5,000 draws meet ~150 of them.
    const secrets = Array.from({ length: 5_000 }, () => randomSecret(24));
    for (const s of secrets) {
      expect(s).toMatch(/^[A-Za-z0-9][A-Za-z0-9_-]{31}$/);
    }
    expect(new Set(secrets).size).toBe(secrets.length);
  });
});
