import type { Endpoint } from '../../domain/types.ts';
import { builder } from '../builder.ts';
import { ApplicationVersionRef } from './application.ts';

export const EndpointRef = builder.objectRef<Endpoint>('Endpoint');

EndpointRef.implement({
  description: 'One device (or a virtual one), identified in kp1 by its token.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Server-assigned id; used by invokeCommand and commandHistory.' }),
    name: t.exposeString('name', { nullable: true, description: 'An optional human-readable name.' }),
    applicationVersion: t.field({
      type: ApplicationVersionRef,
      description: 'The application version the device runs.',
      resolve: async (endpoint, _args, ctx) =>
        (await ctx.versionLoader(endpoint.applicationVersionId))!,
    }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the endpoint was created.' }),
    revokedAt: t.expose('revokedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When its token was revoked; a revoked endpoint accepts no device requests and no new commands.',
    }),
    mqttUsername: t.exposeString('mqttUsername', {
      nullable: true,
      description: 'Set when the device must also present these credentials (MQTT CONNECT, or HTTP Basic auth).',
    }),
  }),
});

export const CreateEndpointPayload = builder
  .objectRef<{ endpoint: Endpoint; token: string }>('CreateEndpointPayload')
  .implement({
    description: 'The new endpoint and its token.',
    fields: (t) => ({
      endpoint: t.field({ type: EndpointRef, description: 'The endpoint.', resolve: (p) => p.endpoint }),
      token: t.exposeString('token', {
        description: 'The device token. Shown only here, once: the server keeps only a hash of it.',
      }),
    }),
  });

builder.queryField('endpoint', (t) =>
  t.field({
    type: EndpointRef,
    nullable: true,
    description: 'An endpoint by id, or null.',
    args: { id: t.arg.id({ required: true, description: 'The endpoint id.' }) },
    resolve: (_root, args, ctx) => ctx.services.registry.endpoint(ctx.principal, String(args.id)),
  }),
);

builder.mutationField('createEndpoint', (t) =>
  t.field({
    type: CreateEndpointPayload,
    description: 'Registers an endpoint under an application version. Needs OPERATOR.',
    args: {
      applicationVersion: t.arg.string({ required: true, description: 'The application version name.' }),
      name: t.arg.string({ description: 'An optional human-readable name.' }),
      token: t.arg.string({
        description:
          'The device token to use (1-128 characters, no "+", "#", "/", "." or whitespace); generated when omitted.',
      }),
    },
    resolve: (_root, args, ctx) => ctx.services.registry.createEndpoint(ctx.principal, args),
  }),
);

