// The expiry sweeper's log through failures: one error line per run of failed sweeps (not one
// per tick while the database is away), a line when it recovers, and a debug line per sweep
// that expired something. The failure: the idempotency key table renamed away, so each sweep
// expires due commands and then fails deleting old keys.
import { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createApp, type App } from '../src/app.ts';
import { createLogger } from '../src/logger.ts';
import { createEndpoint, invokeCommand } from './support/api.ts';
import { sharedPglite, testConfig } from './support/app.ts';
import { waitForStatus } from './support/commands.ts';
import { ownDatabase } from './support/db.ts';

interface Line {
  msg: string;
  expired?: number;
  err?: { message?: string };
}

const lines: Line[] = [];
let app: App;
let own: Awaited<ReturnType<typeof ownDatabase>>;

beforeAll(async () => {
  own = await ownDatabase();
  const config = testConfig({ ...own.overrides, expirySweepMs: 20 });
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const text of chunk.toString('utf8').split('\n')) if (text) lines.push(JSON.parse(text) as Line);
      done();
    },
  });
  app = createApp(config, {
    pglite: config.database.kind === 'pglite' ? await sharedPglite() : undefined,
    logger: createLogger('debug', sink),
  });
  await app.start();
});
afterAll(async () => {
  await app?.stop();
  await own?.drop();
});

const count = (msg: string) => lines.filter((l) => l.msg === msg).length;
const FAILED = 'expiry sweep failed; retrying';
const RECOVERED = 'expiry sweeper recovered';

/** Makes a PENDING command due and waits until a sweep has expired it: a sweep ran since. */
async function sweptOnce(endpointId: string): Promise<void> {
  const c = await invokeCommand(app, endpointId, 'marker', null, 3600);
  await own.query(`update commands set expires_at = now() - interval '1 second' where id = $1`, [Number(c.id)]);
  await waitForStatus(app, c.id, 'EXPIRED');
}

describe('the expiry sweeper', () => {
  it('logs one error per outage however many sweeps fail, and when it recovered', async () => {
    const fx = await createEndpoint(app);
    await sweptOnce(fx.endpointId);
    expect([count(FAILED), count(RECOVERED)]).toEqual([0, 0]);
    expect(lines.filter((l) => l.msg === 'commands expired').map((l) => l.expired)).toEqual([1]);

    for (const outage of [1, 2]) {
      await own.query('alter table idempotency_keys rename to idempotency_keys_away');
      try {
        // Sweeps do not overlap: the second marker expires in a sweep after the one that expired
        // the first has failed and finished.
        await sweptOnce(fx.endpointId);
        await sweptOnce(fx.endpointId);
        expect(count(FAILED)).toBe(outage);
        // The line says what failed.
        expect(lines.findLast((l) => l.msg === FAILED)?.err?.message).toContain('idempotency_keys');
      } finally {
        await own.query('alter table idempotency_keys_away rename to idempotency_keys');
      }
      await sweptOnce(fx.endpointId);
      await sweptOnce(fx.endpointId);
      expect([count(FAILED), count(RECOVERED)]).toEqual([outage, outage]);
    }
  });
});
