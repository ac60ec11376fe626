// Secrets (API keys, generated endpoint tokens) are random, shown once, and stored as SHA-256.
// A fast hash is right here: the secrets are long random strings, and lookups by hash must be
// cheap on every request. Operator-chosen endpoint tokens are hashed the same way.
import { createHash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { promisify } from 'node:util';

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret, 'utf8').digest('hex');
}

/**
 * URL-safe random text: only [A-Za-z0-9_-], so it is also a valid kp1 token, and never starting
 * with '-' or '_' (command-line tools would read a leading '-' as an option).
 */
export function randomSecret(bytes = 24): string {
  const text = randomBytes(bytes).toString('base64url');
  return /^[-_]/.test(text) ? `${ALPHANUMERIC[randomBytes(1)[0]! % ALPHANUMERIC.length]}${text.slice(1)}` : text;
}

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

// Device passwords may be short and chosen by people, so they get a slow, salted hash.
const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>;
const SCRYPT = { N: 16384, r: 8, p: 1 };

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16);
  const hash = await scryptAsync(password, salt, 32, SCRYPT);
  return `scrypt$${SCRYPT.N}$${SCRYPT.r}$${SCRYPT.p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash) return false;
  const expected = Buffer.from(hash, 'base64');
  const actual = await scryptAsync(password, Buffer.from(salt, 'base64'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
  });
  return timingSafeEqual(actual, expected);
}
