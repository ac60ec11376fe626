// Helpers shared by devices-concurrent-writes and devices-lookup-cache: a kp1 request over HTTP and
// the stored rows of commands.
import type { App } from '../../src/app.ts';
import type { Fixture } from './api.ts';
import { rawQuery } from './db.ts';

export interface HttpReply {
  status: number;
  text: string;
}

/** A kp1 request over HTTP, optionally with HTTP Basic credentials. */
export async function kp1(
  target: App,
  fx: Pick<Fixture, 'appVersion' | 'token'>,
  resource: string,
  body: unknown,
  basic?: { username: string; password: string },
): Promise<HttpReply> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (basic) headers['authorization'] = `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString('base64')}`;
  const res = await fetch(`${target.url}/kp1/${fx.appVersion}/cex/${encodeURIComponent(fx.token)}/${resource}`, {
    method: 'POST',
    headers,
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

export interface Row {
  id: string;
  endpoint_id: string;
  command_type: string;
  status: string;
  status_code: number | null;
  reason_phrase: string | null;
  payload: unknown;
  result_payload: unknown;
}

/** The stored rows of these commands, by id. */
export async function rows(ids: (number | string)[]): Promise<Map<string, Row>> {
  const list = ids.map((id) => Number(id));
  if (!list.every((id) => Number.isSafeInteger(id))) throw new Error(`bad ids ${JSON.stringify(ids)}`);
  const found = await rawQuery<Row>(
    `select id::text as id, endpoint_id::text as endpoint_id, command_type, status::text as status, status_code,
            reason_phrase, payload, result_payload
       from commands where id in (${list.join(',')})`,
  );
  return new Map(found.map((r) => [r.id, r]));
}
