import type { Command, Invoker } from '../../domain/types.ts';
import { encodeCursor } from '../../domain/commands.ts';
import { builder } from '../builder.ts';
import { EndpointRef } from './endpoint.ts';

export const CommandStatusEnum = builder.enumType('CommandStatus', {
  description: 'Where a command is in its life.',
  values: {
    PENDING: { description: 'Invoked; waiting for the device to report a result.' },
    EXECUTED: { description: 'The device reported a result (any status code, 2xx or not).' },
    EXPIRED: { description: 'Its retention for delivery ran out before a result arrived.' },
    CANCELED: { description: 'An operator canceled it while PENDING; it is no longer delivered.' },
  } as const,
});

const DoorEnum = builder.enumType('Door', {
  description: 'The API an operator came through.',
  values: {
    GRAPHQL: { description: 'This GraphQL API (and the console).' },
    REST: { description: "The Kaa-style REST API at /cex/api/v1." },
  } as const,
});

export const InvokerRef = builder.objectRef<Invoker>('Invoker').implement({
  description: 'Who did something to a command: an API key, and the door it came through.',
  fields: (t) => ({
    door: t.field({ type: DoorEnum, description: 'GraphQL or the REST API.', resolve: (i) => i.door }),
    apiKeyId: t.exposeString('apiKeyId', { description: 'The API key id ("env:ADMIN_API_KEY" for the configured admin key).' }),
    name: t.exposeString('name', { description: "The API key's name at that time." }),
  }),
});

export const CommandRef = builder.objectRef<Command>('Command');

CommandRef.implement({
  description: 'A command sent to one endpoint, and what became of it.',
  fields: (t) => ({
    id: t.id({
      description: 'The integer id devices see in kp1, as a string ("42").',
      resolve: (c) => String(c.id),
    }),
    endpoint: t.field({
      type: EndpointRef,
      description: 'The endpoint the command is for.',
      resolve: async (c, _args, ctx) => (await ctx.endpointLoader(c.endpointId))!,
    }),
    commandType: t.exposeString('commandType', { description: 'The command type, e.g. "reboot".' }),
    payload: t.expose('payload', {
      type: 'JSON',
      nullable: true,
      description: 'The payload delivered to the device (after the command schema filled it in).',
    }),
    status: t.field({ type: CommandStatusEnum, description: 'Current status.', resolve: (c) => c.status }),
    statusCode: t.exposeInt('statusCode', {
      nullable: true,
      description: 'HTTP-style status code the device reported (e.g. 200, 409).',
    }),
    reasonPhrase: t.exposeString('reasonPhrase', {
      nullable: true,
      description: 'Reason phrase the device reported.',
    }),
    resultPayload: t.expose('resultPayload', {
      type: 'JSON',
      nullable: true,
      description: 'Payload the device reported with its result.',
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was invoked.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When its status last changed.' }),
    expiresAt: t.expose('expiresAt', {
      type: 'DateTime',
      description: 'When its retention for delivery ends; a command still PENDING then becomes EXPIRED.',
    }),
    executedAt: t.expose('executedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the device result was stored (may be after expiresAt: late results still land).',
    }),
    invokedBy: t.field({
      type: InvokerRef,
      nullable: true,
      description: 'Who invoked it; null for commands stored before this was recorded.',
      resolve: (c) => c.invokedBy,
    }),
    canceledAt: t.expose('canceledAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When an operator canceled it; kept when a late result makes it EXECUTED afterwards.',
    }),
    canceledBy: t.field({
      type: InvokerRef,
      nullable: true,
      description: 'Who canceled it.',
      resolve: (c) => c.canceledBy,
    }),
    rerunOf: t.field({
      type: CommandRef,
      nullable: true,
      description: 'The command this one re-runs, if it is a re-run.',
      resolve: (c, _args, ctx) => (c.rerunOf === null ? null : ctx.services.commands.byId(c.rerunOf)),
    }),
  }),
});

export const PageInfoRef = builder.objectRef<{ hasNextPage: boolean; endCursor: string | null }>('PageInfo').implement({
  description: 'Relay pagination state.',
  fields: (t) => ({
    hasNextPage: t.exposeBoolean('hasNextPage', { description: 'Whether more items follow this page.' }),
    endCursor: t.exposeString('endCursor', {
      nullable: true,
      description: 'Pass as `after` to get the next page; null on an empty page.',
    }),
  }),
});

const CommandEdgeRef = builder.objectRef<Command>('CommandEdge').implement({
  description: 'A command in a page of history.',
  fields: (t) => ({
    cursor: t.string({ description: 'Opaque position of this command.', resolve: (c) => encodeCursor(c) }),
    node: t.field({ type: CommandRef, description: 'The command.', resolve: (c) => c }),
  }),
});

