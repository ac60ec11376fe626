// Writes schema.graphql from the code (`npm run schema`); a test fails when the two differ.
import { writeFileSync } from 'node:fs';
import { printSchemaFile } from '../src/graphql/schema.ts';

const file = new URL('../schema.graphql', import.meta.url);
writeFileSync(file, printSchemaFile());
process.stdout.write(`wrote ${file.pathname}\n`);
