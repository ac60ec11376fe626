// Open connections per source address, for listeners that face the internet (MQTT and HTTP):
// those over the cap are refused, and the refusals are logged once per address per period, so a
// client hammering the listener cannot flood the log. In a cluster the workers of a node count
// each other's connections too (cluster-share.ts), so the cap is per node, not per worker.
import type { Socket } from 'node:net';
import type { Logger } from '../logger.ts';
import { shareChannel } from './cluster-share.ts';

/** How often refusals for one address are logged at most. */
const WARN_EVERY_MS = 60_000;

export class AddressConnections {
  private readonly open = new Map<string, number>();
  /** When each address was last logged, oldest first. */
  private readonly warned = new Map<string, number>();
  /** Open connections per address on the node's other workers. */
  private readonly elsewhere = new Map<string, number>();
  private readonly report: ((address: string, delta: number) => void) | undefined;
  /** The close listener of every admitted socket: one for all, not a closure per connection. */
  private readonly closed: (this: Socket) => void;

  constructor(
    private readonly max: number,
    private readonly log: Logger,
    /** Names the listener in the log line. */
    private readonly listener: string,
  ) {
    this.report = shareChannel(`count:connections:${listener}`, (address, delta) => {
      const open = (this.elsewhere.get(address) ?? 0) + delta;
      if (open > 0) this.elsewhere.set(address, open);
      else this.elsewhere.delete(address);
    });
    const release = (socket: Socket) => this.release(socket);
    this.closed = function closed(this: Socket) {
      release(this);
    };
  }

  /**
   * False when the address already has `max` connections (the caller closes the socket);
   * otherwise counts the socket until it closes.
   */
  admit(socket: Socket, now = Date.now()): boolean {
    if (!this.count(socket, now)) return false;
    socket.on('close', this.closed);
    return true;
  }

  /** As `admit`, but the caller calls `release` when the socket closes (from a close listener
   *  it has anyway: every listener past two costs a socket a larger listener array). */
  count(socket: Socket, now = Date.now()): boolean {
    const address = socket.remoteAddress ?? 'unknown';
    const count = this.open.get(address) ?? 0;
    if (count + (this.elsewhere.get(address) ?? 0) >= this.max) {
      this.refused(address, now);
      return false;
    }
    this.open.set(address, count + 1);
    this.report?.(address, 1);
    return true;
  }

  /** Stops counting a socket `count` admitted (it closed). */
  release(socket: Socket): void {
    // Read when it was counted, so node still has it after the close.
    const address = socket.remoteAddress ?? 'unknown';
    this.report?.(address, -1);
    const left = (this.open.get(address) ?? 1) - 1;
    if (left > 0) this.open.set(address, left);
    else this.open.delete(address);
  }

  private refused(address: string, now: number): void {
    for (const [logged, at] of this.warned) {
      if (now - at < WARN_EVERY_MS) break;
      this.warned.delete(logged);
    }
    if (this.warned.has(address)) return;
    this.warned.set(address, now);
    this.log.warn(
      { address, max: this.max },
      `${this.listener} connections refused: too many from this address (logged once a minute per address)`,
    );
  }
}
