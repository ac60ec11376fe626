// Bulk invoke helpers: the batch documents, a fleet of endpoints made fast, and the stored counts.
import type { App } from '../../src/app.ts';
import { graphql, type VariablesOf } from '../../src/graphql/typed.ts';
import { ADMIN_PRINCIPAL, gqlData, unique } from './app.ts';
import { createApplication, createApplicationVersion, type Fixture } from './api.ts';
import { rawQuery } from './db.ts';

export const BatchFields = graphql(`
  fragment BatchFields on CommandBatch @_unmask {
    id
    commandType
    payload
    target { kind applicationVersion application search requested }
    createdBy { door apiKeyId name }
    createdAt
    total
    skipped { endpointId reason }
    counts { pending executed expired canceled }
    statusCodes { statusCode count }
    done
  }
`);

export const InvokeCommands = graphql(
  `mutation InvokeCommands($input: InvokeCommandsInput!) { invokeCommands(input: $input) { ...BatchFields } }`,
  [BatchFields],
);
export const CommandBatch = graphql(
  `query CommandBatch($id: ID!, $first: Int, $after: String, $statuses: [CommandStatus!]) {
    commandBatch(id: $id) {
      ...BatchFields
      commands(first: $first, after: $after, statuses: $statuses) {
        edges { node { id status endpoint { id } payload canceledAt batch { id } } }
        pageInfo { hasNextPage endCursor }
      }
    }
  }`,
  [BatchFields],
);
export const CommandBatches = graphql(
  `query CommandBatches($first: Int, $after: String) {
    commandBatches(first: $first, after: $after) { edges { cursor node { id createdAt } } pageInfo { hasNextPage endCursor } }
  }`,
);
export const CancelCommandBatch = graphql(
  `mutation CancelCommandBatch($id: ID!) { cancelCommandBatch(id: $id) { ...BatchFields } }`,
  [BatchFields],
);
export const CommandBatchProgress = graphql(
  `subscription CommandBatchProgress($id: ID!) { commandBatchProgress(id: $id) { id total counts { pending executed expired canceled } statusCodes { statusCode count } done } }`,
);

export type InvokeInput = VariablesOf<typeof InvokeCommands>['input'];

export async function invokeCommands(app: App, input: InvokeInput) {
  return (await gqlData(app, InvokeCommands, { input })).invokeCommands;
}

/** `n` endpoints in a fresh application version, created through the registry service. */
export async function createFleet(app: App, n: number, opts: { names?: (i: number) => string } = {}): Promise<Fixture[]> {
  const application = unique('fleet');
  const appVersion = unique('fv');
  await createApplication(app, application);
  await createApplicationVersion(app, application, appVersion);
  const fleet: Fixture[] = [];
  for (let i = 0; i < n; i += 50) {
    const chunk = await Promise.all(
      Array.from({ length: Math.min(50, n - i) }, (_, k) =>
        app.services.registry.createEndpoint(ADMIN_PRINCIPAL, { applicationVersion: appVersion, name: opts.names?.(i + k) ?? `dev-${i + k}` }),
      ),
    );
    fleet.push(...chunk.map(({ endpoint, token }) => ({ application, appVersion, endpointId: endpoint.id, token })));
  }
  return fleet;
}

/** The batch's commands by status, counted in the database. */
export async function storedCounts(batchId: string): Promise<Record<string, number>> {
  const rows = await rawQuery<{ status: string; n: number }>(
    'select status::text as status, count(*)::int as n from commands where batch_id = $1 group by status',
    [batchId],
  );
  const counts: Record<string, number> = { pending: 0, executed: 0, expired: 0, canceled: 0 };
  for (const r of rows) counts[r.status.toLowerCase()] = Number(r.n);
  return counts;
}
