// Helpers shared by the commands-*.test.ts files.
import { expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { commandById, commandHistory, type Command, type HistoryFilter } from './api.ts';
import { waitFor, type GqlResponse } from './app.ts';

export const ms = (iso: string | null) => Date.parse(iso!);

/** The one error of a response (fails the test unless there is exactly one). */
export function errorOf(res: GqlResponse<unknown>) {
  expect(res.errors, JSON.stringify(res)).toHaveLength(1);
  return res.errors![0]!;
}

/** The ids of an endpoint's command history, newest first (up to 100). */
export async function historyIds(app: App, endpointId: string, filter: HistoryFilter = {}): Promise<string[]> {
  return (await commandHistory(app, endpointId, { first: 100, ...filter })).edges.map((e) => e.node.id);
}

export async function waitForStatus(app: App, id: string, status: Command['status'], within = 5_000): Promise<Command> {
  return waitFor(
    async () => {
      const c = await commandById(app, id);
      return c.status === status ? c : undefined;
    },
    within,
    () => `command ${id} did not become ${status}`,
  );
}
