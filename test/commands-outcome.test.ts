// How commands end: expiry, and the device-side functions the kp1 adapters call (outstanding, recordResults).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { App } from '../src/app.ts';
import { DomainError } from '../src/domain/errors.ts';
import { commandById, createEndpoint, invokeCommand } from './support/api.ts';
import { startApp } from './support/app.ts';
import { ms, waitForStatus } from './support/commands.ts';

let app: App;
beforeAll(async () => {
  app = await startApp();
});
afterAll(() => app?.stop());

async function expectDomainError(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, 'expected the call to fail').toBeInstanceOf(DomainError);
  expect((error as DomainError).code).toBe(code);
}

describe('expiry', () => {
  it('expires a PENDING command after its retention, not before its expiresAt', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'short', { a: 1 }, 1);
    expect(c.status).toBe('PENDING');
    const expired = await waitForStatus(app, c.id, 'EXPIRED', 5_000);
    expect(ms(expired.updatedAt)).toBeGreaterThanOrEqual(ms(expired.expiresAt));
    expect(expired).toMatchObject({ executedAt: null, statusCode: null, reasonPhrase: null, resultPayload: null });
    expect(expired.expiresAt).toBe(c.expiresAt);
    expect(expired.createdAt).toBe(c.createdAt);
  });

  it('leaves a command with a long retention PENDING', async () => {
    const fx = await createEndpoint(app);
    const long = await invokeCommand(app, fx.endpointId, 'long', null, 3600);
    const short = await invokeCommand(app, fx.endpointId, 'short', null, 1);
    await waitForStatus(app, short.id, 'EXPIRED', 5_000);
    expect((await commandById(app, long.id)).status).toBe('PENDING');
  });
});

