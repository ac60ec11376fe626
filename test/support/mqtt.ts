// Real MQTT 3.1.1 devices for tests: mqtt.js over TCP against the app's broker, recording every
// message the server sends (subscribed or not: kp1 pushes arrive without a SUBSCRIBE).
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { expect } from 'vitest';
import type { App } from '../../src/app.ts';
import { invokeCommand, type Fixture } from './api.ts';

export interface Received {
  topic: string;
  text: string;
  retain: boolean;
  qos: number;
  /** Position in arrival order, for "after this point" questions. */
  seq: number;
}

export interface Reply {
  /** `status` for a success reply, `error` for a failure. */
  kind: 'status' | 'error';
  topic: string;
  text: string;
  /** The parsed payload; undefined for an empty payload. */
  json: any;
}

let requestCounter = 0;
/** A fresh request id per call in this worker, so replies never get mixed up. */
export function nextRequestId(): number {
  requestCounter = (requestCounter % 1_000_000) + 1;
  return requestCounter;
}

/** `kp1/{appVersion}/{extension}/{token}/{resource}` for a fixture (or explicit parts). */
export function kp1Topic(
  fx: Pick<Fixture, 'appVersion' | 'token'>,
  extension: 'cex' | 'dcx' | 'epmx',
  resource: string,
): string {
  return `kp1/${fx.appVersion}/${extension}/${fx.token}/${resource}`;
}

export class Device {
  readonly messages: Received[] = [];
  private seq = 0;
  private readonly waiters = new Set<() => void>();
  /** Resolves when the connection closes (one listener for all pending publishes). */
  private readonly closedPromise: Promise<void>;
  closed = false;

  constructor(readonly client: MqttClient) {
    client.on('message', (topic, payload, packet) => {
      this.messages.push({ topic, text: payload.toString('utf8'), retain: packet.retain, qos: packet.qos, seq: this.seq++ });
      for (const wake of [...this.waiters]) wake();
    });
    this.closedPromise = new Promise((resolve) =>
      client.on('close', () => {
        this.closed = true;
        resolve();
      }),
    );
    // An 'error' without a listener would crash the worker; tests look at `closed` instead.
    client.on('error', () => {});
  }

  /** The sequence number the next message will get (a mark for `since`). */
  get mark(): number {
    return this.seq;
  }

  /** Messages on exactly `topic` (optionally only those received at or after `since`). */
  on(topic: string, since = 0): Received[] {
    return this.messages.filter((m) => m.topic === topic && m.seq >= since);
  }

  /**
   * Resolves with `probe()` as soon as it returns a value (checked now and on every message),
   * or fails after `ms`.
   */
  private waitUntil<T>(probe: () => T | undefined, ms: number, describe: () => string): Promise<T> {
    const now = probe();
    if (now !== undefined) return Promise.resolve(now);
    return new Promise<T>((resolve, reject) => {
      const wake = () => {
        const value = probe();
        if (value === undefined) return;
        clearTimeout(timer);
        this.waiters.delete(wake);
        resolve(value);
      };
      const timer = setTimeout(() => {
        this.waiters.delete(wake);
        reject(new Error(`Timed out after ${ms} ms: ${describe()}`));
      }, ms);
      this.waiters.add(wake);
    });
  }

  private get transcript(): string {
    return JSON.stringify(this.messages.map((m) => [m.topic, m.text]));
  }

  /** Waits for the first message on `topic` received at or after `since`. */
  async next(topic: string, since = 0, ms = 10_000): Promise<Received> {
    return this.waitUntil(() => this.on(topic, since)[0], ms, () => `no message on ${topic}; got ${this.transcript}`);
  }

  /** Waits until `pred` holds for the messages received so far. */
  async until(pred: (messages: Received[]) => boolean, ms = 10_000): Promise<Received[]> {
    return this.waitUntil(() => (pred(this.messages) ? this.messages : undefined), ms, () => this.transcript);
  }

  /**
   * PUBLISH and wait for the PUBACK (QoS 1 by default). Rejects if the server closes the
   * connection first (mqtt.js would otherwise never settle a QoS 1 publish).
   */
  async publish(topic: string, payload: string | Buffer, opts: { qos?: 0 | 1 | 2; retain?: boolean } = {}): Promise<void> {
    const qos = opts.qos ?? 1;
    if (this.closed) throw new Error('connection closed');
    const closed = this.closedPromise.then(() => {
      throw new Error(`connection closed before the PUBACK of ${topic}`);
    });
    closed.catch(() => {});
    await Promise.race([this.client.publishAsync(topic, payload, { qos, retain: opts.retain ?? false }), closed]);
  }

