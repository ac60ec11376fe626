// HTTP listener limits: slow clients are cut off by the headers and request timeouts (long polls
// and answers in general are not), and one address holds at most so many connections.
import { connect as tcpConnect, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint, invokeCommand } from './support/api.ts';
import { testConfig, waitFor } from './support/app.ts';
import { sleep, startLoggedApp, type LoggedApp } from './support/security.ts';

/** A raw TCP connection to the HTTP listener that records what the server sends and when it closes. */
class RawHttp {
  received = '';
  closedAt: number | undefined;
  readonly openedAt = Date.now();

  private constructor(readonly socket: Socket) {
    socket.on('data', (data: Buffer) => (this.received += data.toString('latin1')));
    socket.on('error', () => {});
    socket.once('close', () => (this.closedAt = Date.now()));
  }

  static open(port: number): Promise<RawHttp> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawHttp(socket));
      });
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  /** Writes `text` a few bytes at a time, every `gapMs`, until it is written or the socket closes. */
  async trickle(text: string, gapMs: number): Promise<void> {
    for (let i = 0; i < text.length && !this.closed; i += 4) {
      this.socket.write(text.slice(i, i + 4));
      await sleep(gapMs);
    }
  }

  /** Sends a complete GET and resolves with the status line's code, or 'closed'. */
  async get(path: string): Promise<number | 'closed'> {
    this.socket.write(`GET ${path} HTTP/1.1\r\nhost: test\r\n\r\n`);
    await waitFor(() => this.closed || /^HTTP\/1\.1 \d{3}/.test(this.received), 5_000, () => `no answer to GET ${path}`);
    const match = /^HTTP\/1\.1 (\d{3})/.exec(this.received);
    return match ? Number(match[1]) : 'closed';
  }
}

const timeouts = { headersTimeoutMs: 500, requestTimeoutMs: 1_000 };

describe('timeouts', () => {
  let logged: LoggedApp;
  let app: App;
  beforeAll(async () => {
    logged = await startLoggedApp({ http: { ...testConfig().http, ...timeouts } }, 'info');
    app = logged.app;
  });
  afterAll(() => app?.stop());

  it('closes a connection whose headers trickle in, with 408, after the headers timeout', async () => {
    const raw = await RawHttp.open(app.httpPort);
    // Headers that would take ~6 s to arrive, one byte group every 50 ms.
    void raw.trickle(`GET /healthz HTTP/1.1\r\nhost: test\r\n${'x-slow: ' + 'a'.repeat(400)}\r\n\r\n`, 50);
    await waitFor(() => raw.closed, 5_000, () => 'the slow-header connection is still open');
    expect(raw.closedAt! - raw.openedAt).toBeLessThan(3_000);
    expect(raw.received).toMatch(/^HTTP\/1\.1 408/);
  });

  it('closes a connection whose body trickles in after the request timeout', async () => {
    const fx = await createEndpoint(app);
    const raw = await RawHttp.open(app.httpPort);
    const body = JSON.stringify({ sample: 'b'.repeat(400) });
    raw.socket.write(
      `POST /kp1/${fx.appVersion}/dcx/${fx.token}/json HTTP/1.1\r\nhost: test\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`,
    );
    void raw.trickle(body, 50);
    await waitFor(() => raw.closed, 6_000, () => 'the slow-body connection is still open');
    expect(raw.closedAt! - raw.openedAt).toBeLessThan(4_000);
  });

  it('does not cut an answer that takes longer than the request timeout: a long poll completes', async () => {
    const fx = await createEndpoint(app);
    const started = Date.now();
    const pending = fetch(`${app.url}/kp1/${fx.appVersion}/cex/${fx.token}/command/reboot?wait=3`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: '{}',
    });
    await sleep(2_000);
    const command = await invokeCommand(app, fx.endpointId, 'reboot');
    const res = await pending;
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual([{ id: Number(command.id) }]);
    expect(Date.now() - started).toBeGreaterThan(timeouts.requestTimeoutMs);
  });

  it('keeps a well-behaved keep-alive connection across requests', async () => {
    const raw = await RawHttp.open(app.httpPort);
    expect(await raw.get('/healthz')).toBe(200);
    raw.received = '';
    await sleep(timeouts.requestTimeoutMs + 500);
    expect(await raw.get('/healthz')).toBe(200);
    raw.socket.destroy();
  });
});

describe('connections per address', () => {
  let logged: LoggedApp;
  let app: App;
  const max = 3;
  beforeAll(async () => {
    logged = await startLoggedApp({ http: { ...testConfig().http, maxConnectionsPerAddress: max } }, 'info');
    app = logged.app;
  });
  afterAll(() => app?.stop());

  it('refuses connections beyond the cap by closing them, logs that once, and accepts again when one closes', async () => {
    const held = await Promise.all(Array.from({ length: max }, () => RawHttp.open(app.httpPort)));
    for (const raw of held) expect(await raw.get('/healthz')).toBe(200);

    const refused = await Promise.all([RawHttp.open(app.httpPort), RawHttp.open(app.httpPort)]);
    for (const raw of refused) {
      await waitFor(() => raw.closed, 3_000, () => 'a connection over the cap is open');
      expect(raw.received).toBe('');
    }
    const warnings = logged.text().split('\n').filter((line) => line.includes('HTTP connections refused'));
    expect(warnings).toHaveLength(1);
    expect(JSON.parse(warnings[0]!)).toMatchObject({ level: 40, address: '127.0.0.1', max });

    held[0]!.socket.destroy();
    await waitFor(() => held[0]!.closed, 3_000, () => 'not closed');
    await sleep(100);
    const next = await RawHttp.open(app.httpPort);
    expect(await next.get('/healthz')).toBe(200);
    for (const raw of [...held, next]) raw.socket.destroy();
  });
});
