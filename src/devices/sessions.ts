// Which MQTT connections speak for which endpoints (kp1.md §2, "Push"). A connection is bound
// to an endpoint once it presents that endpoint's token (a request or a subscription pinned to
// it); a connection may be bound to several endpoints (gateways). Bindings are per process: a
// command invoked anywhere reaches this process as an event and is pushed to its own bindings.
import type { Client } from 'aedes';
import type { DeviceIdentity } from './kp1/dispatch.ts';
import { topicMatches } from './mqtt/topics.ts';

export interface Binding {
  readonly client: Client;
  readonly endpointId: string;
  readonly token: string;
  /** The app version the device last used in a topic; pushes are published under it. */
  appVersion: string;
  /** Command types the device opted out of with {"observe": false} (Kaa ≥ 1.1 behaviour); most never do. */
  optedOut: Set<string> | undefined;
  /** What the all-types command resource asked (kp1.md §2): `observe` pushes every type on its
   *  topic, `off` pushes nothing; undefined: per-type pushes. */
  allTypes?: 'observe' | 'off';
}

/** Told when this process starts and stops holding sessions for an endpoint (presence). */
export interface SessionListener {
  bound(endpointId: string): void;
  unbound(endpointId: string): void;
}

export class DeviceSessions {
  private readonly byEndpoint = new Map<string, Set<Binding>>();
  private readonly byClient = new Map<Client, Map<string, Binding>>();
  /** Granted subscription filters per connection (all pinned to a token the connection is bound to). */
  private readonly filters = new Map<Client, Set<string>>();
  /** Bound connections by MQTT client id (for refusing client-id takeover). */
  private readonly byClientId = new Map<string, Client>();

  constructor(private readonly listener?: SessionListener) {}

  /** Binds (or refreshes) a connection to an endpoint; `created` tells a new binding. */
  bind(client: Client, identity: DeviceIdentity): { binding: Binding; created: boolean } {
    let mine = this.byClient.get(client);
    if (!mine) {
      mine = new Map();
      this.byClient.set(client, mine);
      this.byClientId.set(client.id, client);
    }
    const existing = mine.get(identity.endpoint.id);
    if (existing) {
      existing.appVersion = identity.appVersion;
      return { binding: existing, created: false };
    }
    const binding: Binding = {
      client,
      endpointId: identity.endpoint.id,
      token: identity.token,
      appVersion: identity.appVersion,
      optedOut: undefined,
    };
    mine.set(binding.endpointId, binding);
    let set = this.byEndpoint.get(binding.endpointId);
    if (!set) {
      set = new Set();
      this.byEndpoint.set(binding.endpointId, set);
      this.listener?.bound(binding.endpointId);
    }
    set.add(binding);
    return { binding, created: true };
  }

  subscribed(client: Client, filter: string): void {
    let set = this.filters.get(client);
    if (!set) {
      set = new Set();
      this.filters.set(client, set);
    }
    set.add(filter);
  }

  unsubscribed(client: Client, filter: string): void {
    this.filters.get(client)?.delete(filter);
  }

  /** Whether one of the connection's subscriptions matches the topic. */
  isSubscribedTo(client: Client, topic: string): boolean {
    for (const filter of this.filters.get(client) ?? []) if (topicMatches(filter, topic)) return true;
    return false;
  }

  unbindClient(client: Client): void {
    this.filters.delete(client);
    if (this.byClientId.get(client.id) === client) this.byClientId.delete(client.id);
    const mine = this.byClient.get(client);
    if (!mine) return;
    this.byClient.delete(client);
    for (const binding of mine.values()) {
      const set = this.byEndpoint.get(binding.endpointId);
      set?.delete(binding);
      if (set?.size === 0) {
        this.byEndpoint.delete(binding.endpointId);
        this.listener?.unbound(binding.endpointId);
      }
    }
  }

  /** The live connection bound under this client id, if any, with the endpoints it speaks for. */
  boundClient(clientId: string): { client: Client; endpointIds: string[] } | undefined {
    const client = this.byClientId.get(clientId);
    if (!client || client.closed) return undefined;
    return { client, endpointIds: [...(this.byClient.get(client)?.keys() ?? [])] };
  }

  *allBindings(): Iterable<Binding> {
    for (const set of this.byEndpoint.values()) yield* set;
  }

  bindingsOf(endpointId: string): Iterable<Binding> {
    return this.byEndpoint.get(endpointId) ?? [];
  }

  /** Whether the connection presented this token (the forwarding backstop asks). */
  isBoundToToken(client: Client, token: string): boolean {
    for (const binding of this.byClient.get(client)?.values() ?? []) if (binding.token === token) return true;
    return false;
  }

  get connectionCount(): number {
    return this.byClient.size;
  }

  get endpointCount(): number {
    return this.byEndpoint.size;
  }
}
