// Concurrent writes through group commit: invokes and results stay separate, a bad request fails alone, a double report changes once.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { createEndpoint, type Fixture, invokeCommand } from './support/api.ts';
import { collect, startApp, unique, untilSubscribed, wsClient } from './support/app.ts';
import { kp1, rows } from './support/devices-concurrency.ts';
import { CommandStatusChanged } from './support/documents.ts';
import { closeDevices, commandsIn, connectDevice, idsReceived, kp1Topic, type Device } from './support/mqtt.ts';

let a: App;
beforeAll(async () => {
  a = await startApp();
});
afterEach(() => closeDevices());
afterAll(async () => {
  await a?.stop();
});

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

/** Endpoints of one application version (same topics but for the token). */
async function endpoints(target: App, n: number): Promise<Fixture[]> {
  const first = await createEndpoint(target);
  const rest = await Promise.all(range(n - 1).map(() => createEndpoint(target, { appVersion: first.appVersion })));
  return [first, ...rest];
}

/** A device bound to the endpoint (a command request), so commands are pushed to it. */
async function boundDevice(target: App, fx: Fixture, commandType: string): Promise<Device> {
  const device = await connectDevice(target);
  const reply = await device.request(kp1Topic(fx, 'cex', `command/${commandType}`), '{"observe":true}');
  expect(reply.kind, reply.text).toBe('status');
  expect(reply.json).toEqual([]);
  return device;
}

/** How many times each command id was pushed (or replied) to the device for this type. */
function pushCounts(device: Device, fx: Fixture, commandType: string): Map<number, number> {
  const prefix = kp1Topic(fx, 'cex', `command/${commandType}`);
  const counts = new Map<number, number>();
  for (const m of device.messages) {
    if (m.topic.startsWith(`${prefix}/`) && m.topic.endsWith('/status') && m.text !== '') {
      for (const c of commandsIn(m.text)) counts.set(c.id, (counts.get(c.id) ?? 0) + 1);
    }
  }
  return counts;
}

describe('concurrent invokes', () => {
  it('50 concurrent invokeCommand for 5 endpoints: 50 distinct ids, stored PENDING as asked, each pushed once to its own device only', async () => {
    const type = 'burst';
    const fxs = await endpoints(a, 5);
    const devices = await Promise.all(fxs.map((fx) => boundDevice(a, fx, type)));
    const jobs = range(50).map((i) => ({ fx: fxs[i % fxs.length]!, payload: { i, tag: unique('p') } }));

    const created = await Promise.all(jobs.map((j) => invokeCommand(a, j.fx.endpointId, type, j.payload)));

    // Each caller got its own command back (batched inserts map outputs to the right caller).
    const ids = created.map((c) => String(c.id));
    expect(new Set(ids).size).toBe(50);
    created.forEach((c, i) => {
      expect(c.endpoint.id, `invoke #${i}`).toBe(jobs[i]!.fx.endpointId);
      expect(c.payload, `invoke #${i}`).toEqual(jobs[i]!.payload);
      expect(c.commandType).toBe(type);
      expect(c.status).toBe('PENDING');
    });

    const stored = await rows(ids);
    expect(stored.size).toBe(50);
    jobs.forEach((j, i) => {
      const row = stored.get(ids[i]!)!;
      expect(row, `command ${ids[i]}`).toMatchObject({ endpoint_id: j.fx.endpointId, command_type: type, status: 'PENDING', status_code: null });
      expect(row.payload).toEqual(j.payload);
    });

    // Each device gets exactly its endpoint's ten commands, pushed without a new request.
    const own = fxs.map((fx) => new Set(created.filter((c) => c.endpoint.id === fx.endpointId).map((c) => Number(c.id))));
    await Promise.all(
      devices.map((d, k) =>
        d.until(() => [...own[k]!].every((id) => idsReceived(d, fxs[k]!, type).has(id)), 15_000),
      ),
    );
    // A barrier: one more command per endpoint, pushed after everything above (events are
    // delivered in commit order), so a stray push of the burst would be in by now.
    const markers = await Promise.all(fxs.map((fx) => invokeCommand(a, fx.endpointId, type, { marker: true })));
    await Promise.all(
      devices.map((d, k) => d.until(() => idsReceived(d, fxs[k]!, type).has(Number(markers[k]!.id)), 15_000)),
    );

    devices.forEach((d, k) => {
      const fx = fxs[k]!;
      const ownTopics = `kp1/${fx.appVersion}/cex/${fx.token}/`;
      expect(d.messages.filter((m) => !m.topic.startsWith(ownTopics)).map((m) => m.topic)).toEqual([]);
      const expected = [...own[k]!, Number(markers[k]!.id)].sort((x, y) => x - y);
      expect([...idsReceived(d, fx, type)].sort((x, y) => x - y), `device of endpoint ${k}`).toEqual(expected);
      // Each once: the request's reply was [], and each command was pushed one time.
      const counts = pushCounts(d, fx, type);
      for (const id of expected) expect(counts.get(id), `pushes of ${id} to endpoint ${k}`).toBe(1);
    });
    // The pushes carry the payloads that were invoked.
    const d0 = devices[0]!;
    const pushed = d0.messages
      .filter((m) => m.topic === kp1Topic(fxs[0]!, 'cex', `command/${type}/status`))
      .flatMap((m) => commandsIn(m.text));
    for (const c of created.filter((x) => x.endpoint.id === fxs[0]!.endpointId)) {
      expect(pushed.find((p) => p.id === Number(c.id))?.payload).toEqual(c.payload);
    }
  });
});

