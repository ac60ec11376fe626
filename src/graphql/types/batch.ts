import { encodeBatchCursor } from '../../domain/batches.ts';
import { MAX_BATCH_ENDPOINTS } from '../../domain/batch-targets.ts';
import { BATCH_TARGET_KINDS, SKIP_REASONS, type BatchProgress, type BatchTarget, type CommandBatch, type SkippedEndpoint } from '../../domain/batch-types.ts';
import { MAX_ITEMS } from '../arguments.ts';
import { builder } from '../builder.ts';
import type { GraphQLContext } from '../context.ts';
import { CommandConnectionRef, CommandRef, CommandStatusEnum, InvokerRef, PageInfoRef } from './command.ts';

/** A batch, with its counts when a progress event already read them. */
type BatchSource = CommandBatch & { progress?: Promise<BatchProgress> };

// Counts and status codes come from one aggregate, read once per batch object.
function progressOf(batch: BatchSource, ctx: GraphQLContext): Promise<BatchProgress> {
  batch.progress ??= ctx.services.batches.progressOf(batch);
  return batch.progress;
}

const TargetKindEnum = builder.enumType('CommandBatchTargetKind', {
  description: 'What a bulk invoke addressed.',
  values: {
    ENDPOINTS: { description: 'A list of endpoint ids.' },
    APPLICATION_VERSION: { description: 'Every endpoint of an application version.' },
    APPLICATION: { description: 'Every endpoint of an application, optionally those whose name contains a search text.' },
  } satisfies Record<(typeof BATCH_TARGET_KINDS)[number], unknown>,
});

const SkipReasonEnum = builder.enumType('SkipReason', {
  description: 'Why a targeted endpoint got no command.',
  values: {
    NOT_FOUND: { description: 'No endpoint has this id.' },
    REVOKED: { description: 'The endpoint is revoked.' },
  } satisfies Record<(typeof SKIP_REASONS)[number], unknown>,
});

const TargetRef = builder.objectRef<BatchTarget>('CommandBatchTarget').implement({
  description: 'What a bulk invoke addressed.',
  fields: (t) => ({
    kind: t.field({ type: TargetKindEnum, description: 'Which kind of target.', resolve: (x) => x.kind }),
    applicationVersion: t.string({ nullable: true, description: 'The application version (kind APPLICATION_VERSION).', resolve: (x) => x.applicationVersion ?? null }),
    application: t.string({ nullable: true, description: 'The application (kind APPLICATION).', resolve: (x) => x.application ?? null }),
    search: t.string({ nullable: true, description: 'The name search narrowing an application.', resolve: (x) => x.search ?? null }),
    requested: t.exposeInt('requested', { description: 'Endpoints the target named (distinct ids, or endpoints found), skipped ones included.' }),
  }),
});

const SkippedRef = builder.objectRef<SkippedEndpoint>('SkippedEndpoint').implement({
  description: 'A targeted endpoint that got no command.',
  fields: (t) => ({
    endpointId: t.exposeID('endpointId', { description: 'The endpoint id as given (lower case).' }),
    reason: t.field({ type: SkipReasonEnum, description: 'Why.', resolve: (s) => s.reason }),
  }),
});

const CountsRef = builder.objectRef<BatchProgress['counts']>('CommandBatchCounts').implement({
  description: "A batch's commands by status, counted from the stored commands.",
  fields: (t) => ({
    pending: t.exposeInt('pending', { description: 'Still PENDING.' }),
    executed: t.exposeInt('executed', { description: 'EXECUTED (a result arrived, whatever its status code).' }),
    expired: t.exposeInt('expired', { description: 'EXPIRED before a result arrived.' }),
    canceled: t.exposeInt('canceled', { description: 'CANCELED (and no late result since).' }),
  }),
});

const StatusCodeCountRef = builder.objectRef<{ statusCode: number; count: number }>('StatusCodeCount').implement({
  description: 'How many commands of a batch a device answered with one status code.',
  fields: (t) => ({
    statusCode: t.exposeInt('statusCode', { description: 'The status code devices reported.' }),
    count: t.exposeInt('count', { description: 'How many commands have it.' }),
  }),
});

