// The HTTP request being handled, for every log line written while handling it: the logger's
// mixin adds `reqId` wherever the line is written (GraphQL, kp1, the stores), so nothing has to
// pass a child logger along.
import { AsyncLocalStorage } from 'node:async_hooks';
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

export interface RequestContext {
  reqId: string;
  /** A GraphQL request: its statements run on the operator connections (storage/db.ts). */
  operator?: boolean;
}

const storage = new AsyncLocalStorage<RequestContext>();

export function runInRequest<T>(context: RequestContext, fn: () => T): T {
  return storage.run(context, fn);
}

/** Log fields of the request being handled (none outside one). */
export function requestLogFields(): { reqId?: string } {
  const reqId = storage.getStore()?.reqId;
  return reqId ? { reqId } : {};
}

export function inOperatorRequest(): boolean {
  return storage.getStore()?.operator === true;
}

/** A proxy's or client's own id is kept when it is short and plain (it is logged as it is). */
const SANE_REQUEST_ID = /^[A-Za-z0-9._:-]{1,64}$/;

export function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && SANE_REQUEST_ID.test(given) ? given : randomUUID();
}
