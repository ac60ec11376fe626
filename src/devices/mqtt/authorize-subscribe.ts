// SUBSCRIBE: only filters pinned to one literal token the connection may use (kp1.md §2);
// `#`, `kp1/#`, `kp1/+/cex/+/…`, `$SYS/#` and the like are refused with SUBACK 0x80. A granted
// subscription binds the connection to the token's endpoint.
import type { Aedes } from 'aedes';
import { Kp1Failure } from '../kp1/errors.ts';
import type { MqttContext } from './context.ts';
import { bindConnection } from './push.ts';
import { subscriptionPin } from './topics.ts';

export function authorizeSubscribe(ctx: MqttContext): Aedes['authorizeSubscribe'] {
  return (client, subscription, callback) => {
    // Each filter costs a lookup: SUBSCRIBE floods count against the same rate as PUBLISH.
    if (!ctx.publishRate.take(client)) return callback(new Error('subscribe rate exceeded'), null);
    const pin = subscriptionPin(subscription.topic);
    if (!pin) return callback(null, null);
    ctx.dispatcher
      .identify(pin.token, pin.appVersion, ctx.logins.credentialsOf(client))
      .then((identity) => {
        bindConnection(ctx, client, identity);
        ctx.sessions.subscribed(client, subscription.topic);
        callback(null, subscription);
      })
      .catch((error: unknown) => {
        if (!(error instanceof Kp1Failure)) ctx.log.warn({ err: error }, 'subscription check failed');
        callback(null, null);
      });
  };
}
