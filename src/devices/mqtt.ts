// kp1 over MQTT 3.1.1: an embedded aedes broker whose hooks hand every kp1 PUBLISH to the same
// dispatch HTTP uses. The broker is not a relay: nothing a device publishes is forwarded to
// other connections. Replies (`/status`, `/error`) and command pushes are written straight to
// the connection they are for (kp1.md §2, "Push": Kaa pushes to the token's connection whether
// or not it subscribed).
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { Aedes, type Client } from 'aedes';
import type { CommandService } from '../domain/commands.ts';
import type { Command } from '../domain/types.ts';
import type { EventBus } from '../events/bus.ts';
import type { Logger } from '../logger.ts';
import type { RegistryService } from '../domain/registry.ts';
import type { Kp1Dispatcher } from './kp1/dispatch.ts';
import { AddressConnections, PublishRate, capPacketSize, idleLimit, type MqttLimits } from './mqtt-limits.ts';
import {
  Kp1Failure,
  errorTopic,
  formatCommands,
  formatError,
  isResponseTopic,
  parseTopic,
  pushTopic,
  statusTopic,
  subscriptionPin,
  type Kp1Error,
} from './kp1/grammar.ts';
import { DeviceSessions, type Binding, type SessionListener } from './sessions.ts';

export interface MqttOptions {
  host: string;
  port: number;
  dispatcher: Kp1Dispatcher;
  commands: CommandService;
  registry: RegistryService;
  bus: EventBus;
  limits: MqttLimits;
  log: Logger;
  presence?: SessionListener;
}

export interface MqttServer {
  readonly port: number;
  readonly sessions: DeviceSessions;
  close(): Promise<void>;
}

const noop = () => {};
type PublishPacket = Parameters<Aedes['authorizePublish']>[1];