describe('concurrent results', () => {
  it('many concurrent HTTP result requests of several endpoints: a request naming a command not its own gets 404 and changes nothing; all others land with their own result', async () => {
    const type = 'op';
    const fxs = await endpoints(a, 5);
    for (let round = 0; round < 3; round++) {
      // Eight commands per endpoint, plus spares the bad requests name.
      const commands = await Promise.all(
        fxs.map(async (fx) => Promise.all(range(8).map((j) => invokeCommand(a, fx.endpointId, type, { j })))),
      );
      const spareOwn = await invokeCommand(a, fxs[0]!.endpointId, type, { spare: 'own' });
      const spareForeign = await invokeCommand(a, fxs[1]!.endpointId, type, { spare: 'foreign' });
      const spareOtherType = await invokeCommand(a, fxs[2]!.endpointId, 'other', { spare: 'other type' });

      // Each command gets its own status code, reason and payload; requests of 1 to 3 results.
      let n = 0;
      const expected = new Map<string, { statusCode: number; reasonPhrase: string; payload: unknown }>();
      const requests: { fx: Fixture; body: unknown[]; bad?: string }[] = [];
      fxs.forEach((fx, k) => {
        const mine = commands[k]!;
        for (const [from, to] of [[0, 1], [1, 2], [2, 3], [3, 5], [5, 8]] as const) {
          const body = mine.slice(from, to).map((c) => {
            const result = { statusCode: 100 + round * 150 + n++, reasonPhrase: `r-${round}-${k}-${c.id}`, payload: { k, id: c.id } };
            expected.set(String(c.id), result);
            return { id: Number(c.id), ...result };
          });
          requests.push({ fx, body });
        }
      });
      // Endpoint 0 reports its own spare together with endpoint 1's command.
      const foreign = {
        fx: fxs[0]!,
        body: [
          { id: Number(spareOwn.id), statusCode: 201, reasonPhrase: 'mine' },
          { id: Number(spareForeign.id), statusCode: 202, reasonPhrase: 'not mine' },
        ],
        bad: String(spareForeign.id),
      };
      // Endpoint 2 reports its own command, but under another type.
      const wrongType = { fx: fxs[2]!, body: [{ id: Number(spareOtherType.id), statusCode: 203 }], bad: String(spareOtherType.id) };
      requests.splice(7, 0, foreign);
      requests.splice(18, 0, wrongType);

      const replies = await Promise.all(requests.map((r) => kp1(a, r.fx, `result/${type}`, r.body)));

      requests.forEach((r, i) => {
        const reply = replies[i]!;
        if (r.bad) {
          expect(reply.status, `round ${round}, bad request #${i}: ${reply.text}`).toBe(404);
          const error = JSON.parse(reply.text);
          expect(error.statusCode).toBe(404);
          expect(error.reasonPhrase).toContain(r.bad);
        } else {
          expect(reply.status, `round ${round}, request #${i}: ${reply.text}`).toBe(200);
          expect(reply.text).toBe('');
        }
      });

      const all = [...commands.flat(), spareOwn, spareForeign, spareOtherType];
      const stored = await rows(all.map((c) => c.id));
      for (const c of commands.flat()) {
        const want = expected.get(String(c.id))!;
        const row = stored.get(String(c.id))!;
        expect(row, `round ${round}, command ${c.id}`).toMatchObject({
          endpoint_id: c.endpoint.id,
          status: 'EXECUTED',
          status_code: want.statusCode,
          reason_phrase: want.reasonPhrase,
        });
        expect(row.result_payload).toEqual(want.payload);
      }
      // Nothing of the refused requests was stored, not even the item that was the sender's own.
      for (const spare of [spareOwn, spareForeign, spareOtherType]) {
        expect(stored.get(String(spare.id)), `spare ${spare.id}`).toMatchObject({
          status: 'PENDING',
          status_code: null,
          reason_phrase: null,
          result_payload: null,
        });
      }
      // And the refused results can still be reported by their owners.
      expect((await kp1(a, fxs[1]!, `result/${type}`, [{ id: Number(spareForeign.id), statusCode: 204 }])).status).toBe(200);
      expect((await kp1(a, fxs[2]!, 'result/other', [{ id: Number(spareOtherType.id), statusCode: 205 }])).status).toBe(200);
      expect((await kp1(a, fxs[0]!, `result/${type}`, [{ id: Number(spareOwn.id), statusCode: 206 }])).status).toBe(200);
      const after = await rows([spareOwn.id, spareForeign.id, spareOtherType.id]);
      expect(after.get(String(spareForeign.id))).toMatchObject({ status: 'EXECUTED', status_code: 204 });
      expect(after.get(String(spareOtherType.id))).toMatchObject({ status: 'EXECUTED', status_code: 205 });
      expect(after.get(String(spareOwn.id))).toMatchObject({ status: 'EXECUTED', status_code: 206 });
    }
  });

  it('two concurrent results for one command: both accepted, one result stored whole, exactly one EXECUTED event', async () => {
    const type = 'race';
    const fx = await createEndpoint(a);
    const ws = wsClient(a);
    try {
      const sub = collect(ws, CommandStatusChanged, { endpointId: fx.endpointId });
      await untilSubscribed(sub, () => invokeCommand(a, fx.endpointId, 'probe'));

      const commands = await Promise.all(range(10).map((i) => invokeCommand(a, fx.endpointId, type, { i })));
      const first = (id: number) => ({ id, statusCode: 201, reasonPhrase: 'first', payload: { from: 'first', id } });
      const second = (id: number) => ({ id, statusCode: 409, reasonPhrase: 'second', payload: { from: 'second', id } });
      // Two requests per command, all at once (pairs land in one batch or in two transactions).
      const replies = await Promise.all(
        commands.flatMap((c) => [
          kp1(a, fx, `result/${type}`, [first(Number(c.id))]),
          kp1(a, fx, `result/${type}`, [second(Number(c.id))]),
        ]),
      );
      for (const r of replies) expect(r.status, r.text).toBe(200);

      // Barrier: events arrive in commit order, so a duplicate EXECUTED would precede this.
      const marker = await invokeCommand(a, fx.endpointId, 'marker');
      await sub.waitFor((es) => es.some((e) => e.commandStatusChanged.id === String(marker.id)), 15_000);

      const stored = await rows(commands.map((c) => c.id));
      for (const c of commands) {
        const id = Number(c.id);
        const executed = sub.events.filter((e) => e.commandStatusChanged.id === String(c.id) && e.commandStatusChanged.status === 'EXECUTED');
        expect(executed, `EXECUTED events of ${c.id}`).toHaveLength(1);
        const row = stored.get(String(c.id))!;
        expect(row.status).toBe('EXECUTED');
        // One request's result, whole: code, reason and payload from the same request.
        const winner = row.status_code === 201 ? first(id) : second(id);
        expect([201, 409]).toContain(row.status_code);
        expect({ statusCode: row.status_code, reasonPhrase: row.reason_phrase, payload: row.result_payload }).toEqual({
          statusCode: winner.statusCode,
          reasonPhrase: winner.reasonPhrase,
          payload: winner.payload,
        });
        // The event tells what was stored.
        expect(executed[0]!.commandStatusChanged).toEqual(
          expect.objectContaining({
            id: String(c.id),
            status: 'EXECUTED',
            statusCode: winner.statusCode,
            reasonPhrase: winner.reasonPhrase,
            resultPayload: winner.payload,
          }),
        );
      }
      expect(sub.errors).toEqual([]);
      sub.dispose();
    } finally {
      await ws.dispose();
    }
  });

  it('a command reported twice in one batch changes once, and the first report wins', async () => {
    const type = 'dup';
    const fx = await createEndpoint(a);
    const commands = a.services.commands;
    for (let round = 0; round < 5; round++) {
      const [f1, f2, target] = await Promise.all(range(3).map(() => invokeCommand(a, fx.endpointId, type)));
      const id = Number(target!.id);
      // Group commit runs two transactions at once: two fillers take them, so the two reports
      // of `target`, made in the same tick, wait together and go in one batch.
      const calls = [
        commands.recordResults(fx.endpointId, type, [{ id: Number(f1!.id), statusCode: 200 }]),
        commands.recordResults(fx.endpointId, type, [{ id: Number(f2!.id), statusCode: 200 }]),
        commands.recordResults(fx.endpointId, type, [{ id, statusCode: 201, reasonPhrase: 'first', payload: { n: 1 } }]),
        commands.recordResults(fx.endpointId, type, [{ id, statusCode: 409, reasonPhrase: 'second', payload: { n: 2 } }]),
      ];
      const [r1, r2, firstReport, secondReport] = await Promise.all(calls);
      expect(r1!.map((c) => c.id)).toEqual([Number(f1!.id)]);
      expect(r2!.map((c) => c.id)).toEqual([Number(f2!.id)]);
      expect(secondReport, `round ${round}`).toEqual([]);
      expect(firstReport!.map((c) => ({ id: c.id, statusCode: c.statusCode, reasonPhrase: c.reasonPhrase })), `round ${round}`).toEqual([
        { id, statusCode: 201, reasonPhrase: 'first' },
      ]);
      const row = (await rows([id])).get(String(id))!;
      expect({ status: row.status, statusCode: row.status_code, reasonPhrase: row.reason_phrase, payload: row.result_payload }, `round ${round}`).toEqual({
        status: 'EXECUTED',
        statusCode: 201,
        reasonPhrase: 'first',
        payload: { n: 1 },
      });
    }
  });
});
