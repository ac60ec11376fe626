// Payloads are JSON values, and a JSON string is one: "42" must stay the string "42" in the
// API, on the device and in a result, not turn into the number its text spells. (Both database
// drivers parse json columns; a second parse in the column mapping once turned such strings
// into numbers, booleans and arrays.)
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { commandById, createEndpoint, invokeCommand } from './support/api.ts';
import { startApp } from './support/app.ts';
import { waitForStatus } from './support/commands.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

const STRINGS = ['42', 'true', '[1, 2]', '{"a": 1}', 'null', '"quoted"'];

async function kp1(fx: { appVersion: string; token: string }, resource: string, body: string): Promise<unknown> {
  const res = await fetch(`${app.url}/kp1/${fx.appVersion}/cex/${encodeURIComponent(fx.token)}/${resource}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body,
  });
  const text = await res.text();
  expect(res.status, text).toBe(200);
  return text ? JSON.parse(text) : undefined;
}

describe('JSON strings as payloads', () => {
  it('keeps a string payload that reads as JSON a string: invoked, stored, polled and reported', async () => {
    const fx = await createEndpoint(app);
    const invoked = [];
    for (const s of STRINGS) invoked.push(await invokeCommand(app, fx.endpointId, 'echo', s));
    expect(invoked.map((c) => c.payload)).toEqual(STRINGS);
    expect(await Promise.all(invoked.map(async (c) => (await commandById(app, c.id))!.payload))).toEqual(STRINGS);

    const polled = (await kp1(fx, 'command/echo', '{}')) as { id: number; payload: unknown }[];
    expect(polled.map((c) => c.payload)).toEqual(STRINGS);

    await kp1(fx, 'result/echo', JSON.stringify(polled.map((c, i) => ({ id: c.id, statusCode: 200, payload: STRINGS[i] }))));
    const executed = await Promise.all(invoked.map((c) => waitForStatus(app, c.id, 'EXECUTED')));
    expect(executed.map((c) => c.resultPayload)).toEqual(STRINGS);
  });
});
