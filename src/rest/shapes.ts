// The JSON this door answers with. Kaa's published pages give the invoke call's bodies only
// (docs/kaa-rest.md); the command resource reuses Kaa's field names (12/CIP: endpointId,
// commandType, commandId, statusCode, reasonPhrase, payload) and our lifecycle's, and lists are
// Spring Data pages without the totals (docs/kaa-rest.md, "Shapes").
import type { Command } from '../domain/types.ts';

export const API_PREFIX = '/cex/api/v1';

export interface CommandJson {
  id: string;
  endpointId: string;
  commandType: string;
  payload: unknown;
  status: Command['status'];
  statusCode: number | null;
  reasonPhrase: string | null;
  resultPayload: unknown;
  createdAt: string;
  updatedAt: string;
  expiresAt: string;
  executedAt: string | null;
  canceledAt: string | null;
}

export function commandJson(c: Command): CommandJson {
  return {
    id: String(c.id),
    endpointId: c.endpointId,
    commandType: c.commandType,
    payload: c.payload ?? null,
    status: c.status,
    statusCode: c.statusCode,
    reasonPhrase: c.reasonPhrase,
    resultPayload: c.resultPayload ?? null,
    createdAt: c.createdAt.toISOString(),
    updatedAt: c.updatedAt.toISOString(),
    expiresAt: c.expiresAt.toISOString(),
    executedAt: c.executedAt?.toISOString() ?? null,
    canceledAt: c.canceledAt?.toISOString() ?? null,
  };
}

/** The command resource's path (the `Location` of an invoke). */
export function commandLocation(c: Pick<Command, 'id' | 'endpointId' | 'commandType'>): string {
  return `${API_PREFIX}/endpoints/${c.endpointId}/commands/${c.commandType}/${c.id}`;
}

export interface PageJson {
  content: CommandJson[];
  /** The page's number, from 0. */
  number: number;
  size: number;
  numberOfElements: number;
  first: boolean;
  last: boolean;
  empty: boolean;
}

export function pageJson(items: Command[], number: number, size: number, hasNext: boolean): PageJson {
  return {
    content: items.map(commandJson),
    number,
    size,
    numberOfElements: items.length,
    first: number === 0,
    last: !hasNext,
    empty: items.length === 0,
  };
}
