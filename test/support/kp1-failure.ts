// The Kp1Failure a kp1 parser throws, for the kp1-topics and kp1-bodies unit tests.
import { Kp1Failure } from '../../src/devices/kp1/errors.ts';

/** The Kp1Failure that fn throws; fails the test if it returns or throws anything else. */
export function failure(fn: () => unknown): Kp1Failure {
  let returned: unknown;
  try {
    returned = fn();
  } catch (error) {
    if (error instanceof Kp1Failure) return error;
    throw error;
  }
  throw new Error(`expected a Kp1Failure, got ${JSON.stringify(returned)}`);
}