export const CommandBatchRef = builder.objectRef<BatchSource>('CommandBatch');

CommandBatchRef.implement({
  description: 'One bulk invoke (invokeCommands): a command per targeted endpoint, and how they are doing.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The batch id (a UUID).' }),
    commandType: t.exposeString('commandType', { description: 'The command type of every command of the batch.' }),
    payload: t.expose('payload', {
      type: 'JSON',
      nullable: true,
      description: "The payload as given; each command holds it as composed for its endpoint's application version.",
    }),
    target: t.field({ type: TargetRef, description: 'What the batch addressed.', resolve: (b) => b.target }),
    createdBy: t.field({ type: InvokerRef, description: 'Who invoked it.', resolve: (b) => b.createdBy }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was invoked.' }),
    total: t.exposeInt('total', { description: 'Commands created: one per targeted endpoint that existed and was not revoked.' }),
    skipped: t.field({ type: [SkippedRef], description: 'Targeted endpoints that got no command, with the reason.', resolve: (b) => b.skipped }),
    counts: t.field({ type: CountsRef, description: 'Its commands by status now.', resolve: async (b, _a, ctx) => (await progressOf(b, ctx)).counts }),
    statusCodes: t.field({
      type: [StatusCodeCountRef],
      description: 'Its executed commands by the status code devices reported, lowest code first.',
      resolve: async (b, _a, ctx) => (await progressOf(b, ctx)).statusCodes,
    }),
    done: t.boolean({ description: 'Nothing of it is PENDING any more.', resolve: async (b, _a, ctx) => (await progressOf(b, ctx)).counts.pending === 0 }),
    finishedAt: t.expose('finishedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When its last PENDING command was executed, expired or canceled (set once; a late result does not move it). Null until then.',
    }),
    commands: t.field({
      type: CommandConnectionRef,
      description: 'Its commands, newest first.',
      args: {
        first: t.arg.int({ defaultValue: 20, description: 'Page size, 0 to 100.' }),
        after: t.arg.string({ description: 'The endCursor of the previous page.' }),
        statuses: t.arg({ type: [CommandStatusEnum], description: 'Only these statuses.' }),
      },
      resolve: (b, args, ctx) => ctx.services.batches.commandsOf(b, args.first, args.after, args.statuses),
    }),
  }),
});

const CommandBatchEdgeRef = builder.objectRef<CommandBatch>('CommandBatchEdge').implement({
  description: 'A batch in a page of batches.',
  fields: (t) => ({
    cursor: t.string({ description: 'Opaque position of this batch.', resolve: (b) => encodeBatchCursor(b) }),
    node: t.field({ type: CommandBatchRef, description: 'The batch.', resolve: (b) => b }),
  }),
});

const CommandBatchConnectionRef = builder.objectRef<{ items: CommandBatch[]; hasNextPage: boolean }>('CommandBatchConnection').implement({
  description: 'A page of command batches, newest first.',
  fields: (t) => ({
    edges: t.field({ type: [CommandBatchEdgeRef], description: 'The batches of this page.', resolve: (p) => p.items }),
    pageInfo: t.field({
      type: PageInfoRef,
      description: 'Whether and where the next page starts.',
      resolve: (p) => {
        const last = p.items.at(-1);
        return { hasNextPage: p.hasNextPage, endCursor: last ? encodeBatchCursor(last) : null };
      },
    }),
  }),
});

const TargetInput = builder.inputType('CommandBatchTargetInput', {
  description: 'Exactly one of endpointIds, applicationVersion or application.',
  fields: (t) => ({
    endpointIds: t.idList({
      description: `These endpoints (1 to ${MAX_BATCH_ENDPOINTS.toLocaleString('en')} ids; duplicates count once).`,
      extensions: { [MAX_ITEMS]: MAX_BATCH_ENDPOINTS },
    }),
    applicationVersion: t.string({ description: 'Every endpoint of this application version (by name).' }),
    application: t.string({ description: 'Every endpoint of this application (by name).' }),
    search: t.string({ description: 'With application: only endpoints whose name contains this text, ignoring case.' }),
  }),
});

