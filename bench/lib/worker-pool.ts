// The run's load generators and helper servers: every worker started is tracked so a failed or
// interrupted run stops them all, and each device fleet gets a source address of its own.
import { WorkerProcess, stopAll } from './worker.ts';

export class WorkerPool {
  private readonly live = new Set<WorkerProcess>();
  private addressCounter = 1;

  constructor(private readonly nofile: number) {}

  async start(script: string, name: string, nodeArgs?: string[]): Promise<WorkerProcess> {
    const w = await WorkerProcess.start(script, name, { nofile: this.nofile, nodeArgs });
    this.live.add(w);
    return w;
  }

  async stop(...ws: (WorkerProcess | undefined)[]): Promise<void> {
    await stopAll(ws);
    for (const w of ws) if (w) this.live.delete(w);
  }

  async stopAll(): Promise<void> {
    await stopAll(this.live).catch(() => {});
    this.live.clear();
  }

  /** A fresh source address per fleet worker (127.0.0.2 …): no TIME_WAIT carried between fleets. */
  nextAddress(): string {
    this.addressCounter++;
    return `127.0.${Math.floor(this.addressCounter / 250)}.${(this.addressCounter % 250) + 1}`;
  }
}