describe('device side: app.services.commands', () => {
  it('outstanding() returns pending unexpired commands of one type, oldest first', async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const commands = app.services.commands;
    const p1 = await invokeCommand(app, fx.endpointId, 'sw', { n: 1 });
    const expiring = await invokeCommand(app, fx.endpointId, 'sw', { n: 2 }, 1);
    const executed = await invokeCommand(app, fx.endpointId, 'sw', { n: 3 });
    const otherType = await invokeCommand(app, fx.endpointId, 'other', { n: 4 });
    await invokeCommand(app, other.endpointId, 'sw', { n: 5 });
    const p2 = await invokeCommand(app, fx.endpointId, 'sw', { n: 6 });
    await commands.recordResults(fx.endpointId, 'sw', [{ id: Number(executed.id), statusCode: 200 }]);
    await waitForStatus(app, expiring.id, 'EXPIRED');

    const list = await commands.outstanding(fx.endpointId, 'sw');
    expect(list.map((c) => c.id)).toEqual([Number(p1.id), Number(p2.id)]);
    expect(list[0]).toMatchObject({ endpointId: fx.endpointId, commandType: 'sw', payload: { n: 1 }, status: 'PENDING' });
    expect(list[1]!.payload).toEqual({ n: 6 });

    expect((await commands.outstanding(fx.endpointId, 'other')).map((c) => c.id)).toEqual([Number(otherType.id)]);
    expect(await commands.outstanding(fx.endpointId, 'none')).toEqual([]);
  });

  it('recordResults() marks EXECUTED with the code, phrase and payload, visible over GraphQL', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'reboot', { delay: 1 });
    const changed = await app.services.commands.recordResults(fx.endpointId, 'reboot', [
      { id: Number(c.id), statusCode: 200, reasonPhrase: 'OK', payload: { uptime: 5, log: ['a'] } },
    ]);
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatchObject({ id: Number(c.id), status: 'EXECUTED', statusCode: 200 });

    const seen = await commandById(app, c.id);
    expect(seen).toMatchObject({
      status: 'EXECUTED',
      statusCode: 200,
      reasonPhrase: 'OK',
      resultPayload: { uptime: 5, log: ['a'] },
      payload: { delay: 1 },
    });
    expect(ms(seen.executedAt)).toBeGreaterThanOrEqual(ms(seen.createdAt));
    expect(ms(seen.executedAt)).toBeLessThan(ms(seen.expiresAt));
    expect(seen.updatedAt).toBe(seen.executedAt);
    expect(await app.services.commands.outstanding(fx.endpointId, 'reboot')).toEqual([]);
  });

  it('records a non-2xx result as EXECUTED, and a result without phrase or payload as nulls', async () => {
    const fx = await createEndpoint(app);
    const a = await invokeCommand(app, fx.endpointId, 'open');
    const b = await invokeCommand(app, fx.endpointId, 'open');
    await app.services.commands.recordResults(fx.endpointId, 'open', [
      { id: Number(b.id), statusCode: 409, reasonPhrase: 'Door is jammed', payload: { tries: 3 } },
      { id: Number(a.id), statusCode: 500 },
    ]);
    expect(await commandById(app, b.id)).toMatchObject({
      status: 'EXECUTED',
      statusCode: 409,
      reasonPhrase: 'Door is jammed',
      resultPayload: { tries: 3 },
    });
    expect(await commandById(app, a.id)).toMatchObject({ status: 'EXECUTED', statusCode: 500, reasonPhrase: null, resultPayload: null });
  });

  it('keeps the first result when a duplicate arrives', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'dup');
    const commands = app.services.commands;
    await commands.recordResults(fx.endpointId, 'dup', [{ id: Number(c.id), statusCode: 200, reasonPhrase: 'first', payload: { n: 1 } }]);
    const firstSeen = await commandById(app, c.id);
    const again = await commands.recordResults(fx.endpointId, 'dup', [
      { id: Number(c.id), statusCode: 500, reasonPhrase: 'second', payload: { n: 2 } },
    ]);
    expect(again).toEqual([]);
    expect(await commandById(app, c.id)).toEqual(firstSeen);
    expect(firstSeen).toMatchObject({ statusCode: 200, reasonPhrase: 'first', resultPayload: { n: 1 } });
  });

  it('lands a result that arrives after expiry', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'late', null, 1);
    await waitForStatus(app, c.id, 'EXPIRED');
    const changed = await app.services.commands.recordResults(fx.endpointId, 'late', [
      { id: Number(c.id), statusCode: 200, reasonPhrase: 'finally' },
    ]);
    expect(changed.map((x) => x.status)).toEqual(['EXECUTED']);
    const seen = await commandById(app, c.id);
    expect(seen).toMatchObject({ status: 'EXECUTED', statusCode: 200, reasonPhrase: 'finally' });
    expect(ms(seen.executedAt)).toBeGreaterThan(ms(seen.expiresAt));
  });

  it('refuses an unknown id, or one of another endpoint or type, with NOT_FOUND and changes nothing', async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const commands = app.services.commands;
    const mine = await invokeCommand(app, fx.endpointId, 'sw');
    const theirs = await invokeCommand(app, other.endpointId, 'sw');

    await expectDomainError(commands.recordResults(fx.endpointId, 'sw', [{ id: 2 ** 50, statusCode: 200 }]), 'NOT_FOUND');
    await expectDomainError(commands.recordResults(fx.endpointId, 'sw', [{ id: Number(theirs.id), statusCode: 200 }]), 'NOT_FOUND');
    await expectDomainError(commands.recordResults(fx.endpointId, 'other', [{ id: Number(mine.id), statusCode: 200 }]), 'NOT_FOUND');

    expect(await commandById(app, mine.id)).toEqual(mine);
    expect(await commandById(app, theirs.id)).toEqual(theirs);
  });

  it('refuses a whole batch when one item is not found: the valid item stays PENDING', async () => {
    const fx = await createEndpoint(app);
    const other = await createEndpoint(app);
    const commands = app.services.commands;
    const earlierForeign = await invokeCommand(app, other.endpointId, 'sw');
    const valid = await invokeCommand(app, fx.endpointId, 'sw');
    const laterForeign = await invokeCommand(app, other.endpointId, 'sw');
    const otherType = await invokeCommand(app, fx.endpointId, 'nope');
    const item = (id: string | number, statusCode = 200) => ({ id: Number(id), statusCode, reasonPhrase: 'x' });

    // Invalid items before and after the valid one (results are applied in id order).
    for (const batch of [
      [item(valid.id), item(2 ** 50)],
      [item(valid.id), item(laterForeign.id)],
      [item(earlierForeign.id), item(valid.id)],
      [item(otherType.id), item(valid.id)],
    ]) {
      await expectDomainError(commands.recordResults(fx.endpointId, 'sw', batch), 'NOT_FOUND');
      expect(await commandById(app, valid.id)).toEqual(valid);
    }
    for (const c of [earlierForeign, laterForeign, otherType]) expect(await commandById(app, c.id)).toEqual(c);
    expect((await commands.outstanding(fx.endpointId, 'sw')).map((c) => c.id)).toEqual([Number(valid.id)]);

    // Nothing was left half done: the valid item alone is accepted afterwards.
    const changed = await commands.recordResults(fx.endpointId, 'sw', [item(valid.id, 204)]);
    expect(changed.map((c) => c.id)).toEqual([Number(valid.id)]);
    expect((await commandById(app, valid.id)).statusCode).toBe(204);
  });

  it('treats an empty batch as a no-op', async () => {
    const fx = await createEndpoint(app);
    const c = await invokeCommand(app, fx.endpointId, 'sw');
    expect(await app.services.commands.recordResults(fx.endpointId, 'sw', [])).toEqual([]);
    expect(await app.services.commands.recordResults('00000000-0000-0000-0000-000000000000', 'sw', [])).toEqual([]);
    expect(await commandById(app, c.id)).toEqual(c);
  });
});
