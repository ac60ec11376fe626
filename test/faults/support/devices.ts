// MQTT devices that behave like real ones across faults: they reconnect on their own
// (reconnectPeriod), re-bind on every connection with a command request per observed type
// (which also brings the backlog), record every command they are sent, and de-duplicate by id.
import mqtt, { type MqttClient } from 'mqtt';
import type { Endpoint } from './api.ts';

export interface Delivery {
  id: number;
  payload: unknown;
  commandType: string;
  /** The token in the topic the command arrived on. */
  token: string;
  topic: string;
  at: number;
  /** Which connection (1 = first) it arrived on. */
  connection: number;
  seq: number;
}

let requestIds = 0;
const nextRequestId = () => (requestIds = (requestIds % 1_000_000_000) + 1);

const COMMAND_TOPIC = /^kp1\/([^/]+)\/cex\/([^/]+)\/command\/([^/]+)(?:\/\d+)?\/status$/;

/** How a result publish ended (FaultDevice.resultOutcome). */
export type ResultOutcome = 'acked' | 'closed' | 'timeout' | 'offline';

export class FaultDevice {
  readonly client: MqttClient;
  readonly deliveries: Delivery[] = [];
  /** Every message, for the wrong-device check (anything on another token is a leak). */
  readonly topics: string[] = [];
  connections = 0;
  /** Connections on which the binding request was acknowledged with a reply. */
  boundConnections = 0;
  private seq = 0;
  closed = false;

  constructor(
    url: string,
    readonly endpoint: Endpoint,
    readonly types: string[],
    opts: { reconnectPeriod?: number; clientId?: string; port?: number } = {},
  ) {
    this.client = mqtt.connect(url, {
      protocolVersion: 4,
      clientId: opts.clientId ?? `dev-${endpoint.token}`,
      reconnectPeriod: opts.reconnectPeriod ?? 200,
      connectTimeout: 5_000,
      keepalive: 30,
      clean: true,
    });
    this.client.on('error', () => {});
    this.client.on('connect', () => {
      this.connections++;
      const connection = this.connections;
      (this.client.stream as { setNoDelay?: (on: boolean) => void }).setNoDelay?.(true);
      for (const type of this.types) {
        const topic = `kp1/${endpoint.appVersion}/cex/${endpoint.token}/command/${type}/${nextRequestId()}`;
        this.client.publish(topic, '{"observe":true}', { qos: 1 }, (error) => {
          if (!error && this.connections === connection) this.boundConnections = Math.max(this.boundConnections, connection);
        });
      }
    });
    this.client.on('message', (topic, payload) => {
      this.topics.push(topic);
      const match = COMMAND_TOPIC.exec(topic);
      if (!match) return;
      let list: { id: number; payload?: unknown }[];
      try {
        list = JSON.parse(payload.toString('utf8'));
      } catch {
        return;
      }
      if (!Array.isArray(list)) return;
      for (const c of list) {
        this.deliveries.push({
          id: c.id,
          payload: c.payload,
          commandType: match[3]!,
          token: match[2]!,
          topic,
          at: Date.now(),
          connection: this.connections,
          seq: this.seq++,
        });
      }
    });
  }

  get connected(): boolean {
    return this.client.connected;
  }

  /** The distinct command ids received (optionally only from `since` on, by seq). */
  ids(since = 0): Set<number> {
    return new Set(this.deliveries.filter((d) => d.seq >= since).map((d) => d.id));
  }

  get mark(): number {
    return this.seq;
  }

  /**
   * Publishes a result batch at QoS 1. Resolves true when the PUBACK arrived, false when the
   * connection closed first or `timeoutMs` passed (mqtt.js may still resend it after a reconnect:
   * an acknowledgement that arrives later is reported through `onLateAck`).
   */
  async result(...args: Parameters<FaultDevice['resultOutcome']>): Promise<boolean> {
    return (await this.resultOutcome(...args)) === 'acked';
  }

  /**
   * Like result, telling the failures apart: `closed` when the connection closed before the
   * PUBACK, `timeout` when it stayed open without one, `offline` when it was not connected.
   */
  async resultOutcome(
    commandType: string,
    results: { id: number; statusCode: number; reasonPhrase?: string; payload?: unknown }[],
    timeoutMs = 10_000,
    onLateAck?: () => void,
  ): Promise<ResultOutcome> {
    if (!this.client.connected) return 'offline';
    const topic = `kp1/${this.endpoint.appVersion}/cex/${this.endpoint.token}/result/${commandType}`;
    let settled = false;
    return new Promise<ResultOutcome>((resolve) => {
      const finish = (outcome: ResultOutcome) => {
        if (settled) {
          if (outcome === 'acked') onLateAck?.();
          return;
        }
        settled = true;
        clearTimeout(timer);
        this.client.off('close', onClose);
        resolve(outcome);
      };
      const onClose = () => finish('closed');
      const timer = setTimeout(() => finish('timeout'), timeoutMs);
      this.client.once('close', onClose);
      this.client.publish(topic, JSON.stringify(results), { qos: 1 }, (error) => finish(error ? 'closed' : 'acked'));
    });
  }

  /** Waits (bounded) until the device is connected and its binding request was answered on this connection. */
  async bound(ms = 20_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!(this.client.connected && this.boundConnections === this.connections && this.connections > 0)) {
      if (Date.now() > deadline) throw new Error(`device ${this.endpoint.token} not bound within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  /** Drops the TCP connection from the device's side (mqtt.js reconnects after reconnectPeriod). */
  cutLink(): void {
    this.client.stream?.destroy();
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.client.endAsync(true).catch(() => {});
  }
}
