// The two files printed from the code's GraphQL schema, both committed and kept equal to the code
// by test/schema-file.test.ts: schema.graphql (the contract people read) and graphql-env.d.ts (the
// same schema as a TypeScript type, from which gql.tada types every GraphQL document written in
// the console and the tests).
import { buildSchema, introspectionFromSchema } from 'graphql';
import { minifyIntrospection, outputIntrospectionFile } from '@gql.tada/internal';
import { printSchemaFile } from '../src/graphql/schema.ts';

export const SCHEMA_FILE = new URL('../schema.graphql', import.meta.url);
export const TYPED_SCHEMA_FILE = new URL('../graphql-env.d.ts', import.meta.url);

export { printSchemaFile };

export function printTypedSchemaFile(sdl: string = printSchemaFile()): string {
  const introspection = minifyIntrospection(introspectionFromSchema(buildSchema(sdl)));
  return outputIntrospectionFile(introspection, { fileType: '.d.ts', shouldPreprocess: true });
}
