// A small MQTT 3.1.1 client over one TCP socket (mqtt-packet's parser and generator, the same
// codec mqtt.js uses). The bench needs tens of thousands of connections from a few processes
// on a 2-core machine; mqtt.js's per-client stores, timers and reconnect logic cost more CPU and
// memory than the devices we simulate would. It speaks plain MQTT: CONNECT, PUBLISH QoS 0/1
// with PUBACK, SUBSCRIBE; incoming QoS 1 publishes are acknowledged at once.
import { connect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { now } from './clock.ts';

export interface ConnOptions {
  host: string;
  port: number;
  /** Source address (127.0.0.x) to spread connections over ephemeral port ranges. */
  localAddress?: string;
  clientId: string;
  /** 0 (default): no keepalive, so idle devices send nothing. */
  keepalive?: number;
  timeoutMs?: number;
}

type Pending = { resolve: (t: number) => void; reject: (e: Error) => void };

export class MqttConn {
  private socket: Socket | undefined;
  private readonly parser = mqttPacket.parser({ protocolVersion: 4 });
  private nextId = 0;
  private readonly acks = new Map<number, Pending>();
  private readonly subacks = new Map<number, { resolve: (granted: number[]) => void; reject: (e: Error) => void }>();
  /** Called for every PUBLISH the server sends (after the PUBACK is written for QoS 1). */
  onPublish: (topic: string, payload: Buffer) => void = () => {};
  onClose: () => void = () => {};
  closed = false;

  constructor(readonly options: ConnOptions) {}

  connect(): Promise<void> {
    const { host, port, localAddress, clientId, keepalive = 0, timeoutMs = 30_000 } = this.options;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.destroy();
        reject(error);
      };
      const timer = setTimeout(() => fail(new Error(`CONNACK timeout for ${clientId}`)), timeoutMs);
      const socket = connect({ host, port, localAddress, noDelay: true });
      this.socket = socket;
      socket.on('error', (error) => fail(error));
      socket.on('close', () => {
        this.closed = true;
        const error = new Error(`connection ${clientId} closed`);
        for (const p of this.acks.values()) p.reject(error);
        this.acks.clear();
        for (const p of this.subacks.values()) p.reject(error);
        this.subacks.clear();
        fail(error);
        this.onClose();
      });
      socket.on('connect', () => {
        socket.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId, keepalive }));
      });
      socket.on('data', (data) => this.parser.parse(data));
      this.parser.on('error', (error) => fail(error instanceof Error ? error : new Error(String(error))));
      this.parser.on('packet', (packet) => {
        switch (packet.cmd) {
          case 'connack':
            if (packet.returnCode !== 0) return fail(new Error(`CONNACK return code ${packet.returnCode}`));
            if (!settled) {
              settled = true;
              clearTimeout(timer);
              resolve();
            }
            return;
          case 'publish': {
            if (packet.qos === 1 && packet.messageId !== undefined) {
              socket.write(mqttPacket.generate({ cmd: 'puback', messageId: packet.messageId }));
            }
            const payload = typeof packet.payload === 'string' ? Buffer.from(packet.payload) : packet.payload;
            this.onPublish(packet.topic, payload);
            return;
          }
          case 'puback': {
            const p = this.acks.get(packet.messageId!);
            if (p) {
              this.acks.delete(packet.messageId!);
              p.resolve(now());
            }
            return;
          }
          case 'suback': {
            const p = this.subacks.get(packet.messageId!);
            if (p) {
              this.subacks.delete(packet.messageId!);
              p.resolve(packet.granted as number[]);
            }
            return;
          }
          default:
            return;
        }
      });
    });
  }

  private messageId(): number {
    for (let i = 0; i < 65535; i++) {
      this.nextId = (this.nextId % 65535) + 1;
      if (!this.acks.has(this.nextId) && !this.subacks.has(this.nextId)) return this.nextId;
    }
    throw new Error('no free MQTT message id');
  }

  /** QoS 1: resolves with the time (clock.now) the PUBACK arrived. QoS 0: when written. */
  publish(topic: string, payload: string | Buffer, qos: 0 | 1 = 1): Promise<number> {
    const socket = this.socket;
    if (!socket || this.closed) return Promise.reject(new Error('not connected'));
    const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
    if (qos === 0) {
      socket.write(mqttPacket.generate({ cmd: 'publish', topic, payload: body, qos: 0, dup: false, retain: false }));
      return Promise.resolve(now());
    }
    const messageId = this.messageId();
    return new Promise<number>((resolve, reject) => {
      this.acks.set(messageId, { resolve, reject });
      socket.write(mqttPacket.generate({ cmd: 'publish', topic, payload: body, qos: 1, messageId, dup: false, retain: false }));
    });
  }

  subscribe(topic: string, qos: 0 | 1 = 1): Promise<number[]> {
    const socket = this.socket;
    if (!socket || this.closed) return Promise.reject(new Error('not connected'));
    const messageId = this.messageId();
    return new Promise((resolve, reject) => {
      this.subacks.set(messageId, { resolve, reject });
      socket.write(mqttPacket.generate({ cmd: 'subscribe', messageId, subscriptions: [{ topic, qos }] }));
    });
  }

  /** Sends DISCONNECT and closes. */
  end(): void {
    if (!this.socket || this.closed) return;
    this.socket.end(mqttPacket.generate({ cmd: 'disconnect' }));
  }

  destroy(): void {
    this.socket?.destroy();
  }
}
