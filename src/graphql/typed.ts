// Typed GraphQL documents for the console and the tests: `graphql(\`query { … }\`)` returns a
// document whose result and variables are TypeScript types derived from schema.graphql (through
// graphql-env.d.ts, printed by `npm run schema`). A field that does not exist is a type error.
// The server does not import this file.
import { initGraphQLTada } from 'gql.tada';
import type { introspection } from '../../graphql-env.d.ts';

export const graphql = initGraphQLTada<{
  introspection: introspection;
  scalars: {
    ID: string;
    DateTime: string;
    JSON: unknown;
  };
}>();

export type { FragmentOf, ResultOf, VariablesOf, TadaDocumentNode } from 'gql.tada';
export { readFragment } from 'gql.tada';