builder.mutationField('setEndpointCredentials', (t) =>
  t.field({
    type: EndpointRef,
    description:
      'Requires device credentials with the token from now on: MQTT username/password in CONNECT, or HTTP Basic auth. ' +
      "The endpoint's connected sessions are disconnected. Needs OPERATOR.",
    args: {
      endpointId: t.arg.id({ required: true, description: 'The endpoint id.' }),
      username: t.arg.string({ required: true, description: 'Unique username, 1-128 printable characters without spaces.' }),
      password: t.arg.string({ required: true, description: '8-256 characters; stored as a salted hash.' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.registry.setCredentials(ctx.principal, String(args.endpointId), args.username, args.password),
  }),
);

builder.mutationField('clearEndpointCredentials', (t) =>
  t.field({
    type: EndpointRef,
    description: "Stops requiring credentials; the endpoint's sessions are disconnected. Needs OPERATOR.",
    args: { endpointId: t.arg.id({ required: true, description: 'The endpoint id.' }) },
    resolve: (_root, args, ctx) => ctx.services.registry.clearCredentials(ctx.principal, String(args.endpointId)),
  }),
);

builder.mutationField('revokeEndpoint', (t) =>
  t.field({
    type: EndpointRef,
    description: "Revokes the endpoint's token at once and disconnects its device sessions. Needs OPERATOR.",
    args: { endpointId: t.arg.id({ required: true, description: 'The endpoint id.' }) },
    resolve: (_root, args, ctx) => ctx.services.registry.revokeEndpoint(ctx.principal, String(args.endpointId)),
  }),
);

builder.objectFields(EndpointRef, (t) => ({
  lastSeenAt: t.field({
    type: 'DateTime',
    nullable: true,
    description:
      'When the device last made a kp1 request (HTTP or MQTT) or connected; null if never. Updated at most every 30 s per endpoint.',
    resolve: async (endpoint, _args, ctx) => (await ctx.services.presence.status(endpoint.id))?.lastSeenAt ?? null,
  }),
  connected: t.boolean({
    description:
      'True while any server process holds an MQTT session bound to this endpoint (stored in the database, so every process agrees).',
    resolve: async (endpoint, _args, ctx) => (await ctx.services.presence.status(endpoint.id))?.connected ?? false,
  }),
}));

builder.mutationField('renameEndpoint', (t) =>
  t.field({
    type: EndpointRef,
    description: "Sets or clears (null) the endpoint's display name. Needs OPERATOR.",
    args: {
      endpointId: t.arg.id({ required: true, description: 'The endpoint id.' }),
      name: t.arg.string({ description: 'The new name (at most 200 characters); null or blank clears it.' }),
    },
    resolve: (_root, args, ctx) => ctx.services.registry.renameEndpoint(ctx.principal, String(args.endpointId), args.name),
  }),
);

builder.mutationField('rotateEndpointToken', (t) =>
  t.field({
    type: CreateEndpointPayload,
    description:
      "Replaces the endpoint's token (generated when omitted); the old one stops working at once and its device sessions are disconnected. Needs OPERATOR.",
    args: {
      endpointId: t.arg.id({ required: true, description: 'The endpoint id.' }),
      token: t.arg.string({
        description: 'The new device token (1-128 characters, no "+", "#", "/", "." or whitespace); generated when omitted.',
      }),
    },
    resolve: (_root, args, ctx) => ctx.services.registry.rotateToken(ctx.principal, String(args.endpointId), args.token),
  }),
);

builder.objectField(EndpointRef, 'metadata', (t) =>
  t.field({
    type: 'JSON',
    description:
      'Key-value pairs about the device (10/EPMP: name, model, firmware version, location…), written by the device over kp1 `epmx` ' +
      'and by operators (updateEndpointMetadata). Keys match ^[a-zA-Z0-9_]+$; values are any JSON. {} when there is none.',
    resolve: async (endpoint, _args, ctx) => (await ctx.metadataLoader(endpoint.id)) ?? {},
  }),
);

builder.mutationField('updateEndpointMetadata', (t) =>
  t.field({
    type: EndpointRef,
    description:
      "Changes the endpoint's metadata in one step: `set` is merged in (10/EPMP `update/keys`), or with `replace: true` becomes " +
      'the whole metadata (`update`); then the keys in `remove` are deleted (`delete/keys`). The device sees the result on its ' +
      'next `epmx` get. Emits endpointMetadataChanged. Needs OPERATOR.',
    args: {
      endpointId: t.arg.id({ required: true, description: 'The endpoint id.' }),
      set: t.arg({ type: 'JSON', description: 'A JSON object of key-value pairs.' }),
      replace: t.arg.boolean({ defaultValue: false, description: 'Replace the whole metadata with `set` (omitted: {}).' }),
      remove: t.arg.stringList({ description: 'Keys to delete.' }),
    },
    resolve: (_root, args, ctx) => ctx.services.registry.updateMetadata(ctx.principal, String(args.endpointId), args),
  }),
);

builder.subscriptionField('endpointMetadataChanged', (t) =>
  t.field({
    type: EndpointRef,
    description:
      "Emits the endpoint each time its metadata changes, whether the device (kp1 epmx) or an operator changed it; select `metadata` " +
      'for the new value. An endpoint that does not exist is NOT_FOUND. Events are not replayed: after reconnecting, re-query.',
    args: { endpointId: t.arg.id({ required: true, description: 'The endpoint.' }) },
    subscribe: (_root, args, ctx) => ctx.services.subscriptions.metadataChanges(ctx.principal, String(args.endpointId)),
    resolve: async (event, _args, ctx) => (await ctx.endpointLoader(event.endpointId))!,
  }),
);
