// Secrets (API keys, generated endpoint tokens) are random, shown once, and stored as SHA-256.
// A fast hash is right here: the secrets are long random strings, and lookups by hash must be
// cheap on every request. Operator-chosen endpoint tokens are hashed the same way.
import { createHash, randomBytes } from 'node:crypto';

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/** URL-safe random text: only [A-Za-z0-9_-], so it is also a valid kp1 token. */
export function randomSecret(bytes = 24): string {
  return randomBytes(bytes).toString('base64url');
}
