// Helpers for the security and abuse tests: raw MQTT over TCP (to send what no well-behaved
// client sends and to read the exact CONNACK), raw graphql-ws sockets, and a captured log.
import { connect as tcpConnect, type Socket } from 'node:net';
import { Writable } from 'node:stream';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import WebSocket from 'ws';
import { createApp, type App } from '../../src/app.ts';
import type { Config } from '../../src/config.ts';
import { createLogger } from '../../src/logger.ts';
import { sharedPglite, testConfig, unique } from './app.ts';

export const MiB = 1024 * 1024;

let collectGarbage: (() => void) | undefined;
/**
 * process.memoryUsage() after a full garbage collection, so that before/after comparisons see
 * what is retained, not what happens to be collected in between. (`--expose-gc` can be turned
 * on at run time; a new context then sees `gc`.)
 */
export function retainedMemory(): NodeJS.MemoryUsage {
  if (!collectGarbage) {
    setFlagsFromString('--expose-gc');
    collectGarbage = runInNewContext('gc') as () => void;
  }
  collectGarbage();
  collectGarbage();
  return process.memoryUsage();
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A raw TCP connection to the MQTT listener that parses whatever the server sends back. */
export class RawMqtt {
  readonly packets: Packet[] = [];
  readonly openedAt = Date.now();
  closedAt: number | undefined;
  /** Whether the server answered with bytes that are not MQTT (never expected). */
  garbled = false;
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private readonly waiters = new Set<() => void>();

  private constructor(readonly socket: Socket) {
    this.parser.on('packet', (packet: Packet) => {
      this.packets.push(packet);
      this.wake();
    });
    this.parser.on('error', () => {
      this.garbled = true;
    });
    socket.on('data', (data: Buffer) => this.parser.parse(data));
    // Writes after the server closed fail with EPIPE/ECONNRESET: that is the expected outcome.
    socket.on('error', () => {});
    socket.once('close', () => {
      this.closedAt = Date.now();
      this.wake();
    });
  }

  static open(port: number): Promise<RawMqtt> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect(port, '127.0.0.1');
      socket.setNoDelay(true);
      socket.once('connect', () => {
        socket.off('error', reject);
        resolve(new RawMqtt(socket));
      });
      socket.once('error', reject);
    });
  }

  get closed(): boolean {
    return this.closedAt !== undefined;
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /** Resolves once `probe` returns a value, or with undefined after `ms`. */
  private until<T>(probe: () => T | undefined, ms: number): Promise<T | undefined> {
    const now = probe();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise((resolve) => {
      const done = (value: T | undefined) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(value);
      };
      const check = () => {
        const value = probe();
        if (value !== undefined) done(value);
      };
      const timer = setTimeout(() => done(undefined), ms);
      this.waiters.add(check);
    });
  }

  write(data: Packet | Buffer): boolean {
    if (this.socket.destroyed) return false;
    return this.socket.write(Buffer.isBuffer(data) ? data : mqttPacket.generate(data));
  }

  /** The first packet of this kind the server sent, or undefined if the socket closed / `ms` passed first. */
  next<C extends Packet['cmd']>(cmd: C, ms = 5_000): Promise<Extract<Packet, { cmd: C }> | undefined> {
    const find = () => this.packets.find((p) => p.cmd === cmd) as Extract<Packet, { cmd: C }> | undefined;
    return this.until(() => find() ?? (this.closed ? null : undefined), ms).then((p) => p ?? find());
  }

  /** Whether the server closes the socket within `ms` from now (true at once if it already has). */
  async closedWithin(ms: number): Promise<boolean> {
    await this.until(() => (this.closed ? true : undefined), ms);
    return this.closed;
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function connectPacket(fields: Partial<IConnectPacket> = {}): IConnectPacket {
  return {
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clean: true,
    clientId: unique('raw'),
    keepalive: 30,
    ...fields,
  };
}

/**
 * The first bytes of a packet that announces `remainingLength` bytes of body: the fixed header
 * byte and the variable-length integer [MQTT-2.2.3]. Nothing of the body follows.
 */
export function announce(headerByte: number, remainingLength: number): Buffer {
  const bytes = [headerByte];
  let rest = remainingLength;
  do {
    let digit = rest % 128;
    rest = Math.floor(rest / 128);
    if (rest > 0) digit |= 0x80;
    bytes.push(digit);
  } while (rest > 0);
  return Buffer.from(bytes);
}

export const CONNECT_HEADER = 0x10;
export const PUBLISH_HEADER = 0x30;

/**
 * Sends one CONNECT on a fresh socket and reports the CONNACK return code, or 'closed' when the
 * server closed the socket without one. The socket is closed afterwards.
 */
export async function connackOf(port: number, fields: Partial<IConnectPacket> = {}, ms = 5_000): Promise<number | 'closed' | 'silent'> {
  const raw = await RawMqtt.open(port);
  try {
    raw.write(connectPacket(fields));
    const connack = await raw.next('connack', ms);
    if (connack) return connack.returnCode ?? -1;
    return raw.closed ? 'closed' : 'silent';
  } finally {
    raw.destroy();
  }
}

/** A raw socket that completed CONNECT (CONNACK 0). */
export async function connectedRaw(port: number, fields: Partial<IConnectPacket> = {}): Promise<RawMqtt> {
  const raw = await RawMqtt.open(port);
  raw.write(connectPacket(fields));
  const connack = await raw.next('connack');
  if (connack?.returnCode !== 0) {
    raw.destroy();
    throw new Error(`CONNECT refused: ${connack ? `return code ${connack.returnCode}` : 'socket closed'}`);
  }
  return raw;
}

/** A log written into memory, and an app (like startApp's) that writes to it. */
export interface LoggedApp {
  app: App;
  text(): string;
}

export async function startLoggedApp(overrides: Partial<Config> = {}, level: Config['logLevel'] = 'trace'): Promise<LoggedApp> {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      chunks.push(chunk.toString());
      callback();
    },
  });
  const config = testConfig({ ...overrides, logLevel: level });
  const app = createApp(config, {
    pglite: config.database.kind === 'pglite' ? await sharedPglite() : undefined,
    logger: createLogger(level, stream),
  });
  await app.start();
  return { app, text: () => chunks.join('') };
}

/** A raw graphql-transport-ws socket that records how it was closed. */
export class RawWs {
  readonly messages: any[] = [];
  readonly openedAt = Date.now();
  close: { code: number; reason: string; at: number } | undefined;
  /** Set when the HTTP upgrade was refused (status code of the response). */
  refusedWith: number | undefined;
  readonly opened: Promise<boolean>;
  readonly socket: WebSocket;

  constructor(app: App, opts: { origin?: string } = {}) {
    this.socket = new WebSocket(`ws://127.0.0.1:${app.httpPort}/graphql`, 'graphql-transport-ws', { origin: opts.origin });
    this.socket.on('message', (data) => {
      try {
        this.messages.push(JSON.parse(data.toString()));
      } catch {
        this.messages.push(data.toString());
      }
    });
    this.opened = new Promise((resolve) => {
      this.socket.once('open', () => resolve(true));
      this.socket.once('unexpected-response', (_req, res) => {
        this.refusedWith = res.statusCode;
        resolve(false);
        this.socket.terminate();
      });
      this.socket.once('error', () => resolve(false));
    });
    this.socket.on('error', () => {});
    this.socket.once('close', (code, reason) => {
      this.close = { code, reason: reason.toString(), at: Date.now() };
    });
  }

  send(message: unknown): void {
    this.socket.send(typeof message === 'string' ? message : JSON.stringify(message));
  }

  end(): void {
    this.socket.terminate();
  }
}
