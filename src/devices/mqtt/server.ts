// kp1 over MQTT 3.1.1: an embedded aedes broker whose hooks (one file each, as aedes' own
// lib/handlers) hand every kp1 PUBLISH to the same dispatch HTTP uses, and a TCP listener in
// front of it. The broker is not a relay: nothing a device publishes is forwarded to other
// connections; replies and command pushes are written to the connection they are for.
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { Aedes, type Client } from 'aedes';
import type { CommandService } from '../../domain/commands.ts';
import type { RegistryService } from '../../domain/registry.ts';
import type { EventBus } from '../../events/bus.ts';
import { AddressConnections } from '../../lib/address-connections.ts';
import type { Logger } from '../../logger.ts';
import type { Kp1Dispatcher } from '../kp1/dispatch.ts';
import { DeviceSessions, type SessionListener } from '../sessions.ts';
import { capPacketSize, dropClientPublishes, refuseProtocolLevels } from './aedes-internals.ts';
import { authenticate, preConnect } from './authenticate.ts';
import { authorizePublish } from './authorize-publish.ts';
import { authorizeSubscribe } from './authorize-subscribe.ts';
import { Logins, type MqttContext } from './context.ts';
import { authorizeForward } from './deliver.ts';
import { watchAcks } from './delivery-acks.ts';
import { PublishRate, type MqttLimits } from './limits.ts';
import { pushCommands } from './push.ts';
import { watchMqtt } from '../../metrics/devices.ts';

export interface MqttOptions {
  host: string;
  port: number;
  dispatcher: Kp1Dispatcher;
  commands: CommandService;
  registry: RegistryService;
  bus: EventBus;
  limits: MqttLimits;
  log: Logger;
  /** Told when this process starts and stops holding sessions for an endpoint. */
  presence?: SessionListener;
}

export interface MqttServer {
  readonly port: number;
  readonly sessions: DeviceSessions;
  close(): Promise<void>;
}

const ignore = () => {};

export async function startMqtt(opts: MqttOptions): Promise<MqttServer> {
  const { bus, limits, log } = opts;
  const ctx: MqttContext = {
    dispatcher: opts.dispatcher,
    commands: opts.commands,
    registry: opts.registry,
    sessions: new DeviceSessions(opts.presence),
    logins: new Logins(),
    limits,
    publishRate: new PublishRate(limits),
    addressed: new WeakMap(),
    log,
  };
  const broker = await Aedes.createBroker({
    connectTimeout: limits.connectTimeoutMs,
    // A connection that does not read what it is sent for this long is dropped (frozen devices
    // must not pin memory).
    drainTimeout: limits.drainTimeoutMs,
  });
  broker.preConnect = preConnect(ctx);
  broker.authenticate = authenticate(ctx);
  broker.authorizePublish = authorizePublish(ctx);
  broker.authorizeSubscribe = authorizeSubscribe(ctx);
  broker.authorizeForward = authorizeForward(ctx);
  dropClientPublishes(broker);
  broker.on('unsubscribe', (filters, client) => {
    for (const filter of filters) ctx.sessions.unsubscribed(client, filter);
  });
  broker.on('clientError', (client, error) => log.debug({ clientId: client?.id, err: error.message }, 'mqtt client error'));
  broker.on('connectionError', (_client, error) => log.debug({ err: error.message }, 'mqtt connection error'));

  const offPush = pushCommands(ctx, bus);
  // A revoked token or changed credentials end the endpoint's sessions at once: those bound
  // to it and those that logged in with its credentials, bound yet or not.
  const offAccess = bus.on('endpointAccessChanged', ({ endpointId }) => {
    for (const binding of [...ctx.sessions.bindingsOf(endpointId)]) binding.client.close();
    for (const client of [...ctx.logins.clientsOf(endpointId)]) client.close();
  });

  const addresses = new AddressConnections(limits.maxConnectionsPerAddress, log, 'MQTT');
  const sockets = new Set<Socket>();
  // What a connection leaves behind is forgotten by one listener shared by every socket (no
  // closure per connection: tens of thousands are held at once).
  const forget = function forget(this: Socket) {
    addresses.release(this);
    sockets.delete(this);
    const client = (this as Socket & { client?: Client }).client;
    if (!client) return;
    ctx.sessions.unbindClient(client);
    ctx.logins.remove(client);
  };
  const delivered = (commandIds: readonly number[]) => ctx.dispatcher.delivered(commandIds, 'MQTT');
  const server: Server = createServer((socket) => {
    socket.on('error', ignore);
    if (!addresses.count(socket)) {
      socket.destroy();
      return;
    }
    // Small replies and pushes go out at once (no Nagle wait for the previous packet's ACK).
    socket.setNoDelay(true);
    sockets.add(socket);
    socket.on('close', forget);
    const client = broker.handle(socket);
    capPacketSize(client, limits);
    refuseProtocolLevels(client);
    watchAcks(client, delivered);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, opts.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const port = (server.address() as AddressInfo).port;
  const offMetrics = watchMqtt({ sockets, sessions: ctx.sessions });
  log.info({ port, host: opts.host }, 'MQTT listening');

  return {
    port,
    sessions: ctx.sessions,
    async close() {
      offPush();
      offAccess();
      offMetrics();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      await new Promise<void>((resolve) => broker.close(() => resolve()));
      for (const socket of sockets) socket.destroy();
      await closed;
    },
  };
}
