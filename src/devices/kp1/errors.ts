// The kp1 error vocabulary: what a device is told when its request fails [kp1 §1, §4], and the
// status each domain failure reaches a device as.
import { DomainError, type ErrorCode } from '../../domain/errors.ts';

/** The kp1 error payload, everywhere (MQTT `/error` topics and HTTP error bodies) [kp1 §1]. */
export type Kp1Error = { statusCode: Kp1Status; reasonPhrase: string };

/**
 * The statusCodes this server sends [kp1 §4]: 400 bad body, topic level, request id or command
 * type; 401 unknown or revoked token; 403 another application's version; 404 unknown version,
 * command id, extension or resource; 413 payload or batch too large; 503 cannot store now. Also
 * 405 (HTTP method), and 409 / 429 for domain failures kp1.md has no row for.
 */
export type Kp1Status = 400 | 401 | 403 | 404 | 405 | 409 | 413 | 429 | 503;

/** A failure the device is told about. */
export class Kp1Failure extends Error implements Kp1Error {
  readonly statusCode: Kp1Status;
  readonly reasonPhrase: string;

  constructor(statusCode: Kp1Status, reasonPhrase: string) {
    super(reasonPhrase);
    this.name = 'Kp1Failure';
    this.statusCode = statusCode;
    this.reasonPhrase = reasonPhrase;
  }

  /** The plain error object, without the Error machinery. */
  get error(): Kp1Error {
    return { statusCode: this.statusCode, reasonPhrase: this.reasonPhrase };
  }
}

/** The error payload as sent on `/error` topics and in HTTP error bodies [kp1 §1]. */
export function formatError(error: Kp1Error): string {
  return JSON.stringify({ statusCode: error.statusCode, reasonPhrase: error.reasonPhrase });
}

/**
 * The kp1 status of every DomainError code, chosen one by one: a new code does not compile until
 * it has a row, so it cannot reach a device as 503 "retry later" by accident.
 */
export const KP1_STATUS_OF_CODE = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  SERVICE_UNAVAILABLE: 503,
} as const satisfies { readonly [C in ErrorCode]: Kp1Status };

/** The kp1 error for an expected failure; undefined for anything else (the server's trouble). */
export function kp1ErrorOf(error: unknown): Kp1Error | undefined {
  if (error instanceof Kp1Failure) return error.error;
  if (error instanceof DomainError) return { statusCode: KP1_STATUS_OF_CODE[error.code], reasonPhrase: error.message };
  return undefined;
}

/** Device input echoed in a reason phrase: quoted and cut to keep phrases short. */
export function quote(text: string): string {
  const max = 64;
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}

/** A JSON value named for a reason phrase: its type, and short scalars themselves. */
export function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${quote(value)}`;
  return `${typeof value} ${String(value)}`;
}
