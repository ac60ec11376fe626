import type { StatusCodeRange, WebhookEventType } from '../../webhooks/outbox.ts';
import { encodeDeliveryCursor, type Webhook, type WebhookDelivery } from '../../webhooks/service.ts';
import { builder } from '../builder.ts';
import { ApplicationVersionRef } from './application.ts';
import { PageInfoRef } from './command.ts';

const WebhookEventTypeEnum = builder.enumType('WebhookEventType', {
  description: 'What a webhook can be told about. The `type` field of each delivery names it (e.g. "command.executed").',
  values: {
    COMMAND_CREATED: { value: 'command.created', description: '"command.created": a command was invoked or re-run (PENDING).' },
    COMMAND_EXECUTED: { value: 'command.executed', description: '"command.executed": a device reported a result (filter with statusCodes).' },
    COMMAND_EXPIRED: { value: 'command.expired', description: '"command.expired": a command expired before a result came.' },
    COMMAND_CANCELED: { value: 'command.canceled', description: '"command.canceled": an operator canceled a PENDING command.' },
    TELEMETRY_RECEIVED: { value: 'telemetry.received', description: '"telemetry.received": a device sent telemetry samples (opt-in: can be many).' },
    BATCH_FINISHED: { value: 'batch.finished', description: '"batch.finished": every command of a bulk invoke is done.' },
  } as const,
});

const StatusCodeRangeRef = builder.objectRef<StatusCodeRange>('StatusCodeRange').implement({
  description: 'Status codes from `from` to `to`, inclusive.',
  fields: (t) => ({
    from: t.exposeInt('from', { description: 'The lowest status code.' }),
    to: t.exposeInt('to', { nullable: true, description: 'The highest status code; null: no upper bound.' }),
  }),
});

const StatusCodeRangeInput = builder.inputType('StatusCodeRangeInput', {
  description: 'Status codes from `from` to `to` (inclusive); without `to`, every code from `from` up (e.g. `{from: 400}`).',
  fields: (t) => ({
    from: t.int({ required: true, description: 'The lowest status code.' }),
    to: t.int({ description: 'The highest status code; omit for no upper bound.' }),
  }),
});

const DeliveryStatusEnum = builder.enumType('WebhookDeliveryStatus', {
  description: 'How one delivery attempt ended.',
  values: {
    SUCCEEDED: { description: 'The receiver answered 2xx.' },
    RETRYING: { description: 'It failed (5xx, 408, 429, timeout, connection error); another attempt is scheduled.' },
    FAILED: { description: 'It failed for good: a 4xx other than 408/429, or retries ran out.' },
  } as const,
});

const WebhookDeliveryRef = builder.objectRef<WebhookDelivery>('WebhookDelivery').implement({
  description: 'One attempt to deliver one event to a webhook.',
  fields: (t) => ({
    id: t.id({ description: 'The attempt id.', resolve: (d) => String(d.id) }),
    eventId: t.exposeString('eventId', { description: 'The event (its webhook-id header, "msg_…"); the same on every attempt. For redeliverWebhookEvent.' }),
    eventType: t.exposeString('eventType', { description: 'The event type, e.g. "command.executed" or "webhook.ping".' }),
    attempt: t.exposeInt('attempt', { description: 'Which attempt at this event this was: 1, 2, …' }),
    status: t.field({ type: DeliveryStatusEnum, description: 'How the attempt ended.', resolve: (d) => d.outcome }),
    responseCode: t.exposeInt('responseStatus', { nullable: true, description: "The receiver's HTTP status; null when none came." }),
    error: t.exposeString('error', { nullable: true, description: 'What went wrong, when it did.' }),
    durationMs: t.exposeInt('durationMs', { description: 'How long the attempt took, in milliseconds.' }),
    attemptedAt: t.expose('attemptedAt', { type: 'DateTime', description: 'When the attempt began.' }),
    nextAttemptAt: t.expose('nextAttemptAt', { type: 'DateTime', nullable: true, description: 'When the event is tried again (RETRYING only).' }),
  }),
});

const WebhookDeliveryEdgeRef = builder.objectRef<WebhookDelivery>('WebhookDeliveryEdge').implement({
  description: 'An attempt in a page of deliveries.',
  fields: (t) => ({
    cursor: t.string({ description: 'Opaque position of this attempt.', resolve: (d) => encodeDeliveryCursor(d) }),
    node: t.field({ type: WebhookDeliveryRef, description: 'The attempt.', resolve: (d) => d }),
  }),
});

