import type { CommandSchemaView, ValidationView } from '../../domain/command-schemas.ts';
import type { FormField } from '../../domain/command-schema.ts';
import type { ValidationIssue } from '../../domain/errors.ts';
import { builder } from '../builder.ts';
import { ApplicationVersionRef } from './application.ts';
import { CommandRef } from './command.ts';

const ValidationErrorRef = builder.objectRef<ValidationIssue>('ValidationError').implement({
  description: 'One violation of a command schema.',
  fields: (t) => ({
    path: t.exposeString('path', { description: 'JSON Pointer to the fault ("" is the whole payload), e.g. "/period_s".' }),
    message: t.exposeString('message', { description: 'What is wrong, for a person.' }),
  }),
});

const FormFieldRef = builder.objectRef<FormField>('CommandFormField');
FormFieldRef.implement({
  description: 'One field of a command form, read from the command schema, so a UI needs no JSON Schema engine.',
  fields: (t) => ({
    name: t.exposeString('name', { description: 'The property name in the payload.' }),
    title: t.exposeString('title', { nullable: true, description: 'Human label (schema `title`).' }),
    description: t.exposeString('description', { nullable: true, description: 'Help text (schema `description`).' }),
    type: t.stringList({
      description: 'JSON types allowed (schema `type`), e.g. ["number"]; empty when the schema does not say.',
      resolve: (f) => (f.type === undefined ? [] : Array.isArray(f.type) ? f.type : [f.type]),
    }),
    allowedValues: t.field({
      type: ['JSON'],
      nullable: true,
      description: 'The only values allowed (schema `enum`), or null.',
      resolve: (f) => f.enum ?? null,
    }),
    allowedValueTitles: t.stringList({
      nullable: true,
      description: 'Labels for allowedValues, when the schema gives them.',
      resolve: (f) => f.enumTitles ?? null,
    }),
    default: t.field({ type: 'JSON', nullable: true, description: 'Filled in when omitted.', resolve: (f) => f.default ?? null }),
    fixed: t.exposeBoolean('fixed', { description: 'True when the schema fixes the value (`const`); the server fills it in.' }),
    value: t.field({ type: 'JSON', nullable: true, description: 'The fixed value, when fixed.', resolve: (f) => f.const ?? null }),
    required: t.exposeBoolean('required', { description: 'Always required.' }),
    requiredWhen: t.stringList({
      description: 'Situations in which the field is required, e.g. "output_mode is blinking".',
      resolve: (f) => (f.requiredWhen ?? []).map((r) => r.text),
    }),
    minimum: t.float({ nullable: true, description: 'Smallest number allowed.', resolve: (f) => f.minimum ?? null }),
    maximum: t.float({ nullable: true, description: 'Largest number allowed.', resolve: (f) => f.maximum ?? null }),
    minLength: t.int({ nullable: true, description: 'Shortest string allowed.', resolve: (f) => f.minLength ?? null }),
    maxLength: t.int({ nullable: true, description: 'Longest string allowed.', resolve: (f) => f.maxLength ?? null }),
    pattern: t.string({ nullable: true, description: 'Regular expression a string must match.', resolve: (f) => f.pattern ?? null }),
    format: t.string({ nullable: true, description: 'String format, e.g. "date-time" or "email".', resolve: (f) => f.format ?? null }),
    fields: t.field({
      type: [FormFieldRef],
      nullable: true,
      description: 'The fields of an object field.',
      resolve: (f) => f.fields ?? null,
    }),
    constraints: t.field({
      type: 'JSON',
      description: 'Everything the schema says about the field, as structured data (includes array `items`).',
      resolve: (f) => f,
    }),
  }),
});

export const CommandSchemaRef = builder.objectRef<CommandSchemaView>('CommandSchema').implement({
  description: 'The JSON Schema (draft 2020-12) every command of one type must satisfy, for one application version.',
  fields: (t) => ({
    commandType: t.exposeString('commandType', { description: 'The command type it governs.' }),
    schema: t.expose('schema', { type: 'JSON', description: 'The JSON Schema.' }),
    version: t.exposeInt('version', { description: 'Increments on every change; commands record the version they were checked against.' }),
    updatedAt: t.expose('updatedAt', { type: 'DateTime', description: 'When this version was stored.' }),
    fields: t.field({
      type: [FormFieldRef],
      description: 'The form fields of the payload, for UIs.',
      resolve: (s, _args, ctx) => ctx.services.schemas.fields(s),
    }),
  }),
});

const CommandValidationRef = builder.objectRef<ValidationView>('CommandValidation').implement({
  description: 'What invoking a command with this payload would do.',
  fields: (t) => ({
    valid: t.exposeBoolean('valid', { description: 'Whether the command would be accepted.' }),
    payload: t.expose('payload', {
      type: 'JSON',
      nullable: true,
      description: 'The composed payload (constants and defaults filled in) that would be stored; null when invalid.',
    }),
    errors: t.field({ type: [ValidationErrorRef], description: 'Every violation; empty when valid.', resolve: (v) => v.errors }),
  }),
});

builder.objectField(ApplicationVersionRef, 'commandSchemas', (t) =>
  t.field({
    type: [CommandSchemaRef],
    description: 'The current command schemas of this version, by command type.',
    resolve: (version, _args, ctx) => ctx.services.schemas.current(version.id),
  }),
);

builder.objectField(ApplicationVersionRef, 'commandSchemaHistory', (t) =>
  t.field({
    type: [CommandSchemaRef],
    description: "Every stored version of one command type's schema, newest first (removals are left out).",
    args: { commandType: t.arg.string({ required: true, description: 'The command type.' }) },
    resolve: (version, args, ctx) => ctx.services.schemas.history(version.id, args.commandType),
  }),
);

builder.objectField(CommandRef, 'schemaVersion', (t) =>
  t.int({
    nullable: true,
    description: 'The version of the command schema the payload was checked against; null when the type had none.',
    resolve: (c) => c.schemaVersion,
  }),
);

builder.queryField('validateCommand', (t) =>
  t.field({
    type: CommandValidationRef,
    description: 'Checks a payload against the command schema without creating anything.',
    args: {
      endpointId: t.arg.id({ required: true, description: 'The endpoint the command would be for.' }),
      commandType: t.arg.string({ required: true, description: 'The command type.' }),
      payload: t.arg({ type: 'JSON', description: 'The payload to check.' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.schemas.validate(ctx.principal, String(args.endpointId), args.commandType, args.payload ?? null),
  }),
);

builder.mutationField('setCommandSchema', (t) =>
  t.field({
    type: CommandSchemaRef,
    description: 'Stores a new version of the command schema of a type. The schema is checked first. Needs OPERATOR.',
    args: {
      applicationVersion: t.arg.string({ required: true, description: 'The application version name.' }),
      commandType: t.arg.string({ required: true, description: 'The command type.' }),
      schema: t.arg({ type: 'JSON', required: true, description: 'A JSON Schema (draft 2020-12) with "type": "object".' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.schemas.set(ctx.principal, args.applicationVersion, args.commandType, args.schema),
  }),
);

builder.mutationField('removeCommandSchema', (t) =>
  t.boolean({
    description: 'Removes the schema of a command type (it then accepts any JSON); false if it had none. Needs OPERATOR.',
    args: {
      applicationVersion: t.arg.string({ required: true, description: 'The application version name.' }),
      commandType: t.arg.string({ required: true, description: 'The command type.' }),
    },
    resolve: (_root, args, ctx) => ctx.services.schemas.remove(ctx.principal, args.applicationVersion, args.commandType),
  }),
);