const InvokeCommandsInput = builder.inputType('InvokeCommandsInput', {
  description: 'What to send to which endpoints.',
  fields: (t) => ({
    target: t.field({ type: TargetInput, required: true, description: `The endpoints (at most ${MAX_BATCH_ENDPOINTS.toLocaleString('en')}).` }),
    commandType: t.string({ required: true, description: 'The command type: 1-128 characters from A-Z, a-z, 0-9, "_" and "-".' }),
    payload: t.field({ type: 'JSON', description: "The command body; composed and validated once per application version's command schema." }),
    retentionSeconds: t.int({ description: 'Maximum command retention for delivery, in seconds (default 3600; bounded by the server).' }),
    idempotencyKey: t.string({
      description:
        'Optional, 1-255 printable ASCII characters: the same key with the same input within 24 hours returns the first batch ' +
        'and creates nothing; with another input it is a CONFLICT. Keys are per API key.',
    }),
  }),
});

builder.objectField(CommandRef, 'batch', (t) =>
  t.field({
    type: CommandBatchRef,
    nullable: true,
    description: 'The bulk invoke that created this command, if any.',
    resolve: (c, _args, ctx) => (c.batchId === null ? null : ctx.services.batches.byId(c.batchId)),
  }),
);

builder.queryField('commandBatch', (t) =>
  t.field({
    type: CommandBatchRef,
    nullable: true,
    description: 'A command batch by id, or null.',
    args: { id: t.arg.id({ required: true, description: 'The batch id.' }) },
    resolve: (_root, args, ctx) => ctx.services.batches.batch(ctx.principal, String(args.id)),
  }),
);

builder.queryField('commandBatches', (t) =>
  t.field({
    type: CommandBatchConnectionRef,
    description: 'Command batches, newest first (keyset-paged).',
    args: {
      first: t.arg.int({ defaultValue: 20, description: 'Page size, 0 to 100.' }),
      after: t.arg.string({ description: 'The endCursor of the previous page.' }),
    },
    resolve: (_root, args, ctx) => ctx.services.batches.list(ctx.principal, args.first, args.after),
  }),
);

builder.mutationField('invokeCommands', (t) =>
  t.field({
    type: CommandBatchRef,
    description:
      'Bulk invoke: one PENDING command per targeted endpoint that exists and is not revoked (the others are listed in ' +
      `skipped), written in one transaction. More than ${MAX_BATCH_ENDPOINTS.toLocaleString('en')} endpoints is BAD_USER_INPUT and writes nothing. Needs OPERATOR.`,
    args: { input: t.arg({ type: InvokeCommandsInput, required: true, description: 'The commands.' }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.batches.invoke(ctx.principal, {
        ...input,
        target: { ...input.target, endpointIds: input.target.endpointIds?.map(String) },
      }),
  }),
);

builder.mutationField('cancelCommandBatch', (t) =>
  t.field({
    type: CommandBatchRef,
    description:
      'Cancels every command of the batch that is still PENDING (as cancelCommand does each); results devices report later are still stored. Needs OPERATOR.',
    args: { id: t.arg.id({ required: true, description: 'The batch to cancel.' }) },
    resolve: (_root, args, ctx) => ctx.services.batches.cancel(ctx.principal, String(args.id)),
  }),
);

builder.subscriptionField('commandBatchProgress', (t) =>
  t.field({
    type: CommandBatchRef,
    description:
      "A batch's counts as its commands change, at most 5 updates a second; the last update has nothing PENDING (done), " +
      'then the subscription ends. The first update is the current state. An unknown batch is NOT_FOUND.',
    args: { id: t.arg.id({ required: true, description: 'The batch.' }) },
    subscribe: (_root, args, ctx) => ctx.services.batches.progress(ctx.principal, String(args.id)),
    resolve: (progress) => ({ ...progress.batch, progress: Promise.resolve(progress) }),
  }),
);
