import { AUDIT_ACTIONS, AUDIT_TARGET_TYPES, type AuditRecord, type AuditTarget } from '../../domain/audit.ts';
import { encodeAuditCursor } from '../../domain/audit-log.ts';
import { builder } from '../builder.ts';
import { InvokerRef, PageInfoRef } from './command.ts';

const describe = <K extends string>(values: Record<K, string>) =>
  Object.fromEntries(Object.entries(values).map(([name, description]) => [name, { description }])) as Record<K, { description: string }>;

export const AuditActionEnum = builder.enumType('AuditAction', {
  description: 'What an operator (or the server) did.',
  values: describe(AUDIT_ACTIONS),
});

const AuditTargetTypeEnum = builder.enumType('AuditTargetType', {
  description: 'The kind of thing an audit entry is about.',
  values: describe(AUDIT_TARGET_TYPES),
});

const AuditTargetRef = builder.objectRef<AuditTarget>('AuditTarget').implement({
  description: 'The thing an action was done to.',
  fields: (t) => ({
    type: t.field({ type: AuditTargetTypeEnum, description: 'Its kind.', resolve: (target) => target.type }),
    id: t.exposeID('id', { description: 'Its id (a command id is its integer id, "42").' }),
  }),
});

const AuditEntryRef = builder.objectRef<AuditRecord>('AuditEntry').implement({
  description: 'One operator action, recorded in the transaction that performed it. Entries are never changed or deleted.',
  fields: (t) => ({
    id: t.id({ description: 'The entry id.', resolve: (e) => String(e.id) }),
    at: t.expose('at', { type: 'DateTime', description: 'When the action was done (its transaction began), to the millisecond.' }),
    actor: t.field({
      type: InvokerRef,
      nullable: true,
      description: 'The API key (id and name then) and the door; null when the server itself acted.',
      resolve: (e) => e.actor,
    }),
    action: t.field({ type: AuditActionEnum, description: 'What was done.', resolve: (e) => e.action }),
    target: t.field({ type: AuditTargetRef, description: 'What it was done to.', resolve: (e) => e.target }),
    input: t.expose('input', {
      type: 'JSON',
      description:
        'The relevant input, never secrets, tokens, passwords or key material. A value over 8 KiB of JSON (a payload, ' +
        'a schema, metadata), or one with U+0000 or a lone surrogate, is replaced by ' +
        '{"truncated": true, "bytes": n, "sha256": "<hex of its JSON text>"}.',
    }),
  }),
});

const AuditEntryEdgeRef = builder.objectRef<AuditRecord>('AuditEntryEdge').implement({
  description: 'An entry in a page of the audit trail.',
  fields: (t) => ({
    cursor: t.string({ description: 'Opaque position of this entry.', resolve: (e) => encodeAuditCursor(e) }),
    node: t.field({ type: AuditEntryRef, description: 'The entry.', resolve: (e) => e }),
  }),
});

const AuditEntryConnectionRef = builder
  .objectRef<{ items: AuditRecord[]; hasNextPage: boolean }>('AuditEntryConnection')
  .implement({
    description: 'A page of the audit trail, newest first.',
    fields: (t) => ({
      edges: t.field({ type: [AuditEntryEdgeRef], description: 'The entries of this page.', resolve: (p) => p.items }),
      pageInfo: t.field({
        type: PageInfoRef,
        description: 'Whether and where the next page starts.',
        resolve: (p) => {
          const last = p.items.at(-1);
          return { hasNextPage: p.hasNextPage, endCursor: last ? encodeAuditCursor(last) : null };
        },
      }),
    }),
  });

const AuditTargetInput = builder.inputType('AuditTargetInput', {
  description: 'Entries about one thing, or about every thing of one kind.',
  fields: (t) => ({
    type: t.field({ type: AuditTargetTypeEnum, required: true, description: 'The kind.' }),
    id: t.id({ description: 'Its id; every thing of the kind when omitted.' }),
  }),
});

builder.queryField('auditLog', (t) =>
  t.field({
    type: AuditEntryConnectionRef,
    description: 'The audit trail of operator actions, newest first (keyset-paged). Filters combine with AND. Needs ADMIN.',
    args: {
      actor: t.arg.string({ description: 'Only actions of this API key id ("env:ADMIN_API_KEY" for the configured key).' }),
      action: t.arg({ type: AuditActionEnum, description: 'Only this action.' }),
      target: t.arg({ type: AuditTargetInput, description: 'Only actions on this thing (or kind of thing).' }),
      from: t.arg({ type: 'DateTime', description: 'Only actions at or after this instant.' }),
      to: t.arg({ type: 'DateTime', description: 'Only actions before this instant.' }),
      first: t.arg.int({ defaultValue: 50, description: 'Page size, 0 to 100.' }),
      after: t.arg.string({ description: 'The endCursor of the previous page.' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.audit.list(ctx.principal, {
        ...args,
        target: args.target && { type: args.target.type, id: args.target.id == null ? null : String(args.target.id) },
      }),
  }),
);
