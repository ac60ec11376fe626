// Waiting for a device's result for `awaitTimeout` seconds. The wait listens on the command's
// route (events/bus.ts) first and reads the command after, so a result stored before the
// listener existed is seen by the read, and one stored after by the listener.
import type { CommandService } from '../domain/commands.ts';
import type { Command } from '../domain/types.ts';
import type { EventBus } from '../events/bus.ts';

export interface WaitOptions {
  seconds: number;
  /** The server is stopping: stop waiting (the caller answers 202). */
  shutdown?: AbortSignal;
  /** The client went away. */
  gone: Promise<void>;
}

/**
 * The command as last seen when the wait ends: EXECUTED or EXPIRED as soon as it is, or still
 * PENDING when the time is up, the client went away or the server is stopping.
 */
export async function awaitResult(bus: EventBus, commands: CommandService, command: Command, opts: WaitOptions): Promise<Command> {
  if (opts.seconds === 0 || opts.shutdown?.aborted) return command;
  let latest = command;
  let settle!: () => void;
  const settled = new Promise<void>((resolve) => (settle = resolve));
  const consider = (c: Command | null) => {
    // A read that started before the result landed must not undo what an event already told.
    if (!c || latest.status !== 'PENDING') return;
    latest = c;
    if (c.status !== 'PENDING') settle();
  };
  const reread = () => void commands.byId(command.id).then(consider, () => {});
  const offEvents = bus.on('commandChanged', consider, { commandId: command.id });
  // Events of a gap in the feed are lost: read the command again.
  const offMissed = bus.onMissed(reread);
  const onShutdown = () => settle();
  opts.shutdown?.addEventListener('abort', onShutdown, { once: true });
  const timer = setTimeout(() => settle(), opts.seconds * 1000);
  void opts.gone.then(() => settle());
  try {
    consider(await commands.byId(command.id).catch(() => null));
    await settled;
    return latest;
  } finally {
    clearTimeout(timer);
    offEvents();
    offMissed();
    opts.shutdown?.removeEventListener('abort', onShutdown);
  }
}
