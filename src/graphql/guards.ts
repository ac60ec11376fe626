// Operation-level guards that run before any resolver: anonymous introspection (can be turned
// off for production) and a rate limit per API key on mutations. Query size and shape limits
// (depth, aliases, tokens, cost) come from graphql-armor in server.ts.
import { BREAK, GraphQLError, Kind, visit, type DocumentNode, type OperationDefinitionNode } from 'graphql';
import type { Plugin } from 'graphql-yoga';
import { KeyedTokenBuckets } from '../lib/keyed-token-buckets.ts';
import type { GraphQLContext } from './context.ts';

export interface GuardOptions {
  allowAnonymousIntrospection: boolean;
  /** Root mutation fields one API key may run per minute (a token bucket: bursts up to this many). */
  mutationsPerMinute: number;
}

export function operationGuards(options: GuardOptions): Plugin<GraphQLContext> {
  const capacity = options.mutationsPerMinute;
  // Shared by the workers of a node (WORKERS); 100,000 keys bound the memory, not the keys.
  const buckets = new KeyedTokenBuckets(capacity, capacity / 60, 100_000, 'graphql-mutations');

  /** 0 when the key may run `cost` more mutations now, otherwise the seconds to wait. */
  const take = (keyId: string, cost: number): number => Math.ceil(buckets.take(keyId, cost));

  return {
    // Refusals become the operation's result (not a thrown error, which would end a graphql-ws
    // socket with 4500).
    onExecute({ args, setResultAndStopExecution }) {
      const refuse = (message: string, extensions: Record<string, unknown>) =>
        setResultAndStopExecution({ errors: [new GraphQLError(message, { extensions })] });
      const context = args.contextValue as GraphQLContext;
      const operation = findOperation(args.document, args.operationName ?? undefined);
      if (!operation) return;
      if (!options.allowAnonymousIntrospection && !context.principal && selectsIntrospection(args.document)) {
        return refuse('Introspection needs an API key on this server.', { code: 'UNAUTHENTICATED' });
      }
      if (operation.operation === 'mutation' && context.principal) {
        const retryAfter = take(context.principal.keyId, Math.max(1, operation.selectionSet.selections.length));
        if (retryAfter > 0) {
          return refuse(`Too many mutations for this API key (limit ${capacity} per minute); retry in ${retryAfter} s.`, {
            code: 'RATE_LIMITED',
            retryAfterSeconds: retryAfter,
          });
        }
      }
    },
  };
}

/**
 * Removes "Did you mean …?" from validation and variable errors: suggestions name enum values
 * and input fields, which would let anyone map the schema with introspection turned off.
 */
export function hideSuggestions(): Plugin<GraphQLContext> {
  const clean = (errors: readonly Error[]) => errors.map((e) => (e instanceof GraphQLError ? withoutSuggestions(e) : e));
  return {
    onValidate: () => ({ result, setResult }) => {
      if (result.some((e) => SUGGESTION.test(e.message))) setResult(clean(result));
    },
    onExecute: () => ({
      onExecuteDone: ({ result, setResult }) => {
        if (Symbol.asyncIterator in result || !result.errors?.some((e) => SUGGESTION.test(e.message))) return;
        setResult({ ...result, errors: clean(result.errors) });
      },
    }),
  };
}

/** The error without its "Did you mean …?" (yoga's own variable checks reach maskError with it). */
export function withoutSuggestions(e: GraphQLError): GraphQLError {
  if (!SUGGESTION.test(e.message)) return e;
  return new GraphQLError(e.message.replace(SUGGESTIONS, '').trimEnd(), {
    nodes: e.nodes,
    source: e.source,
    positions: e.positions,
    path: e.path,
    originalError: e.originalError,
    extensions: e.extensions,
  });
}

const SUGGESTION = /\s*Did you mean [^?]*\?/;
const SUGGESTIONS = new RegExp(SUGGESTION.source, 'g');

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
