// Helpers shared by the security-mqtt-*.test.ts files: CONNACK codes, what mqtt.js gets for a
// CONNECT, a kp1 request over MQTT that must be refused, and a kp1 request over HTTP.
import mqtt, { type IClientOptions } from 'mqtt';
import { expect } from 'vitest';
import type { App } from '../../src/app.ts';
import type { Fixture } from './api.ts';
import type { Device } from './mqtt.ts';

/** CONNACK return codes [MQTT-3.2.2.3]. */
export const IDENTIFIER_REJECTED = 2;
export const BAD_USERNAME_OR_PASSWORD = 4;

/**
 * Sends a kp1 request (QoS 1 with a request id) that must be refused. Its PUBACK comes after the
 * dispatch, so whatever it stored is visible when this returns; callers check that nothing was.
 * The error reply, with `statusCode`, must reach the requester even when it is not bound to the
 * topic's token.
 */
export async function expectRefused(
  device: Device,
  topic: string,
  payload: string,
  statusCode: number,
  opts: { retain?: boolean } = {},
): Promise<void> {
  const reply = await device.request(topic, payload, { ms: 5_000, retain: opts.retain });
  expect(reply.kind, reply.text).toBe('error');
  expect(reply.json).toMatchObject({ statusCode });
}

/** A kp1 HTTP request, optionally with HTTP Basic credentials. */
export async function httpKp1(
  target: App,
  fx: Fixture,
  resource: string,
  body: string,
  basic?: { username: string; password: string },
): Promise<{ status: number; text: string }> {
  const headers: Record<string, string> = {};
  if (basic) headers['authorization'] = `Basic ${Buffer.from(`${basic.username}:${basic.password}`).toString('base64')}`;
  const res = await fetch(`${target.url}/kp1/${fx.appVersion}/cex/${fx.token}/${resource}`, { method: 'POST', body, headers });
  return { status: res.status, text: await res.text() };
}

/** What a real client (mqtt.js) gets for a CONNECT: 'connected', or the CONNACK code / 'closed'. */
export async function mqttJsConnect(target: App, opts: IClientOptions): Promise<'connected' | number | 'closed'> {
  try {
    const client = await mqtt.connectAsync(target.mqttUrl, { protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5_000, ...opts }, false);
    await client.endAsync(true);
    return 'connected';
  } catch (error) {
    const code = (error as { code?: unknown }).code;
    return typeof code === 'number' ? code : 'closed';
  }
}
