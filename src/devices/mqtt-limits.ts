// Connection-level limits for the MQTT listener: aedes has none of its own for packet size,
// connections per address or publish rate, and the listener faces the internet.
import type { Socket } from 'node:net';
import type { Client } from 'aedes';

export interface MqttLimits {
  /** Largest packet after CONNECT (a kp1 body plus its topic). */
  maxPacketBytes: number;
  /** Largest packet before the connection is accepted: a CONNECT is small. */
  maxConnectPacketBytes: number;
  /** Open connections allowed from one source address. */
  maxConnectionsPerAddress: number;
  /** Sustained PUBLISH packets per second per connection; bursts up to twice as many. */
  maxPublishesPerSecond: number;
  /** Largest keepalive a client may ask for, in seconds (keepalive 0 is held to it too). */
  maxKeepaliveSeconds: number;
  /** How long a connection may leave what it is sent unread before it is dropped. */
  drainTimeoutMs: number;
}

/** Destroys the socket after `ms` without traffic in either direction. */
export function idleLimit(socket: Socket, ms: number): void {
  socket.setTimeout(ms, () => socket.destroy());
}

interface LengthParser {
  packet: { length: number };
  _parseLength(): boolean;
  _emitError(error: Error): void;
}

/**
 * Caps the size of every packet the client sends. mqtt-packet announces a packet's length
 * (fixed header + remaining length) before it buffers the body, so an oversized packet is
 * refused from its first bytes, however slowly it is streamed, and the socket is closed.
 * Relies on aedes 1.2 / mqtt-packet 9 internals (`client._parser._parseLength`), pinned in
 * package.json; the tests fail loudly if an upgrade changes them.
 */
export function capPacketSize(client: Client, limits: Pick<MqttLimits, 'maxPacketBytes' | 'maxConnectPacketBytes'>): void {
  const parser = (client as unknown as { _parser?: LengthParser })._parser;
  if (!parser || typeof parser._parseLength !== 'function') {
    throw new Error('aedes internals changed: cannot cap the MQTT packet size');
  }
  const parseLength = parser._parseLength;
  parser._parseLength = function capped(this: LengthParser) {
    const ok = parseLength.call(this);
    const limit = client.connected ? limits.maxPacketBytes : limits.maxConnectPacketBytes;
    if (ok && this.packet.length > limit) {
      this._emitError(new Error(`packet of ${this.packet.length} bytes exceeds the limit of ${limit}`));
      return false;
    }
    return ok;
  };
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
  private readonly buckets = new WeakMap<Client, { tokens: number; at: number }>();

  constructor(private readonly rate: number) {}

  /** Takes one token; false when the connection is over its rate. */
  take(client: Client, now = Date.now()): boolean {
    const capacity = this.rate * 2;
    const bucket = this.buckets.get(client) ?? { tokens: capacity, at: now };
    bucket.tokens = Math.min(capacity, bucket.tokens + ((now - bucket.at) / 1000) * this.rate);
    bucket.at = now;
    this.buckets.set(client, bucket);
    if (bucket.tokens < 1) return false;
    bucket.tokens -= 1;
    return true;
  }
}
