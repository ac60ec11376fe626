// The cost of a GraphQL request: every object it can return counts 1 (scalars are free), so a
// list multiplies what it selects by its size: `first`/`last` where the field takes one (a
// connection's size applies to its `edges`), an assumed size where it does not. A batch costs
// the sum of its operations. Refused before any resolver runs (README, "Security").
import {
  GraphQLError,
  Kind,
  getNamedType,
  getNullableType,
  isCompositeType,
  isListType,
  parse,
  type DocumentNode,
  type FieldNode,
  type ValueNode,
  type FragmentDefinitionNode,
  type GraphQLCompositeType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import type { Plugin } from 'graphql-yoga';

export interface CostOptions {
  maxCost: number;
  /** Items assumed for a list field without `first`/`last` (e.g. an application's versions). */
  assumedListSize: number;
  /** The parser's token limit, for the operations of a batch parsed here. */
  maxTokens: number;
}

const SIZE_ARGUMENTS = ['first', 'last'];

/** The cost of the operation `operationName` (or the only one) of `document`. */
export function operationCost(
  schema: GraphQLSchema,
  document: DocumentNode,
  operationName: string | null | undefined,
  variables: Record<string, unknown> | null | undefined,
  assumedListSize: number,
): number {
  const fragments = new Map<string, FragmentDefinitionNode>();
  const operations: OperationDefinitionNode[] = [];
  for (const d of document.definitions) {
    if (d.kind === Kind.FRAGMENT_DEFINITION) fragments.set(d.name.value, d);
    else if (d.kind === Kind.OPERATION_DEFINITION) operations.push(d);
  }
  const operation = operationName ? operations.find((o) => o.name?.value === operationName) : operations[0];
  const root = operation && schema.getRootType(operation.operation);
  if (!operation || !root) return 0;

  const vars = variables ?? {};
  const sizeOf = (node: FieldNode, defaults: Map<string, unknown>) => {
    for (const name of SIZE_ARGUMENTS) {
      const arg = node.arguments?.find((a) => a.name.value === name);
      const value = arg ? literal(arg.value, vars) : defaults.get(name);
      if (typeof value === 'number' && Number.isFinite(value)) return Math.max(0, value);
    }
    return undefined;
  };

  const costOf = (type: GraphQLCompositeType, selectionSet: SelectionSetNode, pageSize: number | undefined, inFragments: Set<string>): number => {
    let total = 0;
    for (const selection of selectionSet.selections) {
      if (selection.kind === Kind.FIELD) {
        if (selection.name.value.startsWith('__')) continue; // introspection is bounded by the schema
        const field = 'getFields' in type ? type.getFields()[selection.name.value] : undefined;
        if (!field) continue; // validation reports it
        const defaults = new Map(field.args.filter((a) => SIZE_ARGUMENTS.includes(a.name)).map((a) => [a.name, a.defaultValue]));
        const size = sizeOf(selection, defaults);
        const named = getNamedType(field.type);
        if (!selection.selectionSet || !isCompositeType(named)) continue;
        if (isListType(getNullableType(field.type))) {
          const items = size ?? pageSize ?? assumedListSize;
          total += items * (1 + costOf(named, selection.selectionSet, undefined, inFragments));
        } else {
          total += 1 + costOf(named, selection.selectionSet, size, inFragments);
        }
      } else {
        let fragmentSet: SelectionSetNode | undefined;
        let typeName: string | undefined;
        let seen = inFragments;
        if (selection.kind === Kind.INLINE_FRAGMENT) {
          fragmentSet = selection.selectionSet;
          typeName = selection.typeCondition?.name.value;
        } else {
          const name = selection.name.value;
          const fragment = fragments.get(name);
          if (!fragment || inFragments.has(name)) continue; // a cycle: validation refuses it
          fragmentSet = fragment.selectionSet;
          typeName = fragment.typeCondition.name.value;
          seen = new Set(inFragments).add(name);
        }
        const condition = typeName ? schema.getType(typeName) : type;
        if (condition && isCompositeType(condition)) total += costOf(condition, fragmentSet, pageSize, seen);
      }
    }
    return total;
  };
  return costOf(root, operation.selectionSet, undefined, new Set());
}

/** An Int literal or variable, without type checks (validation does those). */
function literal(value: ValueNode, vars: Record<string, unknown>): unknown {
  if (value.kind === Kind.INT) return Number(value.value);
  if (value.kind === Kind.VARIABLE) return vars[value.name.value];
  return undefined;
}

export function costError(cost: number, maxCost: number, batch: boolean): GraphQLError {
  const what = batch ? 'This batch of operations' : 'This operation';
  return new GraphQLError(
    `${what} could return too much: its cost is ${Math.round(cost)}, the limit is ${maxCost}. ` +
      'Ask for smaller pages (first/last) or fewer nested lists, or split the request.',
    { extensions: { code: 'COST_LIMIT_EXCEEDED', cost: Math.round(cost), maxCost, http: { status: 400 } } },
  );
}

interface GraphQLParams {
  query?: string;
  operationName?: string | null;
  variables?: Record<string, unknown> | null;
}

/**
 * Checks each operation in validation (every transport), and a batch's total as soon as its
 * body is parsed: the whole batch is refused before any of it runs.
 */
export function costLimit(options: CostOptions): Plugin {
  let schemaOf: GraphQLSchema | undefined;
  return {
    onSchemaChange({ schema }) {
      schemaOf = schema;
    },
    onRequestParse() {
      return {
        onRequestParseDone({ requestParserResult }) {
          if (!Array.isArray(requestParserResult) || requestParserResult.length < 2 || !schemaOf) return;
          let total = 0;
          for (const params of requestParserResult as GraphQLParams[]) {
            let document: DocumentNode;
            try {
              document = parse(params.query ?? '', { maxTokens: options.maxTokens });
            } catch {
              continue; // its own parse fails with the reason
            }
            total += operationCost(schemaOf, document, params.operationName, params.variables, options.assumedListSize);
          }
          if (total > options.maxCost) throw costError(total, options.maxCost, true);
        },
      };
    },
    onValidate({ params, context }) {
      // After the other rules: a document they refuse keeps their reason.
      return ({ valid, setResult }) => {
        if (!valid) return;
        const request = (context as { params?: GraphQLParams }).params;
        const cost = operationCost(params.schema, params.documentAST, request?.operationName, request?.variables, options.assumedListSize);
        if (cost > options.maxCost) setResult([costError(cost, options.maxCost, false)]);
      };
    },
  };
}
