// A kp1 request over MQTT: parsed, dispatched like HTTP's, acknowledged once stored, answered on
// the request topic plus `/status` or `/error` [kp1 §1], and the connection bound to the endpoint.
import type { Aedes, Client } from 'aedes';
import { Kp1Failure, formatError } from '../kp1/errors.ts';
import { errorTopic, parseTopic, statusTopic, type Kp1Request } from '../kp1/grammar.ts';
import type { MqttContext } from './context.ts';
import { reply, send } from './deliver.ts';
import { bindConnection } from './push.ts';
import { countDeviceRequest, UNKNOWN_RESOURCE } from '../../metrics/devices.ts';

type PublishPacket = Parameters<Aedes['authorizePublish']>[1];

export async function handleRequest(
  ctx: MqttContext,
  client: Client,
  packet: PublishPacket,
  ack: (error?: Error | null) => void,
): Promise<void> {
  const topic = packet.topic;
  let request: Kp1Request;
  try {
    request = parseTopic(topic, { allowRequestId: true });
    // A retained kp1 message would be replayed to later subscribers as if just sent.
    if (packet.retain) throw new Kp1Failure(400, 'Retained messages are not allowed on kp1 topics');
  } catch (error) {
    ack(null);
    if (error instanceof Kp1Failure) {
      countDeviceRequest('mqtt', UNKNOWN_RESOURCE, error.error.statusCode);
      send(ctx, client, errorTopic(topic), formatError(error.error));
    }
    return;
  }
  const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
  const outcome = await ctx.dispatcher.dispatch(request, payload, ctx.logins.credentialsOf(client));
  countDeviceRequest('mqtt', request.resource.kind, outcome.ok ? 200 : outcome.error.statusCode);
  if (!outcome.ok && outcome.error.statusCode === 503 && packet.qos > 0) {
    // Not stored, so not acknowledged: the connection drops without PUBACK and the client
    // sends the message again when it reconnects.
    ack(new Error('storage unavailable'));
    return;
  }
  // PUBACK goes out only now, after the dispatch stored what it had to store.
  ack(null);
  if (!outcome.ok) {
    const text = formatError(outcome.error);
    if (outcome.identity) reply(ctx, client, outcome.identity.endpoint.id, errorTopic(topic), text);
    else send(ctx, client, errorTopic(topic), text);
    return;
  }
  const replyTopic = statusTopic(request);
  // The reply carries the asked type's commands; without a request id there is no reply, so
  // the backlog on binding covers that type too.
  const binding = bindConnection(ctx, client, outcome.identity, replyTopic ? outcome.command?.commandType : undefined);
  if (outcome.command) {
    const { commandType, observe } = outcome.command;
    if (observe === false) (binding.optedOut ??= new Set()).add(commandType);
    if (observe === true) binding.optedOut?.delete(commandType);
  }
  if (replyTopic) reply(ctx, client, binding.endpointId, replyTopic, outcome.body);
}
