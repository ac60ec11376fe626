// One check of every argument of every field, before its resolver runs: strings the database
// cannot store (NUL, lone surrogates) or longer than any field needs, lists longer than any
// field needs, and JSON nested deeper than MAX_JSON_DEPTH. It walks the schema's argument types,
// so an argument added later is checked without anyone remembering to. Fields keep their own,
// tighter rules (names, tokens, page sizes) in the domain.
import {
  type GraphQLArgument,
  type GraphQLFieldResolver,
  type GraphQLInputType,
  type GraphQLSchema,
  defaultFieldResolver,
  isInputObjectType,
  isListType,
  isNonNullType,
  isObjectType,
  isScalarType,
} from 'graphql';
import { badInput } from '../domain/errors.ts';
import { MAX_JSON_DEPTH, jsonProblem, unstorableText } from '../lib/json.ts';

/** Longest string argument (names, search text, cursors, passwords are all far shorter). */
export const MAX_STRING_ARGUMENT_LENGTH = 1024;
/** Most items in a list argument (filters by types or statuses). */
export const MAX_LIST_ARGUMENT_ITEMS = 100;
/**
 * An input field that needs longer lists says so where it is declared, with
 * `extensions: { [MAX_ITEMS]: n }` (a bulk invoke's endpoint ids); every other list keeps the cap.
 */
export const MAX_ITEMS = 'maxItems';

/** Wraps the resolver (or, for subscriptions, the subscribe) of every field with arguments. */
export function withArgumentChecks(schema: GraphQLSchema): GraphQLSchema {
  for (const type of Object.values(schema.getTypeMap())) {
    if (!isObjectType(type) || type.name.startsWith('__')) continue;
    for (const field of Object.values(type.getFields())) {
      if (field.args.length === 0) continue;
      const check = (args: Record<string, unknown>) => checkArguments(field.args, args);
      if (field.subscribe) field.subscribe = checked(field.subscribe, check);
      else field.resolve = checked(field.resolve ?? defaultFieldResolver, check);
    }
  }
  return schema;
}

function checked<S, C>(
  resolver: GraphQLFieldResolver<S, C>,
  check: (args: Record<string, unknown>) => void,
): GraphQLFieldResolver<S, C> {
  return (source, args, context, info) => {
    check(args);
    return resolver(source, args, context, info);
  };
}

/** Throws BAD_USER_INPUT naming the first argument (path and field) that breaks a rule. */
export function checkArguments(definitions: readonly GraphQLArgument[], args: Record<string, unknown>): void {
  for (const arg of definitions) checkValue(arg.type, args[arg.name], arg.name, arg.name);
}

function checkValue(type: GraphQLInputType, value: unknown, path: string, field: string, maxItems = MAX_LIST_ARGUMENT_ITEMS): void {
  if (value === null || value === undefined) return;
  if (isNonNullType(type)) return checkValue(type.ofType, value, path, field, maxItems);
  if (isListType(type)) {
    const items = Array.isArray(value) ? value : [value];
    if (items.length > maxItems) {
      throw badInput(`"${path}" has ${items.length} items; at most ${maxItems} are allowed.`, { field });
    }
    items.forEach((item, i) => checkValue(type.ofType, item, `${path}[${i}]`, field));
    return;
  }
  if (isInputObjectType(type)) {
    for (const [name, inner] of Object.entries(type.getFields())) {
      const maxItems = inner.extensions[MAX_ITEMS];
      checkValue(inner.type, (value as Record<string, unknown>)[name], `${path}.${name}`, name, typeof maxItems === 'number' ? maxItems : undefined);
    }
    return;
  }
  if (!isScalarType(type)) return; // enums: graphql-js checked them
  if (type.name === 'JSON') {
    // Its strings have no length of their own: the payload size limits cover them.
    const problem = jsonProblem(value, MAX_JSON_DEPTH);
    if (problem) {
      const at = problem.path === '' ? '' : ` at ${JSON.stringify(problem.path)}`;
      throw badInput(`"${path}"${at}: ${problem.message}.`, { field });
    }
    return;
  }
  if (typeof value === 'string') checkString(value, path, field);
}

function checkString(value: string, path: string, field: string): void {
  const why = unstorableText(value);
  if (why) throw badInput(`"${path}" ${why}.`, { field });
  if (value.length > MAX_STRING_ARGUMENT_LENGTH) {
    throw badInput(`"${path}" is ${value.length} characters; at most ${MAX_STRING_ARGUMENT_LENGTH} are allowed.`, { field });
  }
}
