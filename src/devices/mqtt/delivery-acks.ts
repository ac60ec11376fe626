// Proof of delivery over MQTT: a QoS 1 packet that carries commands (a push, or a reply to a
// command request) is delivered when the device's PUBACK for it arrives [MQTT-4.3.2] (PUBREC
// for a QoS 2 reply [MQTT-4.3.3]), not when it is written. aedes has no hook for this: its 'ack' event names the original packet only for
// persistent sessions (clean ones keep no outgoing store), and it picks packet ids itself when
// the packet is written. So the id is picked here instead, from the connection's own counter,
// when the forwarding hook sees the packet (aedes keeps an id already set, QoSPacket), and the
// PUBACKs are read from the connection's parser. Relies on aedes 1.2 (see aedes-internals.ts).
import type { Client } from 'aedes';

/** Command ids carried by a packet payload the server addresses to one connection. */
const carried = new WeakMap<Buffer, readonly number[]>();
/** Per connection: packet id → command ids, until the PUBACK. */
const unacknowledged = new WeakMap<Client, Map<number, readonly number[]>>();
/** A device that never acknowledges must not grow this without bound; the oldest go first. */
const MAX_UNACKNOWLEDGED = 1024;

interface AedesClientIds {
  _nextId: number;
}

interface ForwardedPacket {
  qos: number;
  payload: unknown;
  messageId?: number;
}

/** Marks a payload as carrying these commands (called when it is sent). */
export function carries(payload: Buffer, commandIds: readonly number[]): void {
  if (commandIds.length > 0) carried.set(payload, commandIds);
}

/**
 * Gives a QoS 1 packet that carries commands its packet id now, the way aedes' QoSPacket would
 * (same counter, same wrap at 65535), and remembers which commands its PUBACK will prove.
 */
export function expectAck(client: Client, packet: ForwardedPacket): void {
  const ids = packet.qos > 0 && Buffer.isBuffer(packet.payload) ? carried.get(packet.payload) : undefined;
  if (!ids) return;
  const counter = client as unknown as AedesClientIds;
  const messageId = counter._nextId;
  counter._nextId = messageId >= 65535 ? 1 : messageId + 1;
  packet.messageId = messageId;
  let waiting = unacknowledged.get(client);
  if (!waiting) unacknowledged.set(client, (waiting = new Map()));
  waiting.delete(messageId);
  waiting.set(messageId, ids);
  if (waiting.size > MAX_UNACKNOWLEDGED) waiting.delete(waiting.keys().next().value!);
}

type PacketListener = (this: { client: Client }, packet: { cmd: string; messageId?: number }) => void;
/** One parser listener per `onAck`, shared by every connection (it finds its own as `this.client`). */
const listeners = new WeakMap<(commandIds: readonly number[]) => void, PacketListener>();

/** Calls `onAck` with the commands of every PUBACK the connection sends for such a packet. */
export function watchAcks(client: Client, onAck: (commandIds: readonly number[]) => void): void {
  const parser = (client as unknown as { _parser?: { client?: Client; on(event: 'packet', listener: PacketListener): void } })._parser;
  if (!parser || parser.client !== client || typeof parser.on !== 'function' || typeof (client as unknown as AedesClientIds)._nextId !== 'number') {
    throw new Error('aedes internals changed: cannot match PUBACKs to packets');
  }
  let listener = listeners.get(onAck);
  if (!listener) {
    listener = function acknowledged(packet) {
      if ((packet.cmd !== 'puback' && packet.cmd !== 'pubrec') || packet.messageId === undefined) return;
      const waiting = unacknowledged.get(this.client);
      const ids = waiting?.get(packet.messageId);
      if (!ids) return;
      waiting!.delete(packet.messageId);
      // Most connections are idle between pushes: they hold no map meanwhile.
      if (waiting!.size === 0) unacknowledged.delete(this.client);
      onAck(ids);
    };
    listeners.set(onAck, listener);
  }
  parser.on('packet', listener);
}
