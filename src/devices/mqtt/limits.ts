// Connection-level limits for the MQTT listener: aedes has none of its own for connections per
// address or publish rate, and the listener faces the internet. (The packet size cap needs aedes
// internals: see aedes-internals.ts.)
import type { Socket } from 'node:net';
import type { Client } from 'aedes';
import type { Config } from '../../config.ts';
import { TokenBucket } from '../../lib/token-bucket.ts';

export type MqttLimits = Config['mqtt'] & {
  /** Largest packet after CONNECT (a kp1 body plus its topic). */
  maxPacketBytes: number;
};

/** Destroys the socket after `ms` without traffic in either direction. */
export function idleLimit(socket: Socket, ms: number): void {
  socket.setTimeout(ms, () => socket.destroy());
}

/** Counts open connections per source address and refuses those over the limit. */
export class AddressConnections {
  private readonly open = new Map<string, number>();

  constructor(private readonly max: number) {}

  /** False when the address already has `max` connections; otherwise counts the socket until it closes. */
  admit(socket: Socket): boolean {
    const address = socket.remoteAddress ?? 'unknown';
    const count = this.open.get(address) ?? 0;
    if (count >= this.max) return false;
    this.open.set(address, count + 1);
    socket.once('close', () => {
      const left = (this.open.get(address) ?? 1) - 1;
      if (left > 0) this.open.set(address, left);
      else this.open.delete(address);
    });
    return true;
  }
}

/** A token bucket per connection: `rate` per second sustained, bursts up to 2 × rate. */
export class PublishRate {
  private readonly buckets = new WeakMap<Client, TokenBucket>();

  constructor(private readonly rate: number) {}

  /** Takes one token; false when the connection is over its rate. */
  take(client: Client, now = Date.now()): boolean {
    let bucket = this.buckets.get(client);
    if (!bucket) this.buckets.set(client, (bucket = new TokenBucket(this.rate * 2, this.rate, now)));
    return bucket.take(1, now) === 0;
  }
}
