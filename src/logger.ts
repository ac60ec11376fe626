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
    { level, base: { service: 'cex' }, mixin: requestLogFields, redact: { paths: REDACTED_FIELDS, censor: '[redacted]' } },
    destination ?? process.stdout,
  );
}
