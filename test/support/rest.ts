// A plain HTTP client for the Kaa CEX REST API (/cex/api/v1) and an MQTT device that answers
// every command of a type it is pushed.
import type { App } from '../../src/app.ts';
import type { Fixture } from './api.ts';
import { ADMIN_KEY } from './app.ts';
import { commandsIn, kp1Topic, type Device } from './mqtt.ts';

export const REST = '/cex/api/v1';

export interface RestResponse {
  status: number;
  headers: Headers;
  /** The parsed JSON body (undefined for an empty body). */
  body: any;
}

export interface RestOptions {
  /** JSON-encoded unless `raw` is given. */
  body?: unknown;
  raw?: string;
  contentType?: string | null;
  /** The API key; null sends no Authorization header. */
  key?: string | null;
  headers?: Record<string, string>;
}

/** One request to `path` (relative to /cex/api/v1, or absolute when it starts with it). */
export async function rest(app: App, method: string, path: string, opts: RestOptions = {}): Promise<RestResponse> {
  const key = opts.key === undefined ? ADMIN_KEY : opts.key;
  const hasBody = opts.raw !== undefined || opts.body !== undefined;
  const contentType = opts.contentType === undefined ? (hasBody ? 'application/json' : null) : opts.contentType;
  const res = await fetch(`${app.url}${path.startsWith(REST) ? '' : REST}${path}`, {
    method,
    headers: {
      ...(key ? { authorization: `Bearer ${key}` } : {}),
      ...(contentType ? { 'content-type': contentType } : {}),
      ...opts.headers,
    },
    body: opts.raw ?? (opts.body === undefined ? undefined : JSON.stringify(opts.body)),
  });
  const text = await res.text();
  return { status: res.status, headers: res.headers, body: text === '' ? undefined : JSON.parse(text) };
}

export interface Answer {
  statusCode: number;
  reasonPhrase?: string;
  payload?: unknown;
}

/**
 * Makes `device` (bound to `fx`) report `answer(payload)` for every command of `type` pushed to
 * it, as a kp1 result. Returns a function that stops it.
 */
export function answerCommands(device: Device, fx: Fixture, type: string, answer: (payload: unknown) => Answer): () => void {
  const pushTopic = kp1Topic(fx, 'cex', `command/${type}/status`);
  const answered = new Set<number>();
  const onMessage = (topic: string, message: Buffer) => {
    if (topic !== pushTopic) return;
    for (const c of commandsIn(message.toString('utf8'))) {
      if (answered.has(c.id)) continue;
      answered.add(c.id);
      const result = [{ id: c.id, ...answer(c.payload) }];
      void device.publish(kp1Topic(fx, 'cex', `result/${type}`), JSON.stringify(result)).catch(() => {});
    }
  };
  device.client.on('message', onMessage);
  return () => void device.client.off('message', onMessage);
}
