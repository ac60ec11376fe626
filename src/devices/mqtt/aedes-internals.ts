// The two places where aedes has no hook for what the listener needs, so its internals are
// overridden. Both rely on aedes 1.2 / mqtt-packet 9 (pinned in package.json);
// test/mqtt-aedes-internals.test.ts fails if an upgrade changes what they rely on.
import type { Aedes, Client } from 'aedes';
import type { MqttLimits } from './limits.ts';

interface LengthParser {
  packet: { length: number };
  _parseLength(): boolean;
  _emitError(error: Error): void;
}

/**
 * Caps the size of every packet the client sends. aedes has no packet size option, and only
 * the parser knows a packet's length early: mqtt-packet announces it (fixed header + remaining
 * length) before it buffers the body, so an oversized packet is refused from its first bytes,
 * however slowly it is streamed, and the socket is closed.
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

/**
 * Makes the broker drop every message a connection publishes, once the hooks have run (the
 * PUBACK is already written when aedes calls `broker.publish(packet, client, done)`): kp1 traffic
 * is handled in authorizePublish and never relayed. aedes has no hook that drops an authorized
 * message: an error from authorizePublish closes the connection, and authorizeForward runs only
 * per subscriber, after the message was stored as retained or queued for offline sessions.
 * Messages the broker publishes itself (`$SYS`, no client) still go through.
 */
export function dropClientPublishes(broker: Aedes): void {
  const relay = broker.publish.bind(broker) as (packet: unknown, client: unknown, done?: unknown) => void;
  (broker as unknown as { publish: (...args: unknown[]) => void }).publish = (packet, client, done) => {
    if (client && typeof client === 'object') {
      if (typeof done === 'function') (done as () => void)();
      return;
    }
    relay(packet, client, done);
  };
}
