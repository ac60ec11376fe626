// Operation-level guards that run before any resolver: anonymous introspection (can be turned
// off for production) and a rate limit per API key on mutations. Query size and shape limits
// (depth, aliases, tokens, cost) come from graphql-armor in server.ts.
import { BREAK, GraphQLError, Kind, visit, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import type { GraphQLContext } from './context.ts';

export interface GuardOptions {
  allowAnonymousIntrospection: boolean;
  /** Root mutation fields one API key may run per minute (a token bucket: bursts up to this many). */
  mutationsPerMinute: number;
}

export function operationGuards(options: GuardOptions): Plugin<GraphQLContext> {
  const buckets = new Map<string, { tokens: number; at: number }>();
  const capacity = options.mutationsPerMinute;
  const perMs = options.mutationsPerMinute / 60_000;

  const take = (keyId: string, cost: number, now = Date.now()): number => {
    const bucket = buckets.get(keyId) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + (now - bucket.at) * perMs);
    bucket.at = now;
    buckets.set(keyId, bucket);
    if (bucket.tokens < cost) return Math.ceil((cost - bucket.tokens) / perMs / 1000);
    bucket.tokens -= cost;
    return 0;
  };

  return {
    onExecute({ args }) {
      const context = args.contextValue as GraphQLContext;
      const operation = findOperation(args.document, args.operationName ?? undefined);
      if (!operation) return;
      if (!options.allowAnonymousIntrospection && !context.principal && selectsIntrospection(args.document)) {
        throw new GraphQLError('Introspection needs an API key on this server.', {
          extensions: { code: 'UNAUTHENTICATED' },
        });
      }
      if (operation.operation === 'mutation' && context.principal) {
        const retryAfter = take(context.principal.keyId, Math.max(1, operation.selectionSet.selections.length));
        if (retryAfter > 0) {
          throw new GraphQLError(
            `Too many mutations for this API key (limit ${capacity} per minute); retry in ${retryAfter} s.`,
            { extensions: { code: 'RATE_LIMITED', retryAfterSeconds: retryAfter } },
          );
        }
      }
    },
  };
}

function findOperation(document: DocumentNode, name: string | undefined): OperationDefinitionNode | undefined {
  const operations = document.definitions.filter((d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION);
  return name ? operations.find((o) => o.name?.value === name) : operations[0];
}

/** Any __schema or __type field, wherever it is (fragments included). */
function selectsIntrospection(document: DocumentNode): boolean {
  let found = false;
  visit(document, {
    Field(node) {
      if (node.name.value === '__schema' || node.name.value === '__type') {
        found = true;
        return BREAK;
      }
      return undefined;
    },
  });
  return found;
}