const WebhookDeliveryConnectionRef = builder
  .objectRef<{ items: WebhookDelivery[]; hasNextPage: boolean }>('WebhookDeliveryConnection')
  .implement({
    description: 'A page of delivery attempts, newest first.',
    fields: (t) => ({
      edges: t.field({ type: [WebhookDeliveryEdgeRef], description: 'The attempts of this page.', resolve: (p) => p.items }),
      pageInfo: t.field({
        type: PageInfoRef,
        description: 'Whether and where the next page starts.',
        resolve: (p) => {
          const last = p.items.at(-1);
          return { hasNextPage: p.hasNextPage, endCursor: last ? encodeDeliveryCursor(last) : null };
        },
      }),
    }),
  });

const WebhookRef = builder.objectRef<Webhook>('Webhook').implement({
  description: 'An HTTPS endpoint told about events by signed POSTs (Standard Webhooks). Never shows its secret.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The webhook id.' }),
    url: t.exposeString('url', { description: 'Where events are POSTed.' }),
    events: t.field({ type: [WebhookEventTypeEnum], description: 'The events it receives.', resolve: (w) => w.events }),
    applicationVersion: t.field({
      type: ApplicationVersionRef,
      nullable: true,
      description: 'Only events of endpoints of this version; null: every endpoint.',
      resolve: async (w, _args, ctx) => (w.applicationVersionId ? ((await ctx.versionLoader(w.applicationVersionId)) ?? null) : null),
    }),
    statusCodes: t.field({
      type: [StatusCodeRangeRef],
      nullable: true,
      description: 'command.executed events only with these status codes; null: every code.',
      resolve: (w) => w.statusCodes,
    }),
    description: t.exposeString('description', { description: 'What it is for.' }),
    enabled: t.boolean({ description: 'Whether events are delivered; false when disabled by an operator or after 24 h of failures.', resolve: (w) => w.disabledAt === null }),
    disabledAt: t.expose('disabledAt', { type: 'DateTime', nullable: true, description: 'When it was disabled.' }),
    disabledReason: t.exposeString('disabledReason', { nullable: true, description: 'Why it was disabled.' }),
    failingSince: t.expose('failingSince', { type: 'DateTime', nullable: true, description: 'First failed attempt since the last success; null while deliveries succeed.' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When it was created.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When it was last changed.' }),
    deliveries: t.field({
      type: WebhookDeliveryConnectionRef,
      description: 'Delivery attempts, newest first (each retry is one). Needs ADMIN.',
      args: {
        first: t.arg.int({ description: 'Page size, 0–100 (default 20).' }),
        after: t.arg.string({ description: 'endCursor of the previous page.' }),
      },
      resolve: (w, args, ctx) => ctx.services.webhooks.deliveries(ctx.principal, w.id, args.first ?? 20, args.after),
    }),
  }),
});

const WebhookSecretPayload = builder.objectRef<{ webhook: Webhook; secret: string }>('WebhookSecretPayload').implement({
  description: 'A webhook and its signing secret.',
  fields: (t) => ({
    webhook: t.field({ type: WebhookRef, description: 'The webhook.', resolve: (p) => p.webhook }),
    secret: t.exposeString('secret', {
      description: 'The Standard Webhooks signing secret ("whsec_…") to verify deliveries with. Shown only here, once.',
    }),
  }),
});

const CreateWebhookInput = builder.inputType('CreateWebhookInput', {
  description: 'A new webhook.',
  fields: (t) => ({
    url: t.string({ required: true, description: 'http(s) URL to POST events to; private addresses are refused unless WEBHOOK_ALLOW_PRIVATE_TARGETS=true.' }),
    events: t.field({ type: [WebhookEventTypeEnum], required: true, description: 'The events to receive (at least one).' }),
    applicationVersion: t.string({ description: 'Only events of endpoints of this application version (by name).' }),
    statusCodes: t.field({ type: [StatusCodeRangeInput], description: 'command.executed events only with these status codes, e.g. [{from: 400}].' }),
    description: t.string({ required: true, description: 'What it is for (may be empty).' }),
  }),
});

