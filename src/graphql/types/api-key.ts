import type { ApiKey } from '../../domain/types.ts';
import { builder } from '../builder.ts';

export const ApiKeyRoleEnum = builder.enumType('ApiKeyRole', {
  description: 'What an API key may do.',
  values: {
    ADMIN: { description: 'Everything, including API keys.' },
    OPERATOR: { description: 'Manage applications and endpoints; invoke and re-run commands; read.' },
    VIEWER: { description: 'Read and subscribe.' },
  } as const,
});

const CreateApiKeyPayload = builder
  .objectRef<{ key: ApiKey; secret: string }>('CreateApiKeyPayload')
  .implement({
    description: 'A new API key and its secret.',
    fields: (t) => ({
      id: t.id({ description: 'The key id (for revokeApiKey).', resolve: (p) => p.key.id }),
      name: t.string({ description: 'The name given.', resolve: (p) => p.key.name }),
      role: t.field({ type: ApiKeyRoleEnum, description: 'The role.', resolve: (p) => p.key.role }),
      secret: t.exposeString('secret', {
        description: 'Send as "Authorization: Bearer <secret>". Shown only here, once: the server keeps a hash.',
      }),
    }),
  });

builder.mutationField('createApiKey', (t) =>
  t.field({
    type: CreateApiKeyPayload,
    description: 'Creates an API key. Needs ADMIN.',
    args: {
      name: t.arg.string({ required: true, description: 'What the key is for (shown in logs).' }),
      role: t.arg({ type: ApiKeyRoleEnum, required: true, description: 'What the key may do.' }),
    },
    resolve: (_root, args, ctx) => ctx.services.auth.createApiKey(ctx.principal, args.name, args.role),
  }),
);

builder.mutationField('revokeApiKey', (t) =>
  t.boolean({
    description: 'Revokes an API key at once. Needs ADMIN.',
    args: { id: t.arg.id({ required: true, description: 'The key id.' }) },
    resolve: (_root, args, ctx) => ctx.services.auth.revokeApiKey(ctx.principal, String(args.id)),
  }),
);

const ApiKeyRef = builder.objectRef<ApiKey>('ApiKey').implement({
  description: 'An API key (never its secret, which only createApiKey shows).',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'The key id (for revokeApiKey).' }),
    name: t.exposeString('name', { description: 'What the key is for.' }),
    role: t.field({ type: ApiKeyRoleEnum, description: 'What the key may do.', resolve: (k) => k.role }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the key was created.' }),
    revokedAt: t.expose('revokedAt', {
      type: 'DateTime',
      nullable: true,
      description: 'When the key was revoked; null while it works.',
    }),
  }),
});

builder.queryField('apiKeys', (t) =>
  t.field({
    type: [ApiKeyRef],
    description: 'Every API key, newest first, revoked ones included. Needs ADMIN.',
    resolve: (_root, _args, ctx) => ctx.services.auth.listApiKeys(ctx.principal),
  }),
);