export const CommandConnectionRef = builder
  .objectRef<{ commands: Command[]; hasNextPage: boolean }>('CommandConnection')
  .implement({
    description: 'A page of commands, newest first.',
    fields: (t) => ({
      edges: t.field({ type: [CommandEdgeRef], description: 'The commands of this page.', resolve: (p) => p.commands }),
      pageInfo: t.field({
        type: PageInfoRef,
        description: 'Whether and where the next page starts.',
        resolve: (p) => {
          const last = p.commands.at(-1);
          return { hasNextPage: p.hasNextPage, endCursor: last ? encodeCursor(last) : null };
        },
      }),
    }),
  });

export const DELIVERED_FILTER =
  'Only PENDING commands that the device provably received (true) or has not yet (false); see Command.deliveredAt.';

const IDEMPOTENCY_KEY =
  'Optional, 1-255 printable ASCII characters: the same key with the same input within 24 hours returns the first ' +
  'command and creates nothing; with another input it is a CONFLICT. Keys are per API key.';

const InvokeCommandInput = builder.inputType('InvokeCommandInput', {
  description: 'What to send to which endpoint.',
  fields: (t) => ({
    endpointId: t.id({ required: true, description: 'The endpoint to send the command to.' }),
    commandType: t.string({
      required: true,
      description: 'The command type: 1-128 characters from A-Z, a-z, 0-9, "_" and "-".',
    }),
    payload: t.field({ type: 'JSON', description: 'The command body the device receives (any JSON).' }),
    retentionSeconds: t.int({
      description: 'Maximum command retention for delivery, in seconds (default 3600; bounded by the server).',
    }),
    idempotencyKey: t.string({ description: IDEMPOTENCY_KEY }),
  }),
});

builder.queryField('command', (t) =>
  t.field({
    type: CommandRef,
    nullable: true,
    description: 'A command by id, or null.',
    args: { id: t.arg.id({ required: true, description: 'The command id ("42").' }) },
    resolve: (_root, args, ctx) => ctx.services.commands.command(ctx.principal, String(args.id)),
  }),
);

builder.queryField('commandHistory', (t) =>
  t.field({
    type: CommandConnectionRef,
    description: "An endpoint's commands, newest first, optionally filtered by types and statuses.",
    args: {
      endpointId: t.arg.id({ required: true, description: 'The endpoint.' }),
      commandTypes: t.arg.stringList({ description: 'Only these command types.' }),
      statuses: t.arg({ type: [CommandStatusEnum], description: 'Only these statuses.' }),
      delivered: t.arg.boolean({ description: DELIVERED_FILTER }),
      first: t.arg.int({ defaultValue: 20, description: 'Page size, 0 to 100.' }),
      after: t.arg.string({ description: 'The endCursor of the previous page.' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.commands.history(ctx.principal, { ...args, endpointId: String(args.endpointId) }),
  }),
);

builder.mutationField('invokeCommand', (t) =>
  t.field({
    type: CommandRef,
    description: 'Stores a PENDING command and delivers it to the endpoint. Needs OPERATOR.',
    args: { input: t.arg({ type: InvokeCommandInput, required: true, description: 'The command.' }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.commands.invoke(ctx.principal, { ...input, endpointId: String(input.endpointId) }),
  }),
);

builder.mutationField('rerunCommand', (t) =>
  t.field({
    type: CommandRef,
    description: 'Sends a command again: a new command with the same endpoint, type and payload. Needs OPERATOR.',
    args: {
      id: t.arg.id({ required: true, description: 'The command to re-run.' }),
      retentionSeconds: t.arg.int({ description: "Retention for the new command; defaults to the original's." }),
      idempotencyKey: t.arg.string({ description: IDEMPOTENCY_KEY }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.commands.rerun(ctx.principal, String(args.id), {
        retentionSeconds: args.retentionSeconds,
        idempotencyKey: args.idempotencyKey,
      }),
  }),
);

builder.mutationField('cancelCommand', (t) =>
  t.field({
    type: CommandRef,
    description:
      'Cancels a PENDING command: it becomes CANCELED and is no longer delivered. A command that is EXECUTED, ' +
      'EXPIRED or CANCELED already is a CONFLICT. A result the device reports later is still stored. Needs OPERATOR.',
    args: { id: t.arg.id({ required: true, description: 'The command to cancel.' }) },
    resolve: (_root, args, ctx) => ctx.services.commands.cancel(ctx.principal, String(args.id)),
  }),
);

builder.subscriptionField('commandStatusChanged', (t) =>
  t.field({
    type: CommandRef,
    description:
      'Emits a command when it is created (PENDING), EXECUTED, EXPIRED or CANCELED. Filter by endpoint, command, or neither (all); ' +
      'an endpoint or command that does not exist is NOT_FOUND. ' +
      'Events are not replayed: after reconnecting, re-query to catch up.',
    args: {
      endpointId: t.arg.id({ description: 'Only commands of this endpoint.' }),
      commandId: t.arg.id({ description: 'Only this command.' }),
    },
    subscribe: (_root, args, ctx) =>
      ctx.services.subscriptions.commandChanges(ctx.principal, {
        endpointId: args.endpointId == null ? null : String(args.endpointId),
        commandId: args.commandId == null ? null : String(args.commandId),
      }),
    resolve: (command) => command,
  }),
);
