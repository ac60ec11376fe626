// Merges a queried page of commands with live status changes (batched), newest first.
import { useMemo, useState } from 'react';
import { CommandChanged, type CommandRow } from '../queries.ts';
import { useLiveBatches } from '../live.ts';

export interface CommandFilterState {
  types: string[];
  statuses: string[];
  endpointId?: string;
  application?: string;
  /** Only PENDING commands that were (true) or were not yet (false) delivered. */
  delivered?: boolean | null;
}

function matches(row: CommandRow, filter: CommandFilterState): boolean {
  if (filter.types.length > 0 && !filter.types.includes(row.commandType)) return false;
  if (filter.statuses.length > 0 && !filter.statuses.includes(row.status)) return false;
  if (filter.endpointId && row.endpoint.id !== filter.endpointId) return false;
  if (filter.application && row.endpoint.applicationVersion?.application.name !== filter.application) return false;
  if (filter.delivered != null && (row.status !== 'PENDING' || (row.deliveredAt !== null) !== filter.delivered)) return false;
  return true;
}

const newer = (a: CommandRow, b: CommandRow) => (Date.parse(a.updatedAt) >= Date.parse(b.updatedAt) ? a : b);

/**
 * `rows` from the query, updated in place by live events; on the first page, new matching commands
 * are added on top. Events arrive in batches, so a burst of changes costs one render.
 */
export function useLiveCommands(rows: readonly CommandRow[] | undefined, filter: CommandFilterState, firstPage: boolean) {
  const [live, setLive] = useState<Map<string, CommandRow>>(() => new Map());
  useLiveBatches(CommandChanged, { endpointId: filter.endpointId ?? null }, (events) =>
    setLive((previous) => {
      const next = new Map(previous);
      for (const { commandStatusChanged: row } of events) {
        const known = next.get(row.id);
        next.set(row.id, known ? newer(row as CommandRow, known) : (row as CommandRow));
      }
      return next;
    }),
  );
  return useMemo(() => {
    if (!rows) return undefined;
    const byId = new Map(rows.map((r) => [r.id, r]));
    for (const [id, row] of live) {
      const queried = byId.get(id);
      if (queried) byId.set(id, newer(row, queried));
      else if (firstPage && matches(row, filter) && Number(id) > Number(rows[rows.length - 1]?.id ?? 0)) byId.set(id, row);
    }
    return [...byId.values()].filter((r) => matches(r, { ...filter, endpointId: undefined })).sort((a, b) => Number(b.id) - Number(a.id));
  }, [rows, live, firstPage, JSON.stringify(filter)]);
}
