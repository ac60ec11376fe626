import { parse } from 'graphql';
import { describe, expect, it } from 'vitest';
import { operationCost } from '../../src/graphql/cost.ts';
import { schema } from '../../src/graphql/schema.ts';

const cost = (query: string, variables: Record<string, unknown> = {}, operationName?: string) =>
  operationCost(schema, parse(query), operationName, variables, 5);

describe('operation cost', () => {
  it('counts objects, not scalars', () => {
    expect(cost('{ viewer { role name } }')).toBe(1);
    expect(cost('{ __typename }')).toBe(0);
  });

  it("multiplies a connection's edges by first, from a literal, a variable or the default", () => {
    const page = (first: string) => `query($n: Int) { commandHistory(endpointId: "e", ${first}) { edges { node { id } } pageInfo { hasNextPage } } }`;
    // 1 (connection) + n × (edge + node) + pageInfo
    expect(cost(page('first: 100'))).toBe(1 + 100 * 2 + 1);
    expect(cost(page('first: $n'), { n: 7 })).toBe(1 + 7 * 2 + 1);
    expect(cost('{ commandHistory(endpointId: "e") { edges { node { id } } } }')).toBe(1 + 20 * 2);
  });

  it('multiplies nested lists, assuming 5 items where a list takes no size', () => {
    expect(cost('{ applications { versions { name } } }')).toBe(5 * (1 + 5));
    expect(cost('{ endpoint(id: "e") { telemetry(last: 1000) { time } } }')).toBe(1 + 1000);
  });

  it('follows fragments and inline fragments, and survives a fragment cycle', () => {
    expect(cost('{ applications { ...A } } fragment A on Application { versions { ... on ApplicationVersion { application { id } } } }')).toBe(
      5 * (1 + 5 * (1 + 1)),
    );
    expect(cost('{ applications { ...A } } fragment A on Application { ...B } fragment B on Application { ...A versions { id } }')).toBe(5 * (1 + 5));
  });

  it('costs the named operation only; introspection is free', () => {
    const doc = 'query A { applications { id } } query B { viewer { role } }';
    expect(cost(doc, {}, 'A')).toBe(5);
    expect(cost(doc, {}, 'B')).toBe(1);
    expect(cost('{ __schema { types { fields { type { name } } } } }')).toBe(0);
  });
});
