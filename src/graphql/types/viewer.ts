import type { Principal } from '../../domain/types.ts';
import { builder } from '../builder.ts';
import { ApiKeyRoleEnum } from './api-key.ts';

const ViewerRef = builder.objectRef<Principal>('Viewer').implement({
  description: 'The API key making the request.',
  fields: (t) => ({
    id: t.id({
      description: 'The key id ("env:ADMIN_API_KEY" for the key set by that variable).',
      resolve: (p) => p.keyId,
    }),
    name: t.exposeString('name', { description: 'The name the key was given.' }),
    role: t.field({ type: ApiKeyRoleEnum, description: 'What the key may do.', resolve: (p) => p.role }),
  }),
});

builder.queryField('viewer', (t) =>
  t.field({
    type: ViewerRef,
    description: 'The API key making the request: who is signed in, and with which role.',
    resolve: (_root, _args, ctx) => ctx.services.auth.viewer(ctx.principal),
  }),
);
