// The delivery timeline of a command: its delivery fields and its ordered events.
import { COMMAND_EVENT_TYPES, type CommandEvent, type EventCause } from '../../domain/deliveries.ts';
import { builder } from '../builder.ts';
import { CommandRef, InvokerRef } from './command.ts';
import { EndpointRef } from './endpoint.ts';

const DeliveryViaEnum = builder.enumType('DeliveryVia', {
  description: 'How a command reached its device.',
  values: {
    HTTP: { description: 'A kp1 HTTP poll answer, fully written.' },
    MQTT: { description: 'A kp1 MQTT packet (push or reply) at QoS 1, acknowledged by the device (PUBACK).' },
  } as const,
});

const EVENT_DESCRIPTIONS: Record<(typeof COMMAND_EVENT_TYPES)[number], string> = {
  CREATED: 'Invoked (or re-run) by an operator.',
  DELIVERED: 'The device provably received it (see DeliveryVia).',
  EXECUTED: 'The device reported its result.',
  EXPIRED: 'The server expired it: its retention for delivery ran out first.',
  CANCELED: 'An operator canceled it.',
  LATE_RESULT: 'The device reported its result after it was canceled or expired; the result was stored.',
};

const CommandEventTypeEnum = builder.enumType('CommandEventType', {
  description: 'What happened to a command.',
  values: Object.fromEntries(COMMAND_EVENT_TYPES.map((t) => [t, { description: EVENT_DESCRIPTIONS[t] }])) as Record<
    (typeof COMMAND_EVENT_TYPES)[number],
    { description: string }
  >,
});

const CauseKindEnum = builder.enumType('CommandEventCauseKind', {
  description: 'Who or what caused a command event.',
  values: {
    OPERATOR: { description: 'An API key (see invoker).' },
    TRANSPORT: { description: 'The transport that delivered it (see via).' },
    DEVICE: { description: 'The endpoint, reporting its result.' },
    SERVER: { description: 'The server itself (expiry).' },
  } as const,
});

const CauseRef = builder.objectRef<EventCause>('CommandEventCause').implement({
  description: 'Who or what caused a command event.',
  fields: (t) => ({
    kind: t.field({ type: CauseKindEnum, description: 'Operator, transport, device or server.', resolve: (c) => c.kind }),
    invoker: t.field({
      type: InvokerRef,
      nullable: true,
      description: 'The API key, for OPERATOR (null for commands stored before invokers were recorded).',
      resolve: (c) => (c.kind === 'OPERATOR' ? c.invoker : null),
    }),
    via: t.field({
      type: DeliveryViaEnum,
      nullable: true,
      description: 'HTTP or MQTT, for TRANSPORT.',
      resolve: (c) => (c.kind === 'TRANSPORT' ? c.via : null),
    }),
    endpoint: t.field({
      type: EndpointRef,
      nullable: true,
      description: 'The endpoint, for DEVICE.',
      resolve: async (c, _args, ctx) => (c.kind === 'DEVICE' ? ctx.endpointLoader(c.endpointId) : null),
    }),
  }),
});

const CommandEventRef = builder.objectRef<CommandEvent>('CommandEvent').implement({
  description: 'One entry of a command timeline.',
  fields: (t) => ({
    type: t.field({ type: CommandEventTypeEnum, description: 'What happened.', resolve: (e) => e.type }),
    at: t.expose('at', { type: 'DateTime', description: 'When (the database clock).' }),
    cause: t.field({ type: CauseRef, description: 'Who or what caused it.', resolve: (e) => e.cause }),
  }),
});

builder.objectFields(CommandRef, (t) => ({
  deliveredAt: t.expose('deliveredAt', {
    type: 'DateTime',
    nullable: true,
    description:
      'The first time the device provably got it: an HTTP poll answer fully written, or the PUBACK of an MQTT packet ' +
      'carrying it. Set once; null while never delivered.',
  }),
  deliveryCount: t.exposeInt('deliveryCount', {
    description: 'How many times it was provably delivered (every poll answer and acknowledged push counts).',
  }),
  lastDeliveredVia: t.field({
    type: DeliveryViaEnum,
    nullable: true,
    description: 'How the latest delivery went; null while never delivered.',
    resolve: (c) => c.lastDeliveredVia as 'HTTP' | 'MQTT' | null,
  }),
  expiredAt: t.expose('expiredAt', {
    type: 'DateTime',
    nullable: true,
    description: 'When the server expired it; kept when a late result makes it EXECUTED afterwards.',
  }),
  events: t.field({
    type: [CommandEventRef],
    description:
      'Its timeline, oldest first: CREATED, each DELIVERED (the first 100 are kept; deliveryCount counts all), then ' +
      'EXECUTED, EXPIRED or CANCELED, and LATE_RESULT for a result after cancel or expiry.',
    resolve: (c, _args, ctx) => ctx.services.commands.deliveries.events(c),
  }),
}));
