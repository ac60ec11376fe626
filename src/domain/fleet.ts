// Fleet-wide views for operators: every endpoint (searchable, filterable by application and
// version) and the command history across endpoints. Keyset-paged: cursors name the last row.
import type { Db } from '../storage/db.ts';
import * as fleet from '../storage/fleet-store.ts';
import * as registry from '../storage/registry-store.ts';
import { authorize, isUuid } from './auth.ts';
import { MAX_PAGE_SIZE, decodeCursor } from './commands.ts';
import { checkCommandType } from './identifiers.ts';
import { badInput, notFound } from './errors.ts';
import { checkMetadata, type Metadata } from './metadata.ts';
import type { Command, CommandStatus, Endpoint, Principal } from './types.ts';

const MAX_SEARCH = 200;
const MAX_METADATA_FILTER_KEYS = 20;

export interface EndpointsInput {
  application?: string | null;
  applicationVersion?: string | null;
  search?: string | null;
  /** Top-level metadata keys and the exact JSON value each must have. */
  metadata?: unknown;
  first?: number | null;
  after?: string | null;
}

export interface CommandFilter {
  application?: string | null;
  applicationVersion?: string | null;
  endpointId?: string | null;
  commandTypes?: string[] | null;
  statuses?: CommandStatus[] | null;
  createdAfter?: Date | null;
  createdBefore?: Date | null;
  /** Only PENDING commands that were (true) or were not yet (false) delivered. */
  delivered?: boolean | null;
}

export interface Page<T> {
  items: T[];
  hasNextPage: boolean;
}

export class FleetService {
  constructor(private readonly db: Db) {}

  async endpoints(actor: Principal | null, input: EndpointsInput): Promise<Page<Endpoint>> {
    authorize(actor, 'VIEWER');
    const first = pageSize(input.first);
    const search = input.search?.trim() || undefined;
    if (search && search.length > MAX_SEARCH) {
      throw badInput(`"search" must be at most ${MAX_SEARCH} characters.`, { field: 'search' });
    }
    const after = input.after ? decodeEndpointCursor(input.after) : undefined;
    const metadata = input.metadata == null ? undefined : checkMetadataFilter(input.metadata);
    const versionIds = await this.versionIds(input.application, input.applicationVersion);
    if (versionIds?.length === 0) return { items: [], hasNextPage: false };
    const rows = await fleet.listEndpoints(this.db, { versionIds, search, metadata, after, limit: first + 1 });
    return { items: rows.slice(0, first), hasNextPage: rows.length > first };
  }

  async commands(actor: Principal | null, filter: CommandFilter, first?: number | null, after?: string | null): Promise<Page<Command>> {
    authorize(actor, 'VIEWER');
    const limit = pageSize(first);
    for (const type of filter.commandTypes ?? []) checkCommandType(type);
    const beforeId = after ? decodeCursor(after) : undefined;
    let versionIds = await this.versionIds(filter.application, filter.applicationVersion);
    let endpointId: string | undefined;
    if (filter.endpointId != null) {
      const endpoint = isUuid(filter.endpointId) ? await registry.findEndpointById(this.db, filter.endpointId) : null;
      if (!endpoint) throw notFound(`No endpoint with id "${filter.endpointId}".`);
      // The filters combine with AND: an endpoint outside the versions asked for has nothing to show.
      if (versionIds && !versionIds.includes(endpoint.applicationVersionId)) versionIds = [];
      endpointId = endpoint.id;
    }
    if (versionIds?.length === 0) return { items: [], hasNextPage: false };
    const rows = await fleet.listFleetCommands(this.db, {
      versionIds,
      endpointId,
      commandTypes: filter.commandTypes ?? undefined,
      statuses: filter.statuses ?? undefined,
      createdAfter: filter.createdAfter ?? undefined,
      createdBefore: filter.createdBefore ?? undefined,
      delivered: filter.delivered ?? undefined,
      beforeId,
      limit: limit + 1,
    });
    return { items: rows.slice(0, limit), hasNextPage: rows.length > limit };
  }

  /** The version ids the application and version filters allow; undefined when neither is set. */
  private async versionIds(application?: string | null, versionName?: string | null): Promise<string[] | undefined> {
    let ids: string[] | undefined;
    if (application != null) {
      const app = await registry.findApplicationByName(this.db, application);
      if (!app) throw notFound(`No application named "${application}".`);
      ids = (await registry.listVersionsOfApplications(this.db, [app.id])).map((v) => v.id);
    }
    if (versionName != null) {
      const version = await registry.findVersionByName(this.db, versionName);
      if (!version) throw notFound(`No application version named "${versionName}".`);
      ids = ids === undefined || ids.includes(version.id) ? [version.id] : [];
    }
    return ids;
  }
}

/** A metadata filter: a JSON object of at most MAX_METADATA_FILTER_KEYS keys (none: no filter). */
function checkMetadataFilter(value: unknown): Metadata | undefined {
  const filter = checkMetadata(value, '"metadata"', { allowEmpty: true });
  const keys = Object.keys(filter).length;
  if (keys > MAX_METADATA_FILTER_KEYS) {
    throw badInput(`"metadata" may name at most ${MAX_METADATA_FILTER_KEYS} keys.`, { field: 'metadata' });
  }
  return keys === 0 ? undefined : filter;
}

function pageSize(first: number | null | undefined): number {
  const n = first ?? 50;
  if (!Number.isInteger(n) || n < 0 || n > MAX_PAGE_SIZE) {
    throw badInput(`"first" must be from 0 to ${MAX_PAGE_SIZE}.`, { field: 'first' });
  }
  return n;
}

// Endpoint cursors name the last endpoint's sort key: its name (null sorts last) and id.
export function encodeEndpointCursor(endpoint: Endpoint): string {
  return Buffer.from(JSON.stringify(['endpoint', endpoint.name, endpoint.id])).toString('base64url');
}

function decodeEndpointCursor(cursor: string): { name: string | null; id: string } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    parsed = undefined;
  }
  if (
    Array.isArray(parsed) &&
    parsed.length === 3 &&
    parsed[0] === 'endpoint' &&
    (parsed[1] === null || typeof parsed[1] === 'string') &&
    typeof parsed[2] === 'string' &&
    isUuid(parsed[2])
  ) {
    return { name: parsed[1] as string | null, id: parsed[2] };
  }
  throw badInput(`"after" is not a cursor this API gave out: "${cursor}".`, { field: 'after' });
}