const UpdateWebhookInput = builder.inputType('UpdateWebhookInput', {
  description: 'Changes to a webhook; omitted fields stay as they are.',
  fields: (t) => ({
    url: t.string({ description: 'New URL (checked like createWebhook).' }),
    events: t.field({ type: [WebhookEventTypeEnum], description: 'New events.' }),
    applicationVersion: t.string({ description: 'New version filter; null removes it.' }),
    statusCodes: t.field({ type: [StatusCodeRangeInput], description: 'New status code filter; null or [] removes it.' }),
    description: t.string({ description: 'New description.' }),
    enabled: t.boolean({ description: 'false stops deliveries: no events are queued while disabled; true resumes what was queued before, oldest first.' }),
  }),
});

type EventTypes = readonly WebhookEventType[];

builder.queryField('webhooks', (t) =>
  t.field({
    type: [WebhookRef],
    description: 'Every webhook, newest first. Needs ADMIN.',
    resolve: (_root, _args, ctx) => ctx.services.webhooks.list(ctx.principal),
  }),
);

builder.mutationField('createWebhook', (t) =>
  t.field({
    type: WebhookSecretPayload,
    description: 'Creates a webhook and returns its signing secret, once. Needs ADMIN.',
    args: { input: t.arg({ type: CreateWebhookInput, required: true, description: 'The webhook.' }) },
    resolve: (_root, { input }, ctx) =>
      ctx.services.webhooks.create(ctx.principal, {
        ...input,
        events: [...(input.events as EventTypes)],
        statusCodes: input.statusCodes?.map((r) => ({ from: r.from, to: r.to ?? null })),
      }),
  }),
);

builder.mutationField('updateWebhook', (t) =>
  t.field({
    type: WebhookRef,
    description: 'Changes a webhook. Needs ADMIN.',
    args: {
      id: t.arg.id({ required: true, description: 'The webhook id.' }),
      input: t.arg({ type: UpdateWebhookInput, required: true, description: 'What to change.' }),
    },
    resolve: (_root, { id, input }, ctx) =>
      ctx.services.webhooks.update(ctx.principal, String(id), {
        url: input.url ?? undefined,
        events: input.events ? [...(input.events as EventTypes)] : undefined,
        description: input.description ?? undefined,
        enabled: input.enabled,
        applicationVersion: input.applicationVersion,
        statusCodes: input.statusCodes === undefined ? undefined : (input.statusCodes?.map((r) => ({ from: r.from, to: r.to ?? null })) ?? null),
      }),
  }),
);

builder.mutationField('deleteWebhook', (t) =>
  t.boolean({
    description: 'Deletes a webhook with its queued events and delivery history. Needs ADMIN.',
    args: { id: t.arg.id({ required: true, description: 'The webhook id.' }) },
    resolve: (_root, args, ctx) => ctx.services.webhooks.delete(ctx.principal, String(args.id)),
  }),
);

builder.mutationField('rotateWebhookSecret', (t) =>
  t.field({
    type: WebhookSecretPayload,
    description: 'Replaces the signing secret; the next attempt is signed with the new one. Shown once. Needs ADMIN.',
    args: { id: t.arg.id({ required: true, description: 'The webhook id.' }) },
    resolve: (_root, args, ctx) => ctx.services.webhooks.rotateSecret(ctx.principal, String(args.id)),
  }),
);

builder.mutationField('testWebhook', (t) =>
  t.field({
    type: WebhookDeliveryRef,
    description: 'Sends a "webhook.ping" event through the outbox (even to a disabled webhook) and returns its first attempt. Needs ADMIN.',
    args: { id: t.arg.id({ required: true, description: 'The webhook id.' }) },
    resolve: (_root, args, ctx) => ctx.services.webhooks.test(ctx.principal, String(args.id)),
  }),
);

builder.mutationField('redeliverWebhookEvent', (t) =>
  t.boolean({
    description: 'Sends an event again (same webhook-id), with a fresh 24 h of retries. Needs ADMIN.',
    args: {
      webhookId: t.arg.id({ required: true, description: 'The webhook id.' }),
      eventId: t.arg.string({ required: true, description: 'WebhookDelivery.eventId ("msg_…").' }),
    },
    resolve: (_root, args, ctx) => ctx.services.webhooks.redeliver(ctx.principal, String(args.webhookId), args.eventId),
  }),
);
