// A kp1 request over MQTT: parsed, dispatched like HTTP's, acknowledged once stored, answered on
// the request topic plus `/status` or `/error` [kp1 §1], and the connection bound to the endpoint.
import type { Aedes, Client } from 'aedes';
import { Kp1Failure, formatError, type Kp1Error } from '../kp1/errors.ts';
import { endsWithRequestId, errorTopic, parseTopic, statusTopic, type Kp1Request } from '../kp1/grammar.ts';
import type { MqttContext } from './context.ts';
import { reply, send, type QoS } from './deliver.ts';
import { bindConnection, observe } from './push.ts';
import { countDeviceRequest, UNKNOWN_RESOURCE } from '../../metrics/devices.ts';

type PublishPacket = Parameters<Aedes['authorizePublish']>[1];

/** Errors not published for want of a request id, in this process (logged at debug level). */
let unansweredErrors = 0;

export async function handleRequest(
  ctx: MqttContext,
  client: Client,
  packet: PublishPacket,
  ack: (error?: Error | null) => void,
): Promise<void> {
  const topic = packet.topic;
  const qos = packet.qos as QoS;
  let request: Kp1Request;
  try {
    request = parseTopic(topic);
    // A retained kp1 message would be replayed to later subscribers as if just sent.
    if (packet.retain) throw new Kp1Failure(400, 'Retained messages are not allowed on kp1 topics');
  } catch (error) {
    ack(null);
    if (error instanceof Kp1Failure) {
      countDeviceRequest('mqtt', UNKNOWN_RESOURCE, error.error.statusCode);
      if (answersErrors(ctx, endsWithRequestId(topic), error.error)) send(ctx, client, errorTopic(topic), formatError(error.error), qos);
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
    if (!answersErrors(ctx, request.requestId !== undefined, outcome.error)) return;
    const text = formatError(outcome.error);
    if (outcome.identity) reply(ctx, client, outcome.identity.endpoint.id, errorTopic(topic), text, qos);
    else send(ctx, client, errorTopic(topic), text, qos);
    return;
  }
  const replyTopic = statusTopic(request);
  // The reply carries the asked type's commands (all of them for the all-types resource);
  // without a request id there is no reply, so the backlog on binding covers them too.
  const replied = replyTopic && outcome.command ? { commandType: outcome.command.commandType } : undefined;
  const binding = bindConnection(ctx, client, outcome.identity, replied);
  if (outcome.command) observe(binding, outcome.command.commandType, outcome.command.observe);
  if (replyTopic) reply(ctx, client, binding.endpointId, replyTopic, outcome.body, qos, outcome.command?.ids);
}

/**
 * [1/KP] "If Request ID is not present in MQTT topic, response SHOULD NOT be published." So an
 * error without a request id is dropped, unless KP1_ERRORS_WITHOUT_REQUEST_ID=publish (kp1.md §1).
 */
function answersErrors(ctx: MqttContext, hasRequestId: boolean, error: Kp1Error): boolean {
  if (hasRequestId || ctx.dispatcher.limits.errorsWithoutRequestId === 'publish') return true;
  unansweredErrors++;
  ctx.log.debug(
    // Not the topic: it carries the device token.
    { statusCode: error.statusCode, reasonPhrase: error.reasonPhrase, unansweredErrors },
    'kp1 error not published: the request has no request id',
  );
  return false;
}
