import { describe, expect, it } from 'vitest';
import { DomainError, type ErrorCode } from '../../src/domain/errors.ts';
import { KP1_STATUS_OF_CODE, Kp1Failure, kp1ErrorOf, type Kp1Status } from '../../src/devices/kp1/errors.ts';

// Written out here on purpose: the type makes this list name every ErrorCode, so a new code
// fails to compile until someone decides what a device is told.
const expected: Record<ErrorCode, Kp1Status> = {
  BAD_USER_INPUT: 400,
  UNAUTHENTICATED: 401,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  CONFLICT: 409,
  PAYLOAD_TOO_LARGE: 413,
  RATE_LIMITED: 429,
  SERVICE_UNAVAILABLE: 503,
};

describe('kp1ErrorOf', () => {
  it.each(Object.entries(expected) as [ErrorCode, Kp1Status][])('maps the DomainError code %s to %i', (code, status) => {
    expect(kp1ErrorOf(new DomainError(code, 'why'))).toEqual({ statusCode: status, reasonPhrase: 'why' });
  });

  it('maps exactly the codes it was decided for', () => {
    expect(KP1_STATUS_OF_CODE).toEqual(expected);
  });

  it('passes a Kp1Failure through and leaves anything else to the caller (a server-side 503)', () => {
    expect(kp1ErrorOf(new Kp1Failure(413, 'big'))).toEqual({ statusCode: 413, reasonPhrase: 'big' });
    expect(kp1ErrorOf(new Error('connection refused'))).toBeUndefined();
    expect(kp1ErrorOf('text')).toBeUndefined();
  });
});
