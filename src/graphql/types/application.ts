import type { Application, ApplicationVersion } from '../../domain/types.ts';
import { builder } from '../builder.ts';

export const ApplicationRef = builder.objectRef<Application>('Application');
export const ApplicationVersionRef = builder.objectRef<ApplicationVersion>('ApplicationVersion');

ApplicationRef.implement({
  description: 'A kind of device (e.g. a smart light). Its versions are what devices name in kp1 topics.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Server-assigned id.' }),
    name: t.exposeString('name', { description: 'Unique name: a-z, 0-9, "_" and "-".' }),
    createdAt: t.expose('createdAt', { type: 'DateTime', description: 'When the application was created.' }),
    versions: t.field({
      type: [ApplicationVersionRef],
      description: 'The versions of this application, by name.',
      resolve: (app, _args, ctx) => ctx.services.registry.versionsOf([app.id]),
    }),
  }),
});

ApplicationVersionRef.implement({
  description: 'A version of an application; its name is the `{appVersionName}` level of kp1 topics.',
  fields: (t) => ({
    id: t.exposeID('id', { description: 'Server-assigned id.' }),
    name: t.exposeString('name', {
      description: 'Unique server-wide (it appears in device topics): a-z, 0-9, "_" and "-".',
    }),
    application: t.field({
      type: ApplicationRef,
      description: 'The application this version belongs to.',
      resolve: async (version, _args, ctx) => (await ctx.applicationLoader(version.applicationId))!,
    }),
  }),
});

builder.queryField('applications', (t) =>
  t.field({
    type: [ApplicationRef],
    description: 'Every application, by name.',
    resolve: (_root, _args, ctx) => ctx.services.registry.listApplications(ctx.principal),
  }),
);

builder.queryField('applicationVersion', (t) =>
  t.field({
    type: ApplicationVersionRef,
    nullable: true,
    description: 'An application version by name, or null.',
    args: { name: t.arg.string({ required: true, description: 'The application version name.' }) },
    resolve: (_root, args, ctx) => ctx.services.registry.findVersion(ctx.principal, args.name),
  }),
);

builder.mutationField('createApplication', (t) =>
  t.field({
    type: ApplicationRef,
    description: 'Creates an application. Needs OPERATOR.',
    args: { name: t.arg.string({ required: true, description: 'Unique name: a-z, 0-9, "_" and "-".' }) },
    resolve: (_root, args, ctx) => ctx.services.registry.createApplication(ctx.principal, args.name),
  }),
);

builder.mutationField('createApplicationVersion', (t) =>
  t.field({
    type: ApplicationVersionRef,
    description: 'Creates a version of an application. Needs OPERATOR.',
    args: {
      applicationName: t.arg.string({ required: true, description: 'The application to add the version to.' }),
      name: t.arg.string({ required: true, description: 'Unique server-wide: a-z, 0-9, "_" and "-".' }),
    },
    resolve: (_root, args, ctx) =>
      ctx.services.registry.createApplicationVersion(ctx.principal, args.applicationName, args.name),
  }),
);
