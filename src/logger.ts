// Structured JSON logs (pino). Secrets must never reach a log line: the redact list is a
// backstop for fields that carry them; code should not log them in the first place.
import { pino, type Logger as PinoLogger } from 'pino';
import type { LogLevel } from './config.ts';
import { requestLogFields } from './lib/request-context.ts';

export type Logger = PinoLogger;

const REDACTED_FIELDS = [
  'token',
  'secret',
  'password',
  'authorization',
  'apiKey',
  '*.token',
  '*.secret',
  '*.password',
  '*.authorization',
  '*.apiKey',
  'req.headers.authorization',
];

export function createLogger(level: LogLevel, destination?: NodeJS.WritableStream): Logger {
  return pino(
    {
      level,
      base: { service: 'cex' },
      mixin: requestLogFields,
      redact: { paths: REDACTED_FIELDS, censor: '[redacted]' },
      serializers: { err: serializeError, args: serializeArgs },
    },
    destination ?? process.stdout,
  );
}

const MAX_MESSAGE_CHARS = 500;
const MAX_STACK_FRAMES = 12;
const MAX_CAUSES = 3;
/** Fields of driver and database errors that name the failure, never the data: no `params`
 *  (drizzle), `parameters` or `query` (postgres.js), `detail` (PostgreSQL's "Key (x)=(value)"). */
const SAFE_ERROR_FIELDS = ['code', 'severity', 'routine', 'constraint', 'constraint_name', 'table', 'table_name', 'column', 'column_name', 'errno', 'syscall'];

/**
 * A bounded summary of an error for the log: type, message (drizzle's "params: …" cut off),
 * code-like fields, stack frames and causes. Errors carry request bodies and SQL parameters
 * (token hashes among them) that must never be logged.
 */
export function serializeError(error: unknown, depth = 0): unknown {
  if (typeof error === 'string') return bounded(error);
  if (!(error instanceof Error)) return error === null || typeof error !== 'object' ? error : { type: typeof error };
  const summary: Record<string, unknown> = { type: error.name, message: bounded(withoutParams(error.message)) };
  const fields = error as unknown as Record<string, unknown>;
  for (const key of SAFE_ERROR_FIELDS) {
    const value = fields[key];
    if (typeof value === 'string' || typeof value === 'number') summary[key] = typeof value === 'string' ? bounded(value) : value;
  }
  const frames = (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
  if (frames.length > 0) summary['stack'] = frames.slice(0, MAX_STACK_FRAMES).map((f) => f.trim()).join('\n');
  // GraphQLError keeps the resolver's error as originalError.
  const cause = error.cause ?? fields['originalError'];
  if (cause !== undefined && cause !== error && depth < MAX_CAUSES) summary['cause'] = serializeError(cause, depth + 1);
  return summary;
}

/** graphql-yoga logs its arguments as they come, errors among them. */
function serializeArgs(args: unknown): unknown {
  return Array.isArray(args) ? args.map((arg) => (arg instanceof Error ? serializeError(arg) : arg)) : args;
}

function withoutParams(message: string): string {
  const at = message.indexOf('\nparams: ');
  return at < 0 ? message : message.slice(0, at);
}

function bounded(text: string): string {
  return text.length > MAX_MESSAGE_CHARS ? `${text.slice(0, MAX_MESSAGE_CHARS)}…` : text;
}
