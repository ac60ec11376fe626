// Writes schema.graphql and graphql-env.d.ts from the code (`npm run schema`); a test fails when
// either differs from what the code prints.
import { writeFileSync } from 'node:fs';
import { SCHEMA_FILE, TYPED_SCHEMA_FILE, printSchemaFile, printTypedSchemaFile } from './schema-files.ts';

const sdl = printSchemaFile();
writeFileSync(SCHEMA_FILE, sdl);
writeFileSync(TYPED_SCHEMA_FILE, printTypedSchemaFile(sdl));
process.stdout.write(`wrote ${SCHEMA_FILE.pathname} and ${TYPED_SCHEMA_FILE.pathname}\n`);
