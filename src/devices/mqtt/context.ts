// What the MQTT handlers share: the services they call, the sessions, the limits, and the
// connections' MQTT logins. One per listener; every handler file takes it.
import type { Client } from 'aedes';
import type { CommandService } from '../../domain/commands.ts';
import type { RegistryService } from '../../domain/registry.ts';
import type { Logger } from '../../logger.ts';
import type { DeviceCredentials, Kp1Dispatcher } from '../kp1/dispatch.ts';
import type { DeviceSessions } from '../sessions.ts';
import type { MqttLimits, PublishRate } from './limits.ts';

export interface MqttContext {
  readonly dispatcher: Kp1Dispatcher;
  readonly commands: CommandService;
  readonly registry: RegistryService;
  readonly sessions: DeviceSessions;
  readonly logins: Logins;
  readonly limits: MqttLimits;
  /** Shared by PUBLISH and SUBSCRIBE: each costs a lookup. */
  readonly publishRate: PublishRate;
  /** Payloads of the packets the server itself addresses to one connection (replies, pushes), and that connection. */
  readonly addressed: WeakMap<Buffer, Client>;
  readonly log: Logger;
}

/** Endpoints each connection authenticated as with MQTT credentials (CONNECT), and the reverse. */
export class Logins {
  private readonly byClient = new WeakMap<Client, Set<string>>();
  private readonly byEndpoint = new Map<string, Set<Client>>();

  /** Remembers the login until the connection closes (`remove`). */
  add(client: Client, endpointId: string): void {
    // Closed while its credentials were checked: past the close that would remove it.
    if (client.conn.destroyed) return;
    this.byClient.set(client, new Set([endpointId]));
    let clients = this.byEndpoint.get(endpointId);
    if (!clients) this.byEndpoint.set(endpointId, (clients = new Set()));
    clients.add(client);
  }

  /** Forgets the connection's login (it closed). */
  remove(client: Client): void {
    for (const endpointId of this.byClient.get(client) ?? []) {
      const clients = this.byEndpoint.get(endpointId);
      clients?.delete(client);
      if (clients?.size === 0) this.byEndpoint.delete(endpointId);
    }
    this.byClient.delete(client);
  }

  /** What the connection proved besides tokens, for the dispatcher. */
  credentialsOf(client: Client): DeviceCredentials {
    return { endpointIds: this.byClient.get(client) };
  }

  /** Connections that logged in as the endpoint. */
  clientsOf(endpointId: string): Iterable<Client> {
    return this.byEndpoint.get(endpointId) ?? [];
  }
}
