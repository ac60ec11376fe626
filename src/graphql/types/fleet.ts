import type { Endpoint } from '../../domain/types.ts';
import { encodeEndpointCursor } from '../../domain/fleet.ts';
import { builder } from '../builder.ts';
import { CommandConnectionRef, CommandStatusEnum, DELIVERED_FILTER, PageInfoRef } from './command.ts';
import { EndpointRef } from './endpoint.ts';

const EndpointEdgeRef = builder.objectRef<Endpoint>('EndpointEdge').implement({
  description: 'An endpoint in a page of endpoints.',
  fields: (t) => ({
    cursor: t.string({ description: 'Opaque position of this endpoint.', resolve: (e) => encodeEndpointCursor(e) }),
    node: t.field({ type: EndpointRef, description: 'The endpoint.', resolve: (e) => e }),
  }),
});

const EndpointConnectionRef = builder
  .objectRef<{ items: Endpoint[]; hasNextPage: boolean }>('EndpointConnection')
  .implement({
    description: 'A page of endpoints, by name then id.',
    fields: (t) => ({
      edges: t.field({ type: [EndpointEdgeRef], description: 'The endpoints of this page.', resolve: (p) => p.items }),
      pageInfo: t.field({
        type: PageInfoRef,
        description: 'Whether and where the next page starts.',
        resolve: (p) => {
          const last = p.items.at(-1);
          return { hasNextPage: p.hasNextPage, endCursor: last ? encodeEndpointCursor(last) : null };
        },
      }),
    }),
  });

builder.queryField('endpoints', (t) =>
  t.field({
    type: EndpointConnectionRef,
    description: 'Every endpoint, by name then id (keyset-paged). Filters combine with AND.',
    args: {
      application: t.arg.string({ description: 'Only endpoints of this application (by name).' }),
      applicationVersion: t.arg.string({ description: 'Only endpoints of this application version (by name).' }),
      search: t.arg.string({ description: 'Only endpoints whose name contains this text, ignoring case.' }),
      metadata: t.arg({
        type: 'JSON',
        description:
          'Only endpoints whose metadata has each of these top-level keys with exactly this JSON value, e.g. {"model": "X1"} (indexed).',
      }),
      first: t.arg.int({ defaultValue: 50, description: 'Page size, 0 to 100.' }),
      after: t.arg.string({ description: 'The endCursor of the previous page.' }),
    },
    resolve: (_root, args, ctx) => ctx.services.fleet.endpoints(ctx.principal, args),
  }),
);

const CommandFilterInput = builder.inputType('CommandFilter', {
  description: 'Which commands a fleet-wide history shows; the filters combine with AND.',
  fields: (t) => ({
    application: t.string({ description: 'Only commands of endpoints of this application (by name).' }),
    applicationVersion: t.string({ description: 'Only commands of endpoints of this application version (by name).' }),
    endpointId: t.id({ description: 'Only commands of this endpoint.' }),
    commandTypes: t.stringList({ description: 'Only these command types.' }),
    statuses: t.field({ type: [CommandStatusEnum], description: 'Only these statuses.' }),
    createdAfter: t.field({ type: 'DateTime', description: 'Only commands created at or after this instant.' }),
    createdBefore: t.field({ type: 'DateTime', description: 'Only commands created before this instant.' }),
    delivered: t.boolean({ description: DELIVERED_FILTER }),
  }),
});

builder.queryField('commands', (t) =>
  t.field({
    type: CommandConnectionRef,
    description: 'Fleet-wide command history, newest first (keyset-paged by id).',
    args: {
      filter: t.arg({ type: CommandFilterInput, description: 'Which commands; all when omitted.' }),
      first: t.arg.int({ defaultValue: 50, description: 'Page size, 0 to 100.' }),
      after: t.arg.string({ description: 'The endCursor of the previous page.' }),
    },
    resolve: async (_root, args, ctx) => {
      const filter = args.filter ?? {};
      const page = await ctx.services.fleet.commands(
        ctx.principal,
        { ...filter, endpointId: filter.endpointId == null ? null : String(filter.endpointId) },
        args.first,
        args.after,
      );
      return { commands: page.items, hasNextPage: page.hasNextPage };
    },
  }),
);
