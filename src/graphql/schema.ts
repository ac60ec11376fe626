// Imports every type file (each registers its types and root fields) and builds the schema.
import { lexicographicSortSchema, printSchema } from 'graphql';
import { withArgumentChecks } from './arguments.ts';
import { builder } from './builder.ts';
import './types/scalars.ts';
import './types/application.ts';
import './types/endpoint.ts';
import './types/command.ts';
import './types/telemetry.ts';
import './types/api-key.ts';
import './types/command-schema.ts';
import './types/viewer.ts';
import './types/fleet.ts';
import './types/batch.ts';
import './types/audit.ts';
import './types/command-events.ts';
import './types/webhook.ts';

export const schema = withArgumentChecks(builder.toSchema({ sortSchema: true }));

/** The text of schema.graphql: sorted, so it diffs cleanly. */
export function printSchemaFile(): string {
  return `${printSchema(lexicographicSortSchema(schema))}\n`;
}
