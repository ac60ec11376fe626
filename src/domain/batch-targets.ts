// What a bulk invoke addresses: exactly one of a list of endpoint ids, an application version,
// or an application (optionally narrowed by a name search). Resolved to the endpoints that get
// a command and the ones skipped, with the reason; more than MAX_BATCH_ENDPOINTS is refused
// before anything is written.
import * as batches from '../storage/batch-store.ts';
import type { Db } from '../storage/db.ts';
import * as registry from '../storage/registry-store.ts';
import { isUuid } from './auth.ts';
import type { BatchTarget, SkippedEndpoint } from './batch-types.ts';
import { badInput, notFound } from './errors.ts';

export const MAX_BATCH_ENDPOINTS = 10_000;

export interface TargetInput {
  endpointIds?: readonly string[] | null;
  applicationVersion?: string | null;
  application?: string | null;
  /** Part of the endpoint name, ignoring case; only with `application`. */
  search?: string | null;
}

export interface ResolvedTarget {
  target: BatchTarget;
  endpoints: batches.TargetEndpoint[];
  skipped: SkippedEndpoint[];
}

/** The input as the idempotency hash sees it: the same set of ids in any order or case is the same target. */
export function normalizeTarget(input: TargetInput): TargetInput {
  const given = checkShape(input);
  if (given === 'endpointIds') return { endpointIds: [...new Set(input.endpointIds!.map((id) => id.toLowerCase()))].sort() };
  if (given === 'applicationVersion') return { applicationVersion: input.applicationVersion! };
  return input.search ? { application: input.application!, search: input.search } : { application: input.application! };
}

export async function resolveTarget(db: Db, input: TargetInput): Promise<ResolvedTarget> {
  const given = checkShape(input);
  if (given === 'endpointIds') {
    const ids = [...new Set(input.endpointIds!.map((id) => id.toLowerCase()))];
    const found = await batches.findTargetsByIds(db, ids.filter(isUuid));
    const byId = new Map(found.map((e) => [e.id, e]));
    const skipped: SkippedEndpoint[] = [];
    const endpoints: batches.TargetEndpoint[] = [];
    for (const id of ids) {
      const e = byId.get(id);
      if (!e) skipped.push({ endpointId: id, reason: 'NOT_FOUND' });
      else if (e.revoked) skipped.push({ endpointId: id, reason: 'REVOKED' });
      else endpoints.push(e);
    }
    return { target: { kind: 'ENDPOINTS', requested: ids.length }, endpoints, skipped };
  }
  let versionIds: string[];
  let target: BatchTarget;
  if (given === 'applicationVersion') {
    const version = await registry.findVersionByName(db, input.applicationVersion!);
    if (!version) throw notFound(`No application version named "${input.applicationVersion}".`);
    versionIds = [version.id];
    target = { kind: 'APPLICATION_VERSION', applicationVersion: version.name, requested: 0 };
  } else {
    const app = await registry.findApplicationByName(db, input.application!);
    if (!app) throw notFound(`No application named "${input.application}".`);
    versionIds = (await registry.listVersionsOfApplications(db, [app.id])).map((v) => v.id);
    target = { kind: 'APPLICATION', application: app.name, ...(input.search ? { search: input.search } : {}), requested: 0 };
  }
  const found = await batches.findTargetsOfVersions(db, versionIds, input.search ?? undefined, MAX_BATCH_ENDPOINTS + 1);
  checkSize(found.length, 'The target has more than');
  target.requested = found.length;
  return {
    target,
    endpoints: found.filter((e) => !e.revoked),
    skipped: found.filter((e) => e.revoked).map((e) => ({ endpointId: e.id, reason: 'REVOKED' as const })),
  };
}

type TargetKind = 'endpointIds' | 'applicationVersion' | 'application';

function checkShape(input: TargetInput): TargetKind {
  const kinds = (['endpointIds', 'applicationVersion', 'application'] as const).filter((k) => input[k] != null);
  if (kinds.length !== 1) {
    throw badInput(
      `"target" takes exactly one of endpointIds, applicationVersion or application; ${kinds.length === 0 ? 'none was' : `${kinds.join(' and ')} were`} given.`,
      { field: 'target' },
    );
  }
  const kind = kinds[0]!;
  if (input.search != null && kind !== 'application') {
    throw badInput('"search" narrows an application target; give it with "application".', { field: 'search' });
  }
  if (kind === 'endpointIds') {
    const n = input.endpointIds!.length;
    if (n === 0) throw badInput('"endpointIds" is empty; give at least one endpoint id.', { field: 'endpointIds' });
    checkSize(n, '"endpointIds" has more than');
  }
  return kind;
}

function checkSize(n: number, what: string): void {
  if (n > MAX_BATCH_ENDPOINTS) {
    throw badInput(`${what} ${MAX_BATCH_ENDPOINTS.toLocaleString('en')} endpoints; a batch holds at most that many. Nothing was sent.`, {
      field: 'target',
    });
  }
}
