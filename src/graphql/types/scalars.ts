import { GraphQLError, Kind, valueFromASTUntyped } from 'graphql';
import { parseDateTime } from '../../lib/iso-8601.ts';
import { isStorableInstant } from '../../lib/storable-time.ts';
import { builder } from '../builder.ts';

builder.scalarType('JSON', {
  description: 'Any JSON value: object, array, string, number, boolean or null.',
  serialize: (value) => value,
  parseValue: (value) => value,
  // Inline literals come back as null-prototype objects; the rest of the code expects plain JSON.
  parseLiteral: (ast, variables) => plainJson(valueFromASTUntyped(ast, variables)),
});

function plainJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(plainJson);
  if (value !== null && typeof value === 'object') {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, plainJson(v)]));
  }
  return value;
}

function parseDate(value: unknown): Date {
  // RFC 3339's strict syntax; impossible days and 24:00 roll over, as `new Date(value)` did here.
  const date = typeof value === 'string' ? parseDateTime(value, { variants: false, rollOver: true }) : undefined;
  if (!date) {
    throw new GraphQLError(`DateTime must be an ISO-8601 string with a time zone, got ${JSON.stringify(value)}.`, {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  // Years the database cannot compare against (0000, -000001).
  if (!isStorableInstant(date)) {
    throw new GraphQLError(`DateTime must be from 0001-01-01 to 9999-12-31, got ${JSON.stringify(value)}.`, {
      extensions: { code: 'BAD_USER_INPUT' },
    });
  }
  return date;
}

builder.scalarType('DateTime', {
  description: 'An instant as an ISO-8601 string in UTC, e.g. "2026-01-31T12:00:00.000Z".',
  serialize: (value) => (value instanceof Date ? value : new Date(value as string)).toISOString(),
  parseValue: parseDate,
  parseLiteral: (ast) => parseDate(ast.kind === Kind.STRING ? ast.value : undefined),
});
