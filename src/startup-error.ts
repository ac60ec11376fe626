/**
 * A start-up failure the operator can fix (a busy port, an unreachable database, an unusable
 * DATA_DIR): main.ts prints its message as one line and exits 1, without a stack trace.
 */
export class StartupError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StartupError';
  }
}

/** The code and message of a system error, for one line ("EACCES: permission denied, …"). */
export function describeCause(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n', 1)[0]!;
  return String(error);
}