  /**
   * A kp1 request with a request id: publishes to `{topic}/{id}` and waits for the reply on
   * `{topic}/{id}/status` or `{topic}/{id}/error`.
   */
  async request(topic: string, payload: string | Buffer, opts: { retain?: boolean; ms?: number } = {}): Promise<Reply> {
    const requestTopic = `${topic}/${nextRequestId()}`;
    const since = this.mark;
    await this.publish(requestTopic, payload, { retain: opts.retain });
    const message = await this.waitUntil(
      () =>
        this.messages.find(
          (m) => m.seq >= since && (m.topic === `${requestTopic}/status` || m.topic === `${requestTopic}/error`),
        ),
      opts.ms ?? 10_000,
      () => `no reply to ${requestTopic}; got ${this.transcript}`,
    );
    return {
      kind: message.topic.endsWith('/status') ? 'status' : 'error',
      topic: message.topic,
      text: message.text,
      json: message.text === '' ? undefined : JSON.parse(message.text),
    };
  }

  /** SUBSCRIBE one filter and return the granted code (0x80 = refused), without rejecting. */
  subscribe(filter: string, qos: 0 | 1 = 1): Promise<number> {
    return new Promise((resolve, reject) => {
      this.client.subscribe(filter, { qos }, (error, granted, suback) => {
        const code = suback?.granted?.[0] ?? granted?.[0]?.qos;
        if (typeof code === 'number') return resolve(code);
        reject(error ?? new Error(`no SUBACK for ${filter}`));
      });
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.client.endAsync(true);
  }
}

const open = new Set<Device>();

/** Connects an MQTT 3.1.1 device to the app's broker (no auto-reconnect). */
export async function connectDevice(app: Pick<App, 'mqttUrl'>, opts: IClientOptions = {}): Promise<Device> {
  const client = await mqtt.connectAsync(
    app.mqttUrl,
    { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 10_000, ...opts },
    false,
  );
  // Without this, Nagle's algorithm and delayed ACKs add ~40 ms to every request/reply pair.
  (client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
  const device = new Device(client);
  open.add(device);
  return device;
}

/** Closes every device connected through connectDevice (call it in afterEach). */
export async function closeDevices(): Promise<void> {
  const all = [...open];
  open.clear();
  await Promise.all(all.map((d) => d.close().catch(() => {})));
}

/** The commands in a kp1 command list payload. */
export function commandsIn(text: string): { id: number; payload?: unknown }[] {
  const value = JSON.parse(text) as unknown;
  if (!Array.isArray(value)) throw new Error(`not a command list: ${text}`);
  return value as { id: number; payload?: unknown }[];
}

/** Every command id pushed or replied on any `.../command/{type}/...` topic of this device. */
export function idsReceived(device: Device, fx: Pick<Fixture, 'appVersion' | 'token'>, commandType: string): Set<number> {
  const prefix = kp1Topic(fx, 'cex', `command/${commandType}`);
  const ids = new Set<number>();
  for (const m of device.messages) {
    if (m.topic.startsWith(`${prefix}/`) && m.topic.endsWith('/status') && m.text !== '') {
      for (const c of commandsIn(m.text)) ids.add(c.id);
    }
  }
  return ids;
}

/** Binds the connection to the endpoint with a command request (kp1.md §2) and checks the reply. */
export async function bindDevice(device: Device, fx: Fixture, type = 'x'): Promise<void> {
  const reply = await device.request(kp1Topic(fx, 'cex', `command/${type}`), '{"observe":true}');
  expect(reply.kind, reply.text).toBe('status');
}

/**
 * Invokes a command and waits until it is pushed to the device: a barrier, since everything
 * pushed to it before has arrived too. Returns the command's id.
 */
export async function pushedTo(device: Device, app: App, fx: Fixture, type: string, payload: unknown = null): Promise<number> {
  const c = await invokeCommand(app, fx.endpointId, type, payload);
  await device.until(() => idsReceived(device, fx, type).has(Number(c.id)));
  return Number(c.id);
}