export async function startMqtt(opts: MqttOptions): Promise<MqttServer> {
  const { dispatcher, commands, registry, bus, limits, log } = opts;
  const sessions = new DeviceSessions(opts.presence);
  const addresses = new AddressConnections(limits.maxConnectionsPerAddress);
  const publishRate = new PublishRate(limits.maxPublishesPerSecond);
  /** Endpoints each connection authenticated as with MQTT credentials, and the reverse. */
  const credentialed = new WeakMap<Client, Set<string>>();
  const byCredentials = new Map<string, Set<Client>>();
  const credentialsOf = (client: Client) => ({ endpointIds: credentialed.get(client) });
  const authenticatedAs = (client: Client, endpointId: string) => {
    credentialed.set(client, new Set([endpointId]));
    let clients = byCredentials.get(endpointId);
    if (!clients) byCredentials.set(endpointId, (clients = new Set()));
    clients.add(client);
    client.conn.once('close', () => {
      clients.delete(client);
      if (clients.size === 0 && byCredentials.get(endpointId) === clients) byCredentials.delete(endpointId);
    });
  };
  /** Payloads of the packets the server itself addresses to one connection (replies, pushes). */
  const addressed = new WeakSet<Buffer>();
  const broker = await Aedes.createBroker({
    connectTimeout: 10_000,
    // A connection that does not read what it is sent for this long is dropped (frozen devices
    // must not pin memory).
    drainTimeout: limits.drainTimeoutMs,
  });

  // Each connection's requests are handled one at a time, in arrival order, so replies and
  // PUBACKs keep the order of the requests [MQTT-4.6.0-2].
  const chains = new WeakMap<Client, Promise<void>>();
  const inOrder = (client: Client, work: () => Promise<void>) => {
    const next = (chains.get(client) ?? Promise.resolve()).then(work, work);
    chains.set(client, next);
  };

  const send = (client: Client, topic: string, payload: string) => {
    if (client.closed) return;
    const body = Buffer.from(payload);
    addressed.add(body);
    // aedes requires the callback (it calls it when the packet is written).
    client.publish({ cmd: 'publish', topic, payload: body, qos: 1, dup: false, retain: false }, noop);
  };
  const sendError = (client: Client, topic: string, error: Kp1Error) => send(client, topic, formatError(error));

  /**
   * A reply goes to the connection that asked, whether or not it subscribed (Kaa's clients
   * often do not), and, as on any MQTT broker, to the endpoint's other connections subscribed
   * to the reply topic (e.g. a mosquitto_sub beside a mosquitto_pub). Each gets one copy.
   */
  const reply = (requester: Client, endpointId: string, topic: string, payload: string) => {
    send(requester, topic, payload);
    for (const binding of sessions.bindingsOf(endpointId)) {
      if (binding.client !== requester && sessions.isSubscribedTo(binding.client, topic)) send(binding.client, topic, payload);
    }
  };

  const push = (binding: Binding, commandType: string, list: Command[]): void => {
    const { client } = binding;
    if (client.closed || binding.optedOut?.has(commandType)) return;
    // A subscription can bind a connection before aedes marks it connected (CONNACK pending).
    if (!client.connected) {
      client.once('connected', () => push(binding, commandType, list));
      return;
    }
    send(client, pushTopic(binding.appVersion, binding.token, commandType), formatCommands(list));
  };

  /** The backlog on binding (kp1.md §2, ours): every outstanding type but the one just asked for. */
  const pushBacklog = async (binding: Binding, except?: string) => {
    const byType = new Map<string, Command[]>();
    for (const c of await commands.outstanding(binding.endpointId)) {
      if (c.commandType === except) continue;
      byType.set(c.commandType, [...(byType.get(c.commandType) ?? []), c]);
    }
    for (const [type, list] of byType) push(binding, type, list);
  };

  const bindConnection = (client: Client, identity: Parameters<DeviceSessions['bind']>[1], except?: string) => {
    const { binding, created } = sessions.bind(client, identity);
    if (created) {
      client.conn.once('close', () => sessions.unbindClient(client));
      pushBacklog(binding, except).catch((error: unknown) =>
        log.warn({ err: error, endpointId: binding.endpointId }, 'could not push the backlog'),
      );
    }
    return binding;
  };

  broker.preConnect = (_client, packet, callback) => {
    // Wills on kp1 topics would let a connection publish in a device's name after it is gone.
    if (packet.will && packet.will.topic.startsWith('kp1/')) {
      callback(new Error('A Will on a kp1 topic is not allowed'), false);
      return;
    }
    // A huge keepalive would keep dead connections around for hours [MQTT-3.1.2-24].
    const keepalive = packet.keepalive ?? 0;
    if (keepalive > limits.maxKeepaliveSeconds) {
      callback(new Error(`keepalive above ${limits.maxKeepaliveSeconds} s`), false);
      return;
    }
    // Keepalive 0 turns the broker's check off; such a connection is still dropped after
    // 1.5 × the limit without traffic either way, as if it had asked for the limit.
    if (keepalive === 0) idleLimit(_client.conn as Socket, limits.maxKeepaliveSeconds * 1_500);
    callback(null, true);
  };

  broker.authenticate = (client, username, password, callback) => {
    const refuse = (returnCode: 2 | 4, message: string) =>
      callback(Object.assign(new Error(message), { returnCode }) as Parameters<typeof callback>[0], false);
    const decide = async () => {
      let endpointId: string | undefined;
      if (username !== undefined && username !== '') {
        const endpoint = await registry.endpointByCredentials(username, password?.toString('utf8') ?? '');
        if (!endpoint) return refuse(4, 'bad username or password');
        endpointId = endpoint.id;
      }
      // Client-id takeover [MQTT-3.1.4-2] would let anyone who knows a device's client id kick
      // it off. A client id in use by a connection that speaks for endpoints is only taken over
      // by a connection that authenticated as one of them; the device's own reconnect after a
      // dead link waits until the broker notices (1.5 × keepalive).
      const holder = sessions.boundClient(client.id);
      if (holder && holder.client !== client && !(endpointId && holder.endpointIds.includes(endpointId))) {
        return refuse(2, 'client id in use');
      }
      if (endpointId) authenticatedAs(client, endpointId);
      callback(null, true);
    };
    decide().catch((error: unknown) => {
      log.warn({ err: error }, 'MQTT authentication failed on the server side');
      callback(Object.assign(new Error('server unavailable'), { returnCode: 3 }) as Parameters<typeof callback>[0], false);
    });
  };

  broker.authorizePublish = (client, packet, callback) => {
    if (!client) return callback(null);
    const topic = packet.topic;
    // $-topics belong to the broker [MQTT-4.7.2-1]; a device publishing there is misbehaving.
    if (topic.startsWith('$')) return callback(new Error('Publishing to $ topics is not allowed'));
    // A connection over its publish rate is dropped: it is flooding, not polling.
    if (!publishRate.take(client)) return callback(new Error('publish rate exceeded'));
    // Not kp1, or a device echoing a response topic: acknowledged and dropped (never routed).
    if (!topic.startsWith('kp1/') || isResponseTopic(topic)) return callback(null);
    inOrder(client, () => handleRequest(client, packet, callback));
  };

  async function handleRequest(client: Client, packet: PublishPacket, ack: (error?: Error | null) => void) {
    const topic = packet.topic;
    let request;
    try {
      request = parseTopic(topic, { allowRequestId: true });
      // A retained kp1 message would be replayed to later subscribers as if just sent.
      if (packet.retain) throw new Kp1Failure(400, 'Retained messages are not allowed on kp1 topics');
    } catch (error) {
      ack(null);
      if (error instanceof Kp1Failure) sendError(client, errorTopic(topic), error.error);
      return;
    }
    const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
    const outcome = await dispatcher.dispatch(request, payload, credentialsOf(client));
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
      if (outcome.identity) reply(client, outcome.identity.endpoint.id, errorTopic(topic), text);
      else send(client, errorTopic(topic), text);
      return;
    }
    const replyTopic = statusTopic(request);
    // The reply carries the asked type's commands; without a request id there is no reply, so
    // the backlog on binding covers that type too.
    const binding = bindConnection(client, outcome.identity, replyTopic ? outcome.command?.commandType : undefined);
    if (outcome.command) {
      const { commandType, observe } = outcome.command;
      if (observe === false) (binding.optedOut ??= new Set()).add(commandType);
      if (observe === true) binding.optedOut?.delete(commandType);
    }
    if (replyTopic) reply(client, binding.endpointId, replyTopic, outcome.body);
  }

  // Drop every device-originated message after the hooks ran: the PUBACK is already written
  // when aedes calls publish, and kp1 traffic is never relayed between connections.
  const relay = broker.publish.bind(broker) as (packet: unknown, client: unknown, done?: unknown) => void;
  (broker as unknown as { publish: (...args: unknown[]) => void }).publish = (packet, client, done) => {
    if (client && typeof client === 'object') {
      if (typeof done === 'function') (done as () => void)();
      return;
    }
    relay(packet, client, done);
  };

  broker.authorizeSubscribe = (client, subscription, callback) => {
    // Each filter costs a lookup: SUBSCRIBE floods count against the same rate as PUBLISH.
    if (!publishRate.take(client)) return callback(new Error('subscribe rate exceeded'), null);
    const pin = subscriptionPin(subscription.topic);
    // Only filters pinned to one literal token (kp1.md §2): `#`, `kp1/#`, `kp1/+/cex/+/…`,
    // `$SYS/#` and the like are refused with SUBACK 0x80.
    if (!pin) return callback(null, null);
    dispatcher
      .identify(pin.token, pin.appVersion, credentialsOf(client))
      .then((identity) => {
        bindConnection(client, identity);
        sessions.subscribed(client, subscription.topic);
        callback(null, subscription);
      })
      .catch((error: unknown) => {
        if (!(error instanceof Kp1Failure)) log.warn({ err: error }, 'subscription check failed');
        callback(null, null);
      });
  };

  // Backstop: whatever path a message takes, a kp1 topic only ever reaches a connection that
  // presented that topic's token, or the one connection the server addressed it to (an error
  // reply to a request with an unknown token goes to the requester alone).
  broker.authorizeForward = (client, packet) => {
    if (!packet.topic.startsWith('kp1/') || addressed.has(packet.payload as Buffer)) return packet;
    const token = packet.topic.split('/')[3];
    return token !== undefined && sessions.isBoundToToken(client, token) ? packet : null;
  };

  const offCommands = bus.on('commandChanged', (command) => {
    if (command.status !== 'PENDING') return;
    for (const binding of sessions.bindingsOf(command.endpointId)) push(binding, command.commandType, [command]);
  });

  // Pushes of a gap in the event feed were lost: every bound connection gets its backlog again
  // (devices keep the first copy of a command id; kp1.md §2).
  const offMissed = bus.onMissed(() => {
    for (const binding of [...sessions.allBindings()]) {
      pushBacklog(binding).catch((error: unknown) =>
        log.warn({ err: error, endpointId: binding.endpointId }, 'could not push the backlog'),
      );
    }
  });

  // A revoked token or changed credentials end the endpoint's sessions at once: those bound
  // to it and those that logged in with its credentials, bound yet or not.
  const offAccess = bus.on('endpointAccessChanged', ({ endpointId }) => {
    for (const binding of [...sessions.bindingsOf(endpointId)]) binding.client.close();
    for (const client of [...(byCredentials.get(endpointId) ?? [])]) client.close();
  });

  broker.on('unsubscribe', (filters, client) => {
    for (const filter of filters) sessions.unsubscribed(client, filter);
  });
  broker.on('clientError', (client, error) => log.debug({ clientId: client?.id, err: error.message }, 'mqtt client error'));
  broker.on('connectionError', (_client, error) => log.debug({ err: error.message }, 'mqtt connection error'));

  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    socket.on('error', () => {});
    if (!addresses.admit(socket)) {
      log.warn({ address: socket.remoteAddress }, 'MQTT connection refused: too many from this address');
      socket.destroy();
      return;
    }
    // Small replies and pushes go out at once (no Nagle wait for the previous packet's ACK).
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    capPacketSize(broker.handle(socket), limits);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  log.info({ port, host: opts.host }, 'MQTT listening');

  return {
    port,
    sessions,
    async close() {
      offCommands();
      offAccess();
      offMissed();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
