// Connection-level limits for the MQTT listener: aedes has none of its own for publish rates,
// and the listener faces the internet. (Connections per address: lib/address-connections.ts; the
// packet size cap needs aedes internals: see aedes-internals.ts.)
import type { Socket } from 'node:net';
import type { Client } from 'aedes';
import type { Config } from '../../config.ts';
import { isValidToken } from '../../domain/identifiers.ts';
import { KeyedTokenBuckets } from '../../lib/keyed-token-buckets.ts';
import { TokenBucket } from '../../lib/token-bucket.ts';

export type MqttLimits = Config['mqtt'] & {
  /** Largest packet after CONNECT (a kp1 body plus its topic). */
  maxPacketBytes: number;
};

/** Device tokens and addresses whose budgets are remembered (least recently used beyond). */
const MAX_BUDGET_KEYS = 100_000;

function destroyIdle(this: Socket): void {
  this.destroy();
}

/** Destroys the socket after `ms` without traffic in either direction. */
export function idleLimit(socket: Socket, ms: number): void {
  socket.setTimeout(ms);
  socket.on('timeout', destroyIdle);
}

/** The device token a kp1 topic names; only a well-formed one, so that every key is short. */
function tokenOf(topic: string | undefined): string | undefined {
  if (!topic?.startsWith('kp1/')) return undefined;
  const token = topic.split('/', 4)[3];
  return token !== undefined && isValidToken(token) ? token : undefined;
}

type RateLimits = Pick<MqttLimits, 'maxPublishesPerSecond' | 'maxPublishesPerTokenPerSecond' | 'maxPublishesPerAddressPerSecond'>;

/**
 * Publish budgets, each a token bucket with bursts up to 2 × its rate: per connection, and,
 * across connections (a reconnect keeps what was spent), per device token of a kp1 topic and per
 * source address. A connection over any of them is refused for good: it is flooding, not polling.
 */
export class PublishRate {
  private readonly connections = new WeakMap<Client, TokenBucket>();
  private readonly tokens: KeyedTokenBuckets;
  private readonly addresses: KeyedTokenBuckets;
  private readonly refused = new WeakSet<Client>();

  constructor(private readonly limits: RateLimits) {
    const perToken = limits.maxPublishesPerTokenPerSecond;
    const perAddress = limits.maxPublishesPerAddressPerSecond;
    this.tokens = new KeyedTokenBuckets(perToken * 2, perToken, MAX_BUDGET_KEYS, 'mqtt-publishes-per-token');
    this.addresses = new KeyedTokenBuckets(perAddress * 2, perAddress, MAX_BUDGET_KEYS, 'mqtt-publishes-per-address');
  }

  /**
   * Takes one from each budget the packet counts against (the token's when `topic` is a kp1
   * topic); false when the connection is over one of them. Checked when the packet arrives,
   * before anything is stored.
   */
  take(client: Client, topic?: string, now = Date.now()): boolean {
    if (this.refused.has(client)) return false;
    const token = tokenOf(topic);
    // A packet refused by its token does not spend the address's budget (other devices there).
    const ok =
      this.connection(client, now).take(1, now) === 0 &&
      (token === undefined || this.tokens.take(token, 1, now) === 0) &&
      this.addresses.take((client.conn as Socket).remoteAddress ?? 'unknown', 1, now) === 0;
    if (!ok) this.refused.add(client);
    return ok;
  }

  /** Whether the connection went over a budget: its requests still queued are not handled either. */
  isRefused(client: Client): boolean {
    return this.refused.has(client);
  }

  private connection(client: Client, now: number): TokenBucket {
    let bucket = this.connections.get(client);
    const rate = this.limits.maxPublishesPerSecond;
    if (!bucket) this.connections.set(client, (bucket = new TokenBucket(rate * 2, rate, now)));
    return bucket;
  }
}
