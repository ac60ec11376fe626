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

let guardInstalled = false;

/**
 * postgres.js 3.4.x has a known bug (porsager/postgres#1133, #1208): when the server kills a
 * connection in the middle of a transaction, `begin` rejects as it should, but its own ROLLBACK
 * is then written to the dead socket from a setImmediate, which throws a TypeError nobody can
 * catch. The transaction has already failed and been reported to its caller, so that one error
 * is harmless. This handler recognises exactly it (a TypeError thrown from postgres.js's
 * nextWrite) and logs it; every other uncaught exception still ends the process as usual.
 */
export function installPostgresWriteGuard(onIgnored: (error: Error) => void): void {
  if (guardInstalled) return;
  guardInstalled = true;
  process.on('uncaughtException', (error, origin) => {
    if (isPostgresDeadSocketWrite(error)) {
      onIgnored(error);
      return;
    }
    // Same as Node's default: print and exit.
    process.stderr.write(`${origin}: ${error.stack ?? String(error)}\n`);
    process.exit(1);
  });
}

export function isPostgresDeadSocketWrite(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false;
  const stack = error.stack ?? '';
  return /reading 'write'/.test(error.message) && /nextWrite/.test(stack) && /postgres[\\/]src[\\/]connection\.js/.test(stack);
}
