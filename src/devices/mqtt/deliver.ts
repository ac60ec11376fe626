// What the server writes to connections: replies and pushes go straight to the connection they
// are for (kp1.md §2, "Push": Kaa pushes to the token's connection whether or not it subscribed),
// and the forwarding backstop keeps kp1 topics from reaching anyone else.
import type { Aedes, Client } from 'aedes';
import type { MqttContext } from './context.ts';
import { carries, expectAck } from './delivery-acks.ts';

const noop = () => {};

export type QoS = 0 | 1 | 2;

/** Pushes go at QoS 1 (kp1.md §2); replies at the request's QoS (see reply). `written` is called
 *  once the packet is written to the connection; `commandIds` are delivered by its PUBACK. */
export function send(
  ctx: MqttContext,
  client: Client,
  topic: string,
  payload: string,
  qos: QoS = 1,
  written: () => void = noop,
  commandIds: readonly number[] = [],
): void {
  if (client.closed) return;
  const body = Buffer.from(payload);
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
  commandIds: readonly number[] = [],
): void {
  send(ctx, requester, topic, payload, qos, noop, commandIds);
  for (const binding of ctx.sessions.bindingsOf(endpointId)) {
    if (binding.client !== requester && ctx.sessions.isSubscribedTo(binding.client, topic)) {
      send(ctx, binding.client, topic, payload, qos, noop, commandIds);
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
