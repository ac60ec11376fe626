// kp1 over HTTP (kp1.md §1, "HTTP binding"): POST /kp1/{appVersion}/{extension}/{token}/{resource}
// with an optional trailing request id, as Kaa's HTTP device API takes it (the reply is the same).
// The body is JSON whatever the Content-Type says (the Kaa tutorial's curl sends form
// encoding). Success is 200 with the reply body; failures use the HTTP status equal to the kp1
// statusCode and the kp1 error object as the body.
//
// Long polling (ours): a command request with `?wait=<seconds>` is held until a command of that
// type arrives for the endpoint or the wait ends, whichever is first.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EventBus } from '../events/bus.ts';
import { writeJson } from '../lib/json-response.ts';
import type { Logger } from '../logger.ts';
import type { Kp1Dispatcher } from './kp1/dispatch.ts';
import { Kp1Failure, formatError, type Kp1Error } from './kp1/errors.ts';
import { parseHttpPath } from './kp1/grammar.ts';
import { countHttpDeviceRequest } from '../metrics/devices.ts';

export const MAX_LONG_POLL_SECONDS = 60;

export interface HttpDeviceOptions {
  dispatcher: Kp1Dispatcher;
  bus: EventBus;
  maxBodyBytes: number;
  log: Logger;
  /** Aborted when the server shuts down: held long polls are answered at once. */
  shutdown?: AbortSignal;
}

function stopping(signal: AbortSignal | undefined): Promise<void> {
  if (!signal) return new Promise(() => {});
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => signal.addEventListener('abort', () => resolve(), { once: true }));
}

export function createKp1HttpHandler(opts: HttpDeviceOptions) {
  const { dispatcher, bus, maxBodyBytes } = opts;

  return async function handleKp1(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [path = '', query = ''] = (req.url ?? '').split('?', 2);
    countHttpDeviceRequest(path, res);
    try {
      if (req.method !== 'POST') {
        res.setHeader('allow', 'POST');
        throw new Kp1Failure(405, 'kp1 requests use POST');
      }
      const request = parseHttpPath(path);
      const wait = parseWait(new URLSearchParams(query));
      const body = await readBody(req, maxBodyBytes);
      const credentials = { basic: parseBasicAuth(req.headers.authorization) };
      const isCommand = request.resource.kind === 'command' || request.resource.kind === 'commandAll';

      // Listen before the first read, so a command invoked in between is not missed.
      let arrived: (() => void) | undefined;
      const arrival = new Promise<void>((resolve) => (arrived = resolve));
      const listeners: (() => void)[] = [];
      let endpointId: string | undefined;
      // Endpoints that got a command of this type while the first read ran (its endpoint is not
      // known until it returns, and the command may have missed that read).
      const early = new Set<string>();
      if (isCommand && wait > 0) {
        // The all-types resource waits for a command of any type.
        const type = request.resource.kind === 'command' ? request.resource.commandType : undefined;
        listeners.push(
          bus.on('commandChanged', (c) => {
            if (c.status !== 'PENDING' || (type !== undefined && c.commandType !== type)) return;
            if (endpointId === undefined) early.add(c.endpointId);
            else if (c.endpointId === endpointId) arrived?.();
          }),
          // Commands of a gap in the event feed would be missed: read again.
          bus.onMissed(() => arrived?.()),
        );
      }
      try {
        let outcome = await dispatcher.dispatch(request, body, credentials);
        if (outcome.ok && outcome.command && outcome.command.outstanding === 0 && listeners.length > 0) {
          endpointId = outcome.identity.endpoint.id;
          if (early.has(endpointId)) arrived?.();
          const gone = new Promise<void>((resolve) => res.once('close', resolve));
          let timer: NodeJS.Timeout | undefined;
          const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, wait * 1000)));
          await Promise.race([arrival, timeout, gone, stopping(opts.shutdown)]);
          clearTimeout(timer);
          if (res.destroyed) return;
          outcome = await dispatcher.dispatch(request, body, credentials);
        }
        if (!outcome.ok) return sendError(res, outcome.error);
        const ids = outcome.command?.ids ?? [];
        if (ids.length > 0) onFullyWritten(res, () => dispatcher.delivered(ids, 'HTTP'));
        writeJson(res, 200, outcome.body);
      } finally {
        for (const off of listeners) off();
      }
    } catch (error) {
      if (error instanceof Kp1Failure) return sendError(res, error.error);
      // The device went away mid-upload: nobody to answer.
      if (req.destroyed || res.destroyed) {
        opts.log.debug({ err: (error as Error).message }, 'device HTTP request aborted');
        return void res.destroy();
      }
      throw error;
    }
  };
}

/**
 * Runs `then` once the whole response is handed to the operating system: a device that went
 * away before got nothing. Node emits 'finish' after a failed last write too, so the socket's
 * error state decides.
 */
function onFullyWritten(res: ServerResponse, then: () => void): void {
  const socket = res.socket;
  res.once('finish', () => {
    if (socket && !socket.errored) then();
  });
}

/** HTTP Basic credentials, for endpoints that require them besides the token. */
function parseBasicAuth(header: string | undefined): { username: string; password: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function parseWait(params: URLSearchParams): number {
  const raw = params.get('wait');
  if (raw === null) return 0;
  const wait = Number(raw);
  if (!/^\d+$/.test(raw) || wait > MAX_LONG_POLL_SECONDS) {
    throw new Kp1Failure(400, `"wait" must be a whole number of seconds from 0 to ${MAX_LONG_POLL_SECONDS}`);
  }
  return wait;
}

/** Reads at most `limit` bytes; beyond that it stops reading and fails with 413. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) {
    return Promise.reject(new Kp1Failure(413, `The payload is ${declared} bytes; the limit is ${limit}`));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(new Kp1Failure(413, `The payload is larger than the limit of ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
  });
}

function sendError(res: ServerResponse, error: Kp1Error): void {
  if (res.headersSent) return void res.destroy();
  // The unread rest of an oversized body would otherwise be parsed as the next request.
  writeJson(res, error.statusCode, formatError(error), error.statusCode === 413 ? { connection: 'close' } : {});
}
