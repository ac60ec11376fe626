import type { TelemetrySample } from '../../domain/types.ts';
import { builder } from '../builder.ts';
import { EndpointRef } from './endpoint.ts';

export const TelemetrySampleRef = builder.objectRef<TelemetrySample>('TelemetrySample');

TelemetrySampleRef.implement({
  description: 'One data sample a device sent (kp1 DCX).',
  fields: (t) => ({
    endpoint: t.field({
      type: EndpointRef,
      description: 'The endpoint that sent it.',
      resolve: async (s, _args, ctx) => (await ctx.endpointLoader(s.endpointId))!,
    }),
    timestamp: t.expose('timestamp', {
      type: 'DateTime',
      description: "The sample's own timestamp, or its receipt time when it carried none.",
    }),
    receivedAt: t.expose('receivedAt', { type: 'DateTime', description: 'When the server stored it.' }),
    data: t.expose('data', { type: 'JSON', description: 'The sample as the device sent it.' }),
  }),
});

builder.objectField(EndpointRef, 'telemetry', (t) =>
  t.field({
    type: [TelemetrySampleRef],
    description: 'The latest telemetry samples, newest first.',
    args: { last: t.arg.int({ defaultValue: 20, description: 'How many, 0 to 1000.' }) },
    resolve: (endpoint, args, ctx) => ctx.services.telemetry.latest(endpoint.id, args.last ?? 20),
  }),
);

builder.subscriptionField('telemetryReceived', (t) =>
  t.field({
    type: TelemetrySampleRef,
    description: 'Emits each telemetry sample an endpoint sends, as it is stored.',
    args: { endpointId: t.arg.id({ required: true, description: 'The endpoint.' }) },
    subscribe: (_root, args, ctx) => ctx.services.subscriptions.telemetry(ctx.principal, String(args.endpointId)),
    resolve: (sample) => sample,
  }),
);
