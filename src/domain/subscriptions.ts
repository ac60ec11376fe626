// Live updates for operators. A subscription is checked like the query it follows
// (`commandHistory`, `command(id:)`, `Endpoint.telemetry`): the same role, and NOT_FOUND for an
// endpoint or command that does not exist, since no event could ever arrive for it. Events reach
// it by its route (events/bus.ts), not by a filter run on every event.
import type { EventBus, RouteMap } from '../events/bus.ts';
import { eventStream, flatten } from '../events/stream.ts';
import { authorize } from './auth.ts';
import type { CommandService } from './commands.ts';
import { notFound } from './errors.ts';
import type { RegistryService } from './registry.ts';
import type { Command, Principal, TelemetrySample } from './types.ts';

export interface CommandChangesFilter {
  endpointId?: string | null;
  commandId?: string | null;
}

export class SubscriptionService {
  constructor(
    private readonly bus: EventBus,
    private readonly registry: RegistryService,
    private readonly commands: CommandService,
  ) {}

  /** A command's changes, an endpoint's commands' changes, or every command's (no filter). */
  async commandChanges(actor: Principal | null, filter: CommandChangesFilter): Promise<AsyncIterableIterator<Command>> {
    const viewer = authorize(actor, 'VIEWER');
    return eventStream(this.bus, 'commandChanged', await this.commandRoute(viewer, filter), viewer.keyId);
  }

  /** Each telemetry sample of one endpoint, as it is stored. */
  async telemetry(actor: Principal | null, endpointId: string): Promise<AsyncIterableIterator<TelemetrySample>> {
    const viewer = authorize(actor, 'VIEWER');
    // The stored id: events carry it in PostgreSQL's lower case, whatever case the caller used.
    const route = { endpointId: await this.existingEndpoint(viewer, endpointId) };
    return flatten(eventStream(this.bus, 'telemetryReceived', route, viewer.keyId), (batch) => batch.samples);
  }

  /** The endpoint each time its metadata changes (10/EPMP, from the device or an operator). */
  async metadataChanges(actor: Principal | null, endpointId: string): Promise<AsyncIterableIterator<{ endpointId: string }>> {
    const viewer = authorize(actor, 'VIEWER');
    const route = { endpointId: await this.existingEndpoint(viewer, endpointId) };
    return eventStream(this.bus, 'endpointMetadataChanged', route, viewer.keyId);
  }

  private async commandRoute(
    actor: Principal,
    { endpointId, commandId }: CommandChangesFilter,
  ): Promise<RouteMap['commandChanged'] | undefined> {
    if (commandId != null) {
      const command = await this.commands.command(actor, commandId);
      // A command never moves to another endpoint: with both filters, its route alone suffices.
      if (!command || (endpointId != null && command.endpointId !== endpointId.toLowerCase())) {
        throw notFound(
          endpointId == null
            ? `No command with id "${commandId}".`
            : `No command with id "${commandId}" for endpoint "${endpointId}".`,
        );
      }
      return { commandId: command.id };
    }
    if (endpointId != null) return { endpointId: await this.existingEndpoint(actor, endpointId) };
    return undefined;
  }

  private async existingEndpoint(actor: Principal, id: string): Promise<string> {
    const endpoint = await this.registry.endpoint(actor, id);
    if (!endpoint) throw notFound(`No endpoint with id "${id}".`);
    return endpoint.id;
  }
}
