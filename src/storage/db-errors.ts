// Classifying database errors: "the database is not there right now" (the doors answer 503 /
// SERVICE_UNAVAILABLE, retry later) and constraint violations the services turn into CONFLICT.

// postgres.js connection errors (src/errors.js), Node socket errors, and SQLSTATE classes 08
// (connection exception) and 57P (operator intervention: shutdown, terminated backend).
const CONNECTION_CODES = new Set([
  'CONNECTION_CLOSED',
  'CONNECTION_DESTROYED',
  'CONNECTION_ENDED',
  'CONNECT_TIMEOUT',
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  '57P01',
  '57P02',
  '57P03',
]);

export function isDatabaseUnavailable(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || code.startsWith('08'))) return true;
    // drizzle wraps driver errors in DrizzleQueryError with the original as `cause`.
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}

/** A unique constraint refused the write (SQLSTATE 23505). */
export function isUniqueViolation(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e && depth < 5; depth++) {
    if ((e as { code?: unknown }).code === '23505') return true;
    e = (e as { cause?: unknown }).cause;
  }
  return false;
}
