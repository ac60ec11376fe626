// Command pushes (kp1.md §2, "Push"): a connection bound to an endpoint gets every new command of
// the endpoint, and on binding the backlog of commands already outstanding.
import type { Client } from 'aedes';
import type { Command } from '../../domain/types.ts';
import type { EventBus } from '../../events/bus.ts';
import { formatAllCommands, formatCommands } from '../kp1/bodies.ts';
import type { DeviceIdentity } from '../kp1/dispatch.ts';
import { allTypesPushTopic, pushTopic } from '../kp1/grammar.ts';
import type { Binding } from '../sessions.ts';
import type { MqttContext } from './context.ts';
import { encodedOnce, send } from './deliver.ts';
import { pushWritten } from '../../metrics/devices.ts';

/** A list of commands to push, encoded once per form (per type, all types) however many
 *  connections it goes to. */
class PushBodies {
  readonly ids: readonly number[];
  private perType: (() => Buffer) | undefined;
  private allTypes: (() => Buffer) | undefined;

  constructor(private readonly list: readonly Command[]) {
    this.ids = list.map((c) => c.id);
  }

  forType(): Buffer {
    return (this.perType ??= encodedOnce(() => formatCommands(this.list)))();
  }

  forAllTypes(): Buffer {
    return (this.allTypes ??= encodedOnce(() => formatAllCommands(this.list)))();
  }
}

/** Commands of one type, or of any types for a connection observing all types. `startMs`: when
 *  the event being pushed was handled (performance.now()), for the latency metric. */
function push(ctx: MqttContext, binding: Binding, commandType: string | undefined, bodies: PushBodies, startMs?: number): void {
  const { client } = binding;
  if (client.closed || binding.allTypes === 'off') return;
  if (binding.allTypes !== 'observe' && commandType !== undefined && binding.optedOut?.has(commandType)) return;
  // A subscription can bind a connection before aedes marks it connected (CONNACK pending).
  if (!client.connected) {
    client.once('connected', () => push(ctx, binding, commandType, bodies, startMs));
    return;
  }
  const written = startMs === undefined ? undefined : pushWritten(startMs);
  if (binding.allTypes === 'observe') {
    send(ctx, client, allTypesPushTopic(binding.appVersion, binding.token), bodies.forAllTypes(), 1, written, bodies.ids);
  } else if (commandType !== undefined) {
    send(ctx, client, pushTopic(binding.appVersion, binding.token, commandType), bodies.forType(), 1, written, bodies.ids);
  }
}

/**
 * The backlog on binding (kp1.md §2, ours): every outstanding type but the one a reply carries
 * (`except.commandType`; undefined there: the all-types reply carries everything).
 */
function pushBacklog(ctx: MqttContext, binding: Binding, except?: { commandType: string | undefined }): void {
  if (except && except.commandType === undefined) return;
  const run = async () => {
    const outstanding = (await ctx.commands.outstanding(binding.endpointId)).filter((c) => c.commandType !== except?.commandType);
    // Read now: the request that made the binding may have switched it to all types meanwhile.
    if (binding.allTypes === 'observe') {
      if (outstanding.length > 0) push(ctx, binding, undefined, new PushBodies(outstanding));
      return;
    }
    const byType = new Map<string, Command[]>();
    for (const c of outstanding) byType.set(c.commandType, [...(byType.get(c.commandType) ?? []), c]);
    for (const [type, list] of byType) push(ctx, binding, type, new PushBodies(list));
  };
  run().catch((error: unknown) => ctx.log.warn({ err: error, endpointId: binding.endpointId }, 'could not push the backlog'));
}

/**
 * Binds the connection to the endpoint it presented a token of; a new binding gets the backlog,
 * except the commands the caller is replying with (`replied`: one type, or all types).
 */
export function bindConnection(
  ctx: MqttContext,
  client: Client,
  identity: DeviceIdentity,
  replied?: { commandType: string | undefined },
): Binding {
  const { binding, created } = ctx.sessions.bind(client, identity);
  if (!created) return binding;
  // The listener unbinds every connection when its socket closes (server.ts); one that closed
  // while its request was looked up is past that, and would stay bound for good.
  if (client.conn.destroyed) ctx.sessions.unbindClient(client);
  else pushBacklog(ctx, binding, replied);
  return binding;
}

/**
 * A command request's observe choice [11/CEP]: `false` stops pushes of that type (of every type
 * for the all-types resource), `true` resumes them; the all-types resource's `true` moves every
 * push to its own topic (kp1.md §2). Absent changes nothing.
 */
export function observe(binding: Binding, commandType: string | undefined, choice: boolean | undefined): void {
  if (choice === undefined) return;
  if (commandType === undefined) {
    binding.allTypes = choice ? 'observe' : 'off';
  } else if (choice) {
    binding.optedOut?.delete(commandType);
  } else {
    (binding.optedOut ??= new Set()).add(commandType);
  }
}

/** Pushes new commands to bound connections; returns the function that stops. */
export function pushCommands(ctx: MqttContext, bus: EventBus): () => void {
  const offCommands = bus.on('commandChanged', (command) => {
    if (command.status !== 'PENDING') return;
    const handledAt = performance.now();
    let bodies: PushBodies | undefined;
    for (const binding of ctx.sessions.bindingsOf(command.endpointId)) {
      push(ctx, binding, command.commandType, (bodies ??= new PushBodies([command])), handledAt);
    }
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
