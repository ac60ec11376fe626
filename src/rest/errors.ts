// Errors of the REST door: JSON in the shape of Spring Boot's error body (Kaa's services are
// Spring applications), with the HTTP status Kaa's documentation gives for the case.
import type { ServerResponse } from 'node:http';
import { DomainError, type ValidationIssue } from '../domain/errors.ts';
// kp1 statuses are HTTP statuses, chosen per code for the same reasons: one table for both doors.
import { KP1_STATUS_OF_CODE as STATUS_OF } from '../devices/kp1/errors.ts';
import { isDatabaseUnavailable } from '../storage/db-errors.ts';
import { writeJson } from '../lib/json-response.ts';
import type { Logger } from '../logger.ts';

/** A refusal made by the REST layer itself (a bad query parameter, an unsupported method). */
export class RestError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = 'RestError';
  }
}

const REASON: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  501: 'Not Implemented',
  503: 'Service Unavailable',
};

export interface ErrorBody {
  timestamp: string;
  status: number;
  error: string;
  message: string;
  path: string;
  /** Where a payload breaks the command schema: JSON Pointers into the payload. */
  validationErrors?: ValidationIssue[];
}

/** Answers `error` as JSON; anything that is not an expected refusal is logged and masked. */
export function sendError(res: ServerResponse, path: string, error: unknown, log: Logger): void {
  let status = 500;
  let message = 'Unexpected error.';
  let headers: Record<string, string> = {};
  let validationErrors: ValidationIssue[] | undefined;
  if (error instanceof RestError) {
    ({ status, message, headers } = error);
  } else if (error instanceof DomainError) {
    status = STATUS_OF[error.code];
    message = error.message;
    validationErrors = error.details.validationErrors;
    if (status === 401) headers = { 'www-authenticate': 'Bearer' };
  } else if (isDatabaseUnavailable(error)) {
    status = 503;
    message = 'The database is unavailable right now; retry in a few seconds.';
  } else {
    log.error({ err: error, path }, 'unexpected error in a REST request');
  }
  if (res.headersSent) return void res.destroy();
  const body: ErrorBody = { timestamp: new Date().toISOString(), status, error: REASON[status] ?? 'Error', message, path };
  if (validationErrors) body.validationErrors = validationErrors;
  writeJson(res, status, JSON.stringify(body), headers);
}
