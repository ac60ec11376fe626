// CONNECT: what a connection may ask for (preConnect) and who it is (authenticate).
import type { Socket } from 'node:net';
import type { Aedes } from 'aedes';
import type { MqttContext } from './context.ts';
import { idleLimit } from './limits.ts';

export function preConnect(ctx: MqttContext): Aedes['preConnect'] {
  const { maxKeepaliveSeconds } = ctx.limits;
  return (client, packet, callback) => {
    // Wills on kp1 topics would let a connection publish in a device's name after it is gone.
    if (packet.will && packet.will.topic.startsWith('kp1/')) {
      callback(new Error('A Will on a kp1 topic is not allowed'), false);
      return;
    }
    // A huge keepalive would keep dead connections around for hours [MQTT-3.1.2-24].
    const keepalive = packet.keepalive ?? 0;
    if (keepalive > maxKeepaliveSeconds) {
      callback(new Error(`keepalive above ${maxKeepaliveSeconds} s`), false);
      return;
    }
    // Keepalive 0 turns the broker's check off; such a connection is still dropped after
    // 1.5 × the limit without traffic either way, as if it had asked for the limit.
    if (keepalive === 0) idleLimit(client.conn as Socket, maxKeepaliveSeconds * 1_500);
    callback(null, true);
  };
}

type AuthenticateCallback = Parameters<Aedes['authenticate']>[3];
type AuthenticateError = Parameters<AuthenticateCallback>[0];

/**
 * A username and password, when given, must be an endpoint's MQTT credentials (CONNACK 4
 * otherwise); the connection then speaks for that endpoint. Without them a connection is
 * anonymous until it presents tokens.
 */
export function authenticate(ctx: MqttContext): Aedes['authenticate'] {
  return (client, username, password, callback) => {
    const refuse = (returnCode: 2 | 3 | 4, message: string) =>
      callback(Object.assign(new Error(message), { returnCode }) as AuthenticateError, false);
    const decide = async () => {
      let endpointId: string | undefined;
      if (username !== undefined && username !== '') {
        const endpoint = await ctx.registry.endpointByCredentials(username, password?.toString('utf8') ?? '');
        if (!endpoint) return refuse(4, 'bad username or password');
        endpointId = endpoint.id;
      }
      // Client-id takeover [MQTT-3.1.4-2] would let anyone who knows a device's client id kick
      // it off. A client id in use by a connection that speaks for endpoints is only taken over
      // by a connection that authenticated as one of them; the device's own reconnect after a
      // dead link waits until the broker notices (1.5 × keepalive).
      const holder = ctx.sessions.boundClient(client.id);
      if (holder && holder.client !== client && !(endpointId && holder.endpointIds.includes(endpointId))) {
        // Also how a squatter holding the id shows up: the device it keeps out is refused here.
        ctx.log.warn(
          { clientId: client.id.slice(0, 256), address: (client.conn as Socket).remoteAddress, heldFor: holder.endpointIds },
          'MQTT client id takeover refused: the id is in use by a connection speaking for endpoints',
        );
        return refuse(2, 'client id in use');
      }
      if (endpointId) ctx.logins.add(client, endpointId);
      callback(null, true);
    };
    decide().catch((error: unknown) => {
      ctx.log.warn({ err: error }, 'MQTT authentication failed on the server side');
      refuse(3, 'server unavailable');
    });
  };
}
