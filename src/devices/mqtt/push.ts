// Command pushes (kp1.md §2, "Push"): a connection bound to an endpoint gets every new command of
// the endpoint, and on binding the backlog of commands already outstanding.
import type { Client } from 'aedes';
import type { Command } from '../../domain/types.ts';
import type { EventBus } from '../../events/bus.ts';
import { formatCommands } from '../kp1/bodies.ts';
import type { DeviceIdentity } from '../kp1/dispatch.ts';
import { pushTopic } from '../kp1/grammar.ts';
import type { Binding } from '../sessions.ts';
import type { MqttContext } from './context.ts';
import { send } from './deliver.ts';
import { pushWritten } from '../../metrics/devices.ts';

/** `startMs`: when the event being pushed was handled (performance.now()), for the latency metric. */
function push(ctx: MqttContext, binding: Binding, commandType: string, list: Command[], startMs?: number): void {
  const { client } = binding;
  if (client.closed || binding.optedOut?.has(commandType)) return;
  // A subscription can bind a connection before aedes marks it connected (CONNACK pending).
  if (!client.connected) {
    client.once('connected', () => push(ctx, binding, commandType, list, startMs));
    return;
  }
  const written = startMs === undefined ? undefined : pushWritten(startMs);
  send(ctx, client, pushTopic(binding.appVersion, binding.token, commandType), formatCommands(list), written);
}

/** The backlog on binding (kp1.md §2, ours): every outstanding type but the one just asked for. */
function pushBacklog(ctx: MqttContext, binding: Binding, except?: string): void {
  const run = async () => {
    const byType = new Map<string, Command[]>();
    for (const c of await ctx.commands.outstanding(binding.endpointId)) {
      if (c.commandType === except) continue;
      byType.set(c.commandType, [...(byType.get(c.commandType) ?? []), c]);
    }
    for (const [type, list] of byType) push(ctx, binding, type, list);
  };
  run().catch((error: unknown) => ctx.log.warn({ err: error, endpointId: binding.endpointId }, 'could not push the backlog'));
}

/**
 * Binds the connection to the endpoint it presented a token of; a new binding gets the backlog,
 * except the type `except` whose commands the caller is replying with.
 */
export function bindConnection(ctx: MqttContext, client: Client, identity: DeviceIdentity, except?: string): Binding {
  const { binding, created } = ctx.sessions.bind(client, identity);
  if (created) {
    client.conn.once('close', () => ctx.sessions.unbindClient(client));
    pushBacklog(ctx, binding, except);
  }
  return binding;
}

/** Pushes new commands to bound connections; returns the function that stops. */
export function pushCommands(ctx: MqttContext, bus: EventBus): () => void {
  const offCommands = bus.on('commandChanged', (command) => {
    if (command.status !== 'PENDING') return;
    const handledAt = performance.now();
    for (const binding of ctx.sessions.bindingsOf(command.endpointId)) push(ctx, binding, command.commandType, [command], handledAt);
  });

  // Pushes of a gap in the event feed were lost: every bound connection gets its backlog again
  // (devices keep the first copy of a command id; kp1.md §2).
  const offMissed = bus.onMissed(() => {
    for (const binding of [...ctx.sessions.allBindings()]) pushBacklog(ctx, binding);
  });

  return () => {
    offCommands();
    offMissed();
  };
}
