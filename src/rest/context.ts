// What every REST handler gets: the caller, the services, the request's parts and the options.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Principal } from '../domain/types.ts';
import type { Services } from '../services.ts';
import type { Query } from './request.ts';

export interface RestOptions {
  /** Largest request body, in bytes. */
  maxBodyBytes: number;
  /** Largest retention for delivery (GraphQL's retentionSeconds bound). */
  maxRetentionSeconds: number;
  /** Invokes one API key may make per minute (the GraphQL mutation rate). */
  invokesPerMinute: number;
  /** Aborted when the server stops: waiting invokes answer 202 at once. */
  shutdown?: AbortSignal;
}

export interface RestContext {
  services: Services;
  principal: Principal | null;
  req: IncomingMessage;
  res: ServerResponse;
  query: Query;
  options: RestOptions;
  /** Counts an invoke against the key's rate; throws 429 when it is over. */
  limitInvoke(actor: Principal): void;
}
