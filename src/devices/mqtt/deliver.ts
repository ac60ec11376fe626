// What the server writes to connections: replies and pushes go straight to the connection they
// are for (kp1.md §2, "Push": Kaa pushes to the token's connection whether or not it subscribed),
// and the forwarding backstop keeps kp1 topics from reaching anyone else.
import type { Aedes, Client } from 'aedes';
import type { MqttContext } from './context.ts';
import { carries, expectAck } from './delivery-acks.ts';

const noop = () => {};
const none: readonly number[] = [];

export type QoS = 0 | 1 | 2;

/**
 * A payload encoded once for every connection it is sent to: the first call encodes it, later
 * calls give a new Buffer over the same bytes (packets are told apart by their payload Buffer;
 * see authorizeForward), so nothing is encoded or copied per connection.
 */
export function encodedOnce(encode: () => string): () => Buffer {
  let bytes: Buffer | undefined;
  return () => (bytes ? Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length) : (bytes = Buffer.from(encode())));
}

/** Pushes go at QoS 1 (kp1.md §2); replies at the request's QoS (see reply). `written` is called
 *  once the packet is written to the connection; `commandIds` are delivered by its PUBACK. A
 *  Buffer payload must not be sent to another connection (use encodedOnce). */
export function send(
  ctx: MqttContext,
  client: Client,
  topic: string,
  payload: string | Buffer,
  qos: QoS = 1,
  written: () => void = noop,
  commandIds: readonly number[] = none,
): void {
  if (client.closed) return;
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  ctx.addressed.set(body, client);
  carries(body, commandIds);
  // aedes requires the callback (it calls it when the packet is written).
  client.publish({ cmd: 'publish', topic, payload: body, qos, dup: false, retain: false }, written);
}

/**
 * A reply goes to the connection that asked, whether or not it subscribed (Kaa's clients often
 * do not), and, as on any MQTT broker, to the endpoint's other connections subscribed to the
 * reply topic (e.g. a mosquitto_sub beside a mosquitto_pub). Each gets one copy, at the QoS of
 * the request [1/KP "It is RECOMMENDED that responses are published with the same QoS level as
 * the corresponding request"].
 */
export function reply(
  ctx: MqttContext,
  requester: Client,
  endpointId: string,
  topic: string,
  payload: string,
  qos: QoS,
  commandIds: readonly number[] = none,
): void {
  const body = encodedOnce(() => payload);
  send(ctx, requester, topic, body(), qos, noop, commandIds);
  for (const binding of ctx.sessions.bindingsOf(endpointId)) {
    if (binding.client !== requester && ctx.sessions.isSubscribedTo(binding.client, topic)) {
      send(ctx, binding.client, topic, body(), qos, noop, commandIds);
    }
  }
}

/**
 * Backstop: whatever path a message takes, a kp1 topic only ever reaches a connection that
 * presented that topic's token, or the one connection the server addressed it to (an error
 * reply to a request with an unknown token goes to the requester alone).
 */
export function authorizeForward(ctx: MqttContext): Aedes['authorizeForward'] {
  return (client, packet) => {
    // By connection, not payload alone: a persistent session's unacknowledged queue is sent
    // again to whoever reconnects with its client id.
    if (!packet.topic.startsWith('kp1/')) return packet;
    if (ctx.addressed.get(packet.payload as Buffer) === client) {
      expectAck(client, packet);
      return packet;
    }
    const token = packet.topic.split('/')[3];
    return token !== undefined && ctx.sessions.isBoundToToken(client, token) ? packet : null;
  };
}
