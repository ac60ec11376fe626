// PUBLISH: the cheap refusals, then every kp1 request is handed to handleRequest, one at a time
// per connection. The PUBACK waits for the request (see requests.ts).
import type { Aedes, Client } from 'aedes';
import { isResponseTopic } from '../kp1/grammar.ts';
import type { MqttContext } from './context.ts';
import { handleRequest } from './requests.ts';

type Work = () => Promise<void>;

const yieldToLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

export function authorizePublish(ctx: MqttContext): Aedes['authorizePublish'] {
  // Each connection's requests are handled one at a time, in arrival order, so replies and
  // PUBACKs keep the order of the requests [MQTT-4.6.0-2]. A connection has a queue only while
  // requests are waiting (most are idle most of the time).
  const queues = new WeakMap<Client, Work[]>();
  const drain = async (client: Client, queue: Work[]) => {
    while (queue.length > 0) {
      // Other connections' requests get in between this one's, even on PGlite, whose queries
      // never leave the microtask queue (test/mqtt-request-order).
      await yieldToLoop();
      try {
        await queue[0]!();
      } catch (error) {
        // handleRequest answers every failure itself, so this is a defect: the connection is
        // dropped rather than left waiting for a PUBACK.
        ctx.log.error({ err: error, clientId: client.id }, 'MQTT request failed unexpectedly; closing the connection');
        client.close();
      }
      queue.shift();
    }
    queues.delete(client);
  };
  const inOrder = (client: Client, work: Work) => {
    const queue = queues.get(client);
    if (queue) {
      queue.push(work);
    } else {
      const fresh = [work];
      queues.set(client, fresh);
      void drain(client, fresh);
    }
  };

  return (client, packet, callback) => {
    if (!client) return callback(null);
    const topic = packet.topic;
    // $-topics belong to the broker [MQTT-4.7.2-1]; a device publishing there is misbehaving.
    if (topic.startsWith('$')) return callback(new Error('Publishing to $ topics is not allowed'));
    // A connection over its publish rate is dropped: it is flooding, not polling.
    if (!ctx.publishRate.take(client, topic)) return callback(new Error('publish rate exceeded'));
    // Not kp1, or a device echoing a response topic: acknowledged and dropped (never routed).
    if (!topic.startsWith('kp1/') || isResponseTopic(topic)) return callback(null);
    // Requests queued before the connection went over a budget are not stored either.
    inOrder(client, async () =>
      ctx.publishRate.isRefused(client) ? callback(new Error('publish rate exceeded')) : handleRequest(ctx, client, packet, callback),
    );
  };
}
