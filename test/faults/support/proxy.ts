// A TCP proxy between devices and the server's MQTT listener, so a test can cut every device
// link at once (both directions, as a dropped network path would look to both ends).
import { createServer, connect, type Server, type Socket } from 'node:net';

export class TcpProxy {
  private server: Server | undefined;
  private readonly pairs = new Set<[Socket, Socket]>();
  port = 0;
  cuts = 0;

  constructor(private readonly target: () => number) {}

  async start(): Promise<void> {
    this.server = createServer((client) => {
      const upstream = connect(this.target(), '127.0.0.1');
      const pair: [Socket, Socket] = [client, upstream];
      this.pairs.add(pair);
      const drop = () => {
        this.pairs.delete(pair);
        client.destroy();
        upstream.destroy();
      };
      client.on('error', drop).on('close', drop);
      upstream.on('error', drop).on('close', drop);
      client.pipe(upstream);
      upstream.pipe(client);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.port = (this.server!.address() as { port: number }).port;
  }

  get url(): string {
    return `mqtt://127.0.0.1:${this.port}`;
  }

  get open(): number {
    return this.pairs.size;
  }

  /** Drops every link now (RST both ways). */
  cutAll(): void {
    this.cuts++;
    for (const [a, b] of [...this.pairs]) {
      a.resetAndDestroy();
      b.resetAndDestroy();
    }
    this.pairs.clear();
  }

  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}
