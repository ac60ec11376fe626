// What the bench asks of the service's GraphQL API before the scenarios: the application, its
// version and the endpoints every scenario uses, and how the server takes many invokes at once.
import { now } from './clock.ts';
import type { RunInfo } from './config.ts';
import { graphql } from './http-client.ts';
import { log } from './log.ts';

export interface Endpoint {
  id: string;
  token: string;
}

export interface Capabilities {
  httpBatching: boolean;
  invokeCommands: boolean;
}

export interface PipelineOps {
  invoke: 'invoke' | 'invoke-many' | 'invoke-http-batch';
  noop: 'noop' | 'noop-http-batch';
  label: string;
}

/** Creates the run's application, its version and `count` endpoints (tokens d<run>x<i>). */
export async function createEndpoints(serverUrl: string, run: RunInfo, count: number): Promise<Endpoint[]> {
  const url = `${serverUrl}/graphql`;
  const key = run.adminKey;
  await graphql(url, key, `mutation($n: String!) { createApplication(name: $n) { id } }`, { n: run.app });
  await graphql(url, key, `mutation($a: String!, $n: String!) { createApplicationVersion(applicationName: $a, name: $n) { id } }`, {
    a: run.app,
    n: run.appVersion,
  });
  const started = now();
  const tokens = Array.from({ length: count }, (_, i) => `d${run.id}x${i}`);
  const created: Endpoint[] = new Array(count);
  let next = 0;
  const lane = async () => {
    while (next < count) {
      const from = next;
      const batch = tokens.slice(from, from + 20);
      next += batch.length;
      const fields = batch.map((t, i) => `e${i}: createEndpoint(applicationVersion: "${run.appVersion}", token: "${t}") { endpoint { id } }`).join(' ');
      const data = await graphql<Record<string, { endpoint: { id: string } }>>(url, key, `mutation { ${fields} }`);
      batch.forEach((t, i) => (created[from + i] = { id: data[`e${i}`]!.endpoint.id, token: t }));
    }
  };
  // Each createEndpoint commits on its own (20 per request run one after another): many lanes let PostgreSQL group the commits.
  await Promise.all(Array.from({ length: 16 }, lane));
  log(`created ${count} endpoints in ${((now() - started) / 1000).toFixed(1)} s`);
  return created;
}

/**
 * How the server can take many invokes in one request, best first: an `invokeCommands(inputs:)`
 * mutation (one service call), GraphQL-over-HTTP batching (yoga `batching`: the operations of
 * one request run concurrently), or aliases (always there; GraphQL runs them one by one).
 */
export async function detectCapabilities(serverUrl: string, adminKey: string): Promise<Capabilities> {
  const url = `${serverUrl}/graphql`;
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${adminKey}` },
    body: JSON.stringify([{ query: 'mutation { __typename }' }, { query: 'mutation { __typename }' }]),
  });
  const body = await res.json().catch(() => null);
  const fields = await graphql<{ __type: { fields: { name: string; args: { name: string }[] }[] } }>(
    url,
    adminKey,
    '{ __type(name: "Mutation") { fields { name args { name } } } }',
  );
  // Only the per-command `inputs:` shape: the bulk invoke's `input: { target }` sends one command to many endpoints.
  const invokeCommands = fields.__type.fields.some((f) => f.name === 'invokeCommands' && f.args.some((a) => a.name === 'inputs'));
  return { httpBatching: res.ok && Array.isArray(body), invokeCommands };
}

export function pipelineOps(capabilities: Capabilities): PipelineOps {
  if (capabilities.invokeCommands) return { invoke: 'invoke-many', noop: 'noop', label: 'invokeCommands(inputs)' };
  if (capabilities.httpBatching) return { invoke: 'invoke-http-batch', noop: 'noop-http-batch', label: 'HTTP batch' };
  return { invoke: 'invoke', noop: 'noop', label: 'aliases' };
}
