// The documents of the Batches page (bulk invoke), typed from schema.graphql by gql.tada.
import { graphql, type ResultOf } from '../../src/graphql/typed.ts';
import { CommandRowFields } from './queries.ts';

const BatchSummary = graphql(`
  fragment BatchSummary on CommandBatch @_unmask {
    id commandType payload createdAt total done
    target { kind applicationVersion application search requested }
    createdBy { name door }
    counts { pending executed expired canceled }
    statusCodes { statusCode count }
  }
`);

export const BatchesQuery = graphql(
  `query Batches($first: Int, $after: String) {
    commandBatches(first: $first, after: $after) { edges { node { ...BatchSummary } } pageInfo { hasNextPage endCursor } }
  }`,
  [BatchSummary],
);

export const BatchQuery = graphql(
  `query Batch($id: ID!, $first: Int, $after: String, $statuses: [CommandStatus!]) {
    commandBatch(id: $id) {
      ...BatchSummary
      skipped { endpointId reason }
      commands(first: $first, after: $after, statuses: $statuses) { edges { node { ...CommandRowFields } } pageInfo { hasNextPage endCursor } }
    }
  }`,
  [BatchSummary, CommandRowFields],
);

export const BatchProgress = graphql(
  `subscription BatchProgress($id: ID!) { commandBatchProgress(id: $id) { ...BatchSummary } }`,
  [BatchSummary],
);

export const InvokeCommands = graphql(
  `mutation InvokeCommands($input: InvokeCommandsInput!) { invokeCommands(input: $input) { ...BatchSummary skipped { endpointId reason } } }`,
  [BatchSummary],
);

export const CancelCommandBatch = graphql(
  `mutation CancelCommandBatch($id: ID!) { cancelCommandBatch(id: $id) { ...BatchSummary } }`,
  [BatchSummary],
);

export type BatchRow = ResultOf<typeof BatchSummary>;
