// The places where aedes has no hook for what the listener needs, so its internals are
// overridden. They rely on aedes 1.2 / mqtt-packet 9 (pinned in package.json);
// test/mqtt-aedes-internals.test.ts and test/mqtt-connect-refusals.test.ts fail if an upgrade
// changes what they rely on.
import type { Aedes, Client } from 'aedes';
import type { MqttLimits } from './limits.ts';

interface AedesParser {
  /** Set by aedes: the client whose bytes the parser reads. */
  client: Client;
  packet: { length: number };
  _parseLength(): boolean;
  _emitError(error: Error): void;
}

// The overrides below are shared by every connection (they find theirs through `this.client`):
// tens of thousands are held at once, and a closure each would cost more than the rest of ours.

function parserOf(client: Client, what: string): AedesParser {
  const parser = (client as unknown as { _parser?: AedesParser })._parser;
  if (!parser || parser.client !== client || typeof parser._parseLength !== 'function' || typeof parser._emitError !== 'function') {
    throw new Error(`aedes internals changed: cannot ${what}`);
  }
  return parser;
}

type PacketLimits = Pick<MqttLimits, 'maxPacketBytes' | 'maxConnectPacketBytes'>;
const cappedParsers = new WeakMap<PacketLimits, AedesParser['_parseLength']>();

/**
 * Caps the size of every packet the client sends. aedes has no packet size option, and only
 * the parser knows a packet's length early: mqtt-packet announces it (fixed header + remaining
 * length) before it buffers the body, so an oversized packet is refused from its first bytes,
 * however slowly it is streamed, and the socket is closed.
 */
export function capPacketSize(client: Client, limits: PacketLimits): void {
  const parser = parserOf(client, 'cap the MQTT packet size');
  let capped = cappedParsers.get(limits);
  if (!capped) {
    const parseLength = parser._parseLength;
    capped = function capped(this: AedesParser) {
      const ok = parseLength.call(this);
      const limit = this.client.connected ? limits.maxPacketBytes : limits.maxConnectPacketBytes;
      if (ok && this.packet.length > limit) {
        this._emitError(new Error(`packet of ${this.packet.length} bytes exceeds the limit of ${limit}`));
        return false;
      }
      return ok;
    };
    cappedParsers.set(limits, capped);
  }
  parser._parseLength = capped;
}

/** CONNACK with return code 0x01, unacceptable protocol version [MQTT-3.2.2.3]. */
const CONNACK_UNACCEPTABLE_PROTOCOL = Buffer.from([0x20, 0x02, 0x00, 0x01]);

let answered: AedesParser['_emitError'] | undefined;

/**
 * Answers a CONNECT with a protocol level the broker does not speak with CONNACK 0x01 before the
 * close [MQTT-3.1.2-2]. aedes does so for level 5 itself (it serves 3 and 4), but mqtt-packet's
 * parser rejects every other level as a malformed packet, and aedes then closes without a word.
 */
export function refuseProtocolLevels(client: Client): void {
  const parser = parserOf(client, 'answer unsupported protocol levels');
  if (!answered) {
    const emitError = parser._emitError;
    answered = function answered(this: AedesParser, error: Error) {
      if (!this.client.connected && error.message === 'Invalid protocol version') this.client.conn.write(CONNACK_UNACCEPTABLE_PROTOCOL);
      emitError.call(this, error);
    };
  }
  parser._emitError = answered;
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
