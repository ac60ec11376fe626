// Which MQTT connections speak for which endpoints (kp1.md §2, "Push"). A connection is bound
// to an endpoint once it presents that endpoint's token (a request or a subscription pinned to
// it); a connection may be bound to several endpoints (gateways). Bindings are per process: a
// command invoked anywhere reaches this process as an event and is pushed to its own bindings.
// Tens of thousands of connections are held at once and nearly all have one binding and one
// endpoint one connection, so the indexes hold small arrays rather than a Map or Set each.
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
  allTypes: 'observe' | 'off' | undefined;
}

/** Told when this process starts and stops holding sessions for an endpoint (presence). */
export interface SessionListener {
  bound(endpointId: string): void;
  unbound(endpointId: string): void;
}

const none: readonly never[] = [];

export class DeviceSessions {
  private readonly byEndpoint = new Map<string, Binding[]>();
  private readonly byClient = new Map<Client, Binding[]>();
  /** Granted subscription filters per connection (all pinned to a token the connection is bound to). */
  private readonly filters = new Map<Client, string[]>();
  /** Bound connections by MQTT client id (for refusing client-id takeover). */
  private readonly byClientId = new Map<string, Client>();

  constructor(private readonly listener?: SessionListener) {}

  /** Binds (or refreshes) a connection to an endpoint; `created` tells a new binding. */
  bind(client: Client, identity: DeviceIdentity): { binding: Binding; created: boolean } {
    const endpointId = identity.endpoint.id;
    let mine = this.byClient.get(client);
    const existing = mine?.find((b) => b.endpointId === endpointId);
    if (existing) {
      existing.appVersion = identity.appVersion;
      return { binding: existing, created: false };
    }
    const binding: Binding = {
      client,
      endpointId,
      token: identity.token,
      appVersion: identity.appVersion,
      optedOut: undefined,
      allTypes: undefined,
    };
    if (mine) mine.push(binding);
    else {
      this.byClient.set(client, (mine = [binding]));
      this.byClientId.set(client.id, client);
    }
    const others = this.byEndpoint.get(endpointId);
    if (others) others.push(binding);
    else {
      this.byEndpoint.set(endpointId, [binding]);
      this.listener?.bound(endpointId);
    }
    return { binding, created: true };
  }

  subscribed(client: Client, filter: string): void {
    const mine = this.filters.get(client);
    if (!mine) this.filters.set(client, [filter]);
    else if (!mine.includes(filter)) mine.push(filter);
  }

  unsubscribed(client: Client, filter: string): void {
    const mine = this.filters.get(client);
    const at = mine?.indexOf(filter) ?? -1;
    if (at >= 0) mine!.splice(at, 1);
  }

  /** Whether one of the connection's subscriptions matches the topic. */
  isSubscribedTo(client: Client, topic: string): boolean {
    for (const filter of this.filters.get(client) ?? none) if (topicMatches(filter, topic)) return true;
    return false;
  }

  /** Forgets the connection (it closed); harmless for one that was never bound. */
  unbindClient(client: Client): void {
    this.filters.delete(client);
    if (this.byClientId.get(client.id) === client) this.byClientId.delete(client.id);
    const mine = this.byClient.get(client);
    if (!mine) return;
    this.byClient.delete(client);
    for (const binding of mine) {
      const set = this.byEndpoint.get(binding.endpointId);
      if (!set) continue;
      const at = set.indexOf(binding);
      if (at >= 0) set.splice(at, 1);
      if (set.length === 0) {
        this.byEndpoint.delete(binding.endpointId);
        this.listener?.unbound(binding.endpointId);
      }
    }
  }

  /** The live connection bound under this client id, if any, with the endpoints it speaks for. */
  boundClient(clientId: string): { client: Client; endpointIds: string[] } | undefined {
    const client = this.byClientId.get(clientId);
    if (!client || client.closed) return undefined;
    return { client, endpointIds: (this.byClient.get(client) ?? none).map((b) => b.endpointId) };
  }

  *allBindings(): Iterable<Binding> {
    for (const set of this.byEndpoint.values()) yield* set;
  }

  bindingsOf(endpointId: string): Iterable<Binding> {
    return this.byEndpoint.get(endpointId) ?? none;
  }

  /** Whether the connection presented this token (the forwarding backstop asks). */
  isBoundToToken(client: Client, token: string): boolean {
    for (const binding of this.byClient.get(client) ?? none) if (binding.token === token) return true;
    return false;
  }

  get connectionCount(): number {
    return this.byClient.size;
  }

  get endpointCount(): number {
    return this.byEndpoint.size;
  }
}
