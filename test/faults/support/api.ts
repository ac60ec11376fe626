// Clients for a server child: GraphQL over HTTP, kp1 over HTTP, and the small fixtures every
// fault test needs. Every request has a deadline: a hang is a failure, never a stuck test.
import { randomBytes } from 'node:crypto';
import { print } from 'graphql';
import type { TadaDocumentNode } from '../../../src/graphql/typed.ts';
import type { GqlError } from '../../support/app.ts';
import {
  CommandHistory,
  CreateApplication,
  CreateApplicationVersion,
  CreateEndpoint,
  InvokeCommand,
  type CommandPage,
} from '../../support/documents.ts';
import { ADMIN_KEY } from './server.ts';

export interface Target {
  readonly url: string;
}

export interface GqlResult<T> {
  status: number;
  data?: T | null;
  errors?: GqlError[];
  /** Milliseconds from sending to the full response. */
  ms: number;
}

export function unique(prefix: string): string {
  return `${prefix}-${randomBytes(5).toString('hex')}`;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** A GraphQL POST of a typed document (test/support/documents.ts); rejects on network errors and after `timeoutMs`. */
export async function gql<R, V>(target: Target, document: TadaDocumentNode<R, V>, variables: V, timeoutMs = 15_000): Promise<GqlResult<R>> {
  const started = Date.now();
  const res = await fetch(`${target.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${ADMIN_KEY}` },
    body: JSON.stringify({ query: print(document), variables }),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const body = (await res.json()) as object;
  return { status: res.status, ...body, ms: Date.now() - started };
}

export async function gqlData<R, V>(target: Target, document: TadaDocumentNode<R, V>, variables: V): Promise<R> {
  const res = await gql(target, document, variables);
  if (res.errors?.length || !res.data) throw new Error(`GraphQL errors: ${JSON.stringify(res.errors)}`);
  return res.data;
}

export interface Endpoint {
  appVersion: string;
  endpointId: string;
  token: string;
}

/** One application version and `count` endpoints in it. */
export async function createEndpoints(target: Target, count: number): Promise<Endpoint[]> {
  const application = unique('app');
  const appVersion = unique('v');
  await gqlData(target, CreateApplication, { name: application });
  await gqlData(target, CreateApplicationVersion, { applicationName: application, name: appVersion });
  const endpoints: Endpoint[] = [];
  for (let i = 0; i < count; i++) {
    const token = unique(`tok${i}`);
    const data = await gqlData(target, CreateEndpoint, { applicationVersion: appVersion, token });
    endpoints.push({ appVersion, endpointId: data.createEndpoint.endpoint.id, token });
  }
  return endpoints;
}

export interface Invoked {
  id: number;
  endpointId: string;
  commandType: string;
  expiresAt: Date;
}

/** Invokes; resolves with the command when the API acknowledged it, rejects otherwise. */
export async function invoke(
  target: Target,
  endpointId: string,
  commandType: string,
  payload: unknown,
  retentionSeconds = 3600,
  timeoutMs = 15_000,
): Promise<Invoked> {
  const res = await gql(target, InvokeCommand, { input: { endpointId, commandType, payload, retentionSeconds } }, timeoutMs);
  if (res.errors?.length || !res.data) throw Object.assign(new Error(`invoke failed: ${JSON.stringify(res.errors)}`), { result: res });
  const c = res.data.invokeCommand;
  return { id: Number(c.id), endpointId: c.endpoint.id, commandType: c.commandType, expiresAt: new Date(c.expiresAt) };
}

export interface Kp1Response {
  status: number;
  text: string;
  json: any;
  ms: number;
}

/** A kp1 HTTP request; rejects on network errors and after `timeoutMs`. */
export async function kp1Http(
  target: Target,
  ep: Endpoint,
  extension: 'cex' | 'dcx',
  resource: string,
  body: unknown,
  timeoutMs = 15_000,
): Promise<Kp1Response> {
  const started = Date.now();
  const res = await fetch(`${target.url}/kp1/${ep.appVersion}/${extension}/${ep.token}/${resource}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  const text = await res.text();
  let json: any;
  try {
    json = text === '' ? undefined : JSON.parse(text);
  } catch {
    json = undefined;
  }
  return { status: res.status, text, json, ms: Date.now() - started };
}

export interface CommandRow {
  id: number;
  endpointId: string;
  commandType: string;
  status: 'PENDING' | 'EXECUTED' | 'EXPIRED' | 'CANCELED';
  statusCode: number | null;
  reasonPhrase: string | null;
  payload: unknown;
  resultPayload: unknown;
  expiresAt: Date;
  executedAt: Date | null;
  rerunOf: number | null;
}

/** Every command of the endpoints, through the API (works for PGlite, whose files only the server may open). */
export async function commandsViaApi(target: Target, endpointIds: string[]): Promise<CommandRow[]> {
  const rows: CommandRow[] = [];
  for (const endpointId of endpointIds) {
    let after: string | null = null;
    for (let pages = 0; pages < 1000; pages++) {
      const page: CommandPage = (await gqlData(target, CommandHistory, { endpointId, first: 100, after })).commandHistory;
      for (const { node } of page.edges) {
        rows.push({
          id: Number(node.id),
          endpointId,
          commandType: node.commandType,
          status: node.status,
          statusCode: node.statusCode,
          reasonPhrase: node.reasonPhrase,
          payload: node.payload,
          resultPayload: node.resultPayload,
          expiresAt: new Date(node.expiresAt),
          executedAt: node.executedAt ? new Date(node.executedAt) : null,
          rerunOf: node.rerunOf ? Number(node.rerunOf.id) : null,
        });
      }
      if (!page.pageInfo.hasNextPage) break;
      after = page.pageInfo.endCursor;
    }
  }
  return rows;
}

/** Every command of the endpoints, read straight from PostgreSQL. */
export async function commandsViaSql(
  query: <T>(text: string, params?: unknown[]) => Promise<T[]>,
  endpointIds: string[],
): Promise<CommandRow[]> {
  const rows = await query<any>(
    `select id, endpoint_id, command_type, status, status_code, reason_phrase, payload, result_payload, expires_at, executed_at, rerun_of
       from commands where endpoint_id = any($1::uuid[]) order by id`,
    [endpointIds],
  );
  return rows.map((r) => ({
    id: Number(r.id),
    endpointId: r.endpoint_id,
    commandType: r.command_type,
    status: r.status,
    statusCode: r.status_code,
    reasonPhrase: r.reason_phrase,
    payload: r.payload,
    resultPayload: r.result_payload,
    expiresAt: new Date(r.expires_at),
    executedAt: r.executed_at ? new Date(r.executed_at) : null,
    rerunOf: r.rerun_of === null ? null : Number(r.rerun_of),
  }));
}

/** Polls `probe` until it returns a value, or fails after `ms` with `describe()`. */
export async function waitFor<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  ms: number,
  describe: () => string = () => '',
  intervalMs = 50,
): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    if (Date.now() > deadline) throw new Error(`Timed out after ${ms} ms. ${describe()}`);
    await sleep(intervalMs);
  }
}

/** A seeded PRNG (mulberry32), so a failing random kill point can be replayed from the log. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` in flight; stops early when `stop()` says so. */
export async function pool(count: number, concurrency: number, task: (i: number) => Promise<void>, stop: () => boolean = () => false) {
  let next = 0;
  const workers = Array.from({ length: concurrency }, async () => {
    while (next < count && !stop()) {
      const i = next++;
      await task(i);
    }
  });
  await Promise.all(workers);
}
