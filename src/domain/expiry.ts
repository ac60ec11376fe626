// Expires commands whose retention for delivery has passed. Every process runs one; they share
// the work safely (SKIP LOCKED in the store), so a command expires within about one interval
// of its deadline however many processes there are. Device polls already hide a command past
// its deadline, so the sweep only decides when EXPIRED is recorded and announced. It also
// deletes idempotency keys past their 24 h.
import type { Logger } from '../logger.ts';
import type { CommandService } from './commands.ts';

export class ExpirySweeper {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private failing = false;

  constructor(
    private readonly commands: CommandService,
    private readonly intervalMs: number,
    private readonly log: Logger,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => this.tick(), this.intervalMs);
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  private tick(): void {
    if (this.running) return; // a slow sweep is never overlapped by the next
    this.running = this.commands
      .expireDue()
      .then(async (n) => {
        await this.commands.forgetOldIdempotencyKeys();
        if (n > 0) this.log.debug({ expired: n }, 'commands expired');
        if (this.failing) this.log.info('expiry sweeper recovered');
        this.failing = false;
      })
      .catch((error: unknown) => {
        // Log the first failure of a run of them, not one line per tick while the database is away.
        if (!this.failing) this.log.error({ err: error }, 'expiry sweep failed; retrying');
        this.failing = true;
      })
      .finally(() => {
        this.running = undefined;
      });
  }
}
