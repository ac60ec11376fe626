// GraphQL metrics as a yoga plugin: operations by name and type (queries, mutations and
// subscriptions, over HTTP, SSE and graphql-ws), and the errors of HTTP responses by
// `extensions.code`, counted after masking (the codes clients see).
import { getOperationAST, type DocumentNode, type GraphQLError } from 'graphql';
import { isAsyncIterable, type Plugin } from 'graphql-yoga';
import { Counter } from 'prom-client';
import { CappedLabel, registry } from './registry.ts';

/** Clients name their operations: the first this many names get a series, later ones "other". */
export const OPERATION_NAME_LABELS = 100;
/** Codes are the server's own (README "Errors"); the cap only guards against surprises. */
const ERROR_CODE_LABELS = 40;

const operationNames = new CappedLabel(OPERATION_NAME_LABELS);
const errorCodes = new CappedLabel(ERROR_CODE_LABELS);

const operations = new Counter({
  name: 'cex_graphql_operations_total',
  help: 'GraphQL operations executed, by operation name ("anonymous" without one, "other" past the cap) and type.',
  labelNames: ['operation_name', 'operation_type'],
  registers: [registry],
});
const errors = new Counter({
  name: 'cex_graphql_errors_total',
  help: 'Errors in GraphQL HTTP responses (not inside running subscriptions, not over graphql-ws), by extensions.code.',
  labelNames: ['code'],
  registers: [registry],
});

function countOperation(document: DocumentNode, operationName: string | null | undefined): void {
  const operation = getOperationAST(document, operationName);
  if (!operation) return;
  operations.inc({ operation_name: operationNames.of(operation.name?.value ?? 'anonymous'), operation_type: operation.operation });
}

function countErrors(list: readonly GraphQLError[] | undefined): void {
  for (const error of list ?? []) {
    const code = error.extensions?.['code'];
    errors.inc({ code: errorCodes.of(typeof code === 'string' ? code : 'none') });
  }
}

export function graphqlMetrics(): Plugin {
  return {
    onExecute: ({ args }) => countOperation(args.document, args.operationName),
    onSubscribe: ({ args }) => countOperation(args.document, args.operationName),
    onExecutionResult: ({ result }) => {
      if (result && !isAsyncIterable(result)) countErrors(result.errors);
    },
  };
}
