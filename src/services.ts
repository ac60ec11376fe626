// The domain services every door (GraphQL, kp1 over HTTP and MQTT) talks to.
import type { AuditLogService } from './domain/audit-log.ts';
import type { AuthService } from './domain/auth.ts';
import type { CommandService } from './domain/commands.ts';
import type { CommandSchemaService } from './domain/command-schema-service.ts';
import type { FleetService } from './domain/fleet.ts';
import type { BatchService } from './domain/batches.ts';
import type { PresenceService } from './domain/presence.ts';
import type { RegistryService } from './domain/registry.ts';
import type { SubscriptionService } from './domain/subscriptions.ts';
import type { TelemetryService } from './domain/telemetry.ts';
import type { EventBus } from './events/bus.ts';
import type { WebhookService } from './webhooks/service.ts';

export interface Services {
  auth: AuthService;
  registry: RegistryService;
  commands: CommandService;
  telemetry: TelemetryService;
  schemas: CommandSchemaService;
  subscriptions: SubscriptionService;
  fleet: FleetService;
  presence: PresenceService;
  bus: EventBus;
  batches: BatchService;
  audit: AuditLogService;
  webhooks: WebhookService;
}
