// How a CONNECT is refused: an unsupported protocol level gets CONNACK 0x01 before the close
// [MQTT-3.1.2-2], and a refused client-id takeover is logged at warn (README "Security").
import mqttPacket from 'mqtt-packet';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint } from './support/api.ts';
import { unique } from './support/app.ts';
import { bindDevice, closeDevices, connectDevice } from './support/mqtt.ts';
import { RawMqtt, connackOf, connectPacket, startLoggedApp, type LoggedApp } from './support/security.ts';
import { IDENTIFIER_REJECTED } from './support/security-mqtt.ts';

const UNACCEPTABLE_PROTOCOL_VERSION = 1;

let logged: LoggedApp;
let app: App;
beforeAll(async () => {
  logged = await startLoggedApp({}, 'info');
  app = logged.app;
});
afterEach(() => closeDevices());
afterAll(() => app?.stop());

/** A 3.1.1 CONNECT whose protocol level byte says `level` (mqtt-packet only writes 3 to 5). */
function connectWithLevel(level: number): Buffer {
  const packet = Buffer.from(mqttPacket.generate(connectPacket()));
  // Fixed header (2 bytes for a short packet), protocol name "MQTT" (2 + 4), then the level.
  expect(packet.subarray(4, 8).toString()).toBe('MQTT');
  packet[8] = level;
  return packet;
}

describe('protocol level', () => {
  it.each([0, 1, 2, 6, 7, 100, 127])('level %i gets CONNACK 0x01, then the connection is closed', async (level) => {
    const raw = await RawMqtt.open(app.mqttPort);
    raw.write(connectWithLevel(level));
    const connack = await raw.next('connack', 3_000);
    expect(connack?.returnCode).toBe(UNACCEPTABLE_PROTOCOL_VERSION);
    expect(await raw.closedWithin(3_000)).toBe(true);
    expect(raw.garbled).toBe(false);
    raw.destroy();
  });

  it('level 5 (MQTT 5) gets CONNACK 0x01 in the 3.1.1 format too; 4 and 3 (MQTT 3.1) are served', async () => {
    expect(await connackOf(app.mqttPort, { protocolVersion: 5 })).toBe(UNACCEPTABLE_PROTOCOL_VERSION);
    expect(await connackOf(app.mqttPort, { protocolVersion: 4 })).toBe(0);
    expect(await connackOf(app.mqttPort, { protocolId: 'MQIsdp', protocolVersion: 3 })).toBe(0);
  });
});

describe('client-id takeover', () => {
  it('a refused takeover of a device connection is logged at warn, with the client id and address', async () => {
    const fx = await createEndpoint(app);
    const clientId = unique('squatted');
    const device = await connectDevice(app, { clientId });
    await bindDevice(device, fx);

    expect(await connackOf(app.mqttPort, { clientId })).toBe(IDENTIFIER_REJECTED);
    const lines = logged
      .text()
      .split('\n')
      .filter((line) => line.includes('client id takeover refused'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ level: 40, clientId, address: '127.0.0.1', heldFor: [fx.endpointId] });
    expect(device.closed).toBe(false);
  });
});
