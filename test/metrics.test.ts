// GET /metrics (issue 18 item 5) against a real server: strict Prometheus text, counters that
// move by exactly what the test did (invokes, device answers, expiries, kp1 requests over HTTP
// and MQTT, GraphQL operations and errors), gauges that follow MQTT connections, and label
// sets that stay bounded however many command types and operation names clients invent.
// Metrics are per process and these tests share theirs with nothing running concurrently, so
// deltas between two scrapes are exact. On PostgreSQL the server gets a database of its own:
// other test files' servers (other processes) would otherwise expire its commands, and it theirs.
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import postgres from 'postgres';
import type { App } from '../src/app.ts';
import type { Config } from '../src/config.ts';
import { createEndpoint, invokeCommand, type Fixture } from './support/api.ts';
import { ADMIN_PRINCIPAL, gql, startApp, unique, usingPostgres, waitFor } from './support/app.ts';
import { waitForStatus } from './support/commands.ts';
import { bindDevice, closeDevices, connectDevice, kp1Topic, pushedTo } from './support/mqtt.ts';
import { scrape, seriesOf, total, type Labels, type Metrics } from './support/prometheus.ts';

/** A fresh PostgreSQL database (dropped by `drop`), as the `database` setting of an app. */
async function ownDatabase(poolSize = 5): Promise<{ database: Config['database']; name: string; drop: () => Promise<void> }> {
  const url = new URL(process.env['TEST_DATABASE_URL']!);
  const name = `${url.pathname.slice(1)}_metrics_${unique('db').slice(3)}`.replaceAll('-', '_');
  url.pathname = `/${name}`;
  const admin = postgres(process.env['TEST_DATABASE_URL']!, { max: 1, onnotice: () => {} });
  await admin.unsafe(`create database "${name}"`);
  await admin.end();
  return {
    database: { kind: 'postgres', url: url.toString(), poolSize },
    name,
    drop: async () => {
      const again = postgres(process.env['TEST_DATABASE_URL']!, { max: 1, onnotice: () => {} });
      await again.unsafe(`drop database "${name}" with (force)`);
      await again.end();
    },
  };
}

let app: App;
let own: Awaited<ReturnType<typeof ownDatabase>> | undefined;
beforeAll(async () => {
  own = usingPostgres ? await ownDatabase() : undefined;
  app = await startApp(own ? { database: own.database } : {});
});
afterEach(() => closeDevices());
afterAll(async () => {
  await app?.stop();
  await own?.drop();
});

/** How much `name` (restricted to `labels`) moved between two scrapes. */
const delta = (before: Metrics, after: Metrics, name: string, labels: Labels = {}) =>
  total(after, name, labels) - total(before, name, labels);

async function kp1Http(fx: Fixture, extension: 'cex' | 'dcx', resource: string, body: unknown): Promise<number> {
  const res = await fetch(`${app.url}/kp1/${fx.appVersion}/${extension}/${fx.token}/${resource}`, {
    method: 'POST',
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  await res.arrayBuffer();
  return res.status;
}

describe('/metrics', () => {
  it('is Prometheus text with the service, process and Node metrics', async () => {
    const metrics = await scrape(app);
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_heap_size_used_bytes']) {
      expect(metrics.has(name), name).toBe(true);
    }
    expect(metrics.get('cex_commands_created_total')?.type).toBe('counter');
    expect(metrics.get('cex_command_execution_seconds')?.type).toBe('histogram');
    expect(metrics.get('cex_mqtt_connections')?.type).toBe('gauge');
    expect(total(metrics, 'cex_db_pool_size')).toBe(app.config.database.kind === 'postgres' ? app.config.database.poolSize : 1);
  });

  it('counts exactly the commands created, executed (by status class) and expired', async () => {
    const fx = await createEndpoint(app);
    const type = unique('metered');
    const before = await scrape(app);

    const kept = await Promise.all([1, 2, 3, 4].map(() => invokeCommand(app, fx.endpointId, type, { n: 1 })));
    const expiring = await Promise.all([1, 2].map(() => invokeCommand(app, fx.endpointId, type, null, 1)));
    // Three answered (two 200, one 503), one of them twice: the second report changes nothing.
    const answers = [
      { id: Number(kept[0]!.id), statusCode: 200 },
      { id: Number(kept[1]!.id), statusCode: 200 },
      { id: Number(kept[2]!.id), statusCode: 503 },
    ];
    expect(await kp1Http(fx, 'cex', `result/${type}`, answers)).toBe(200);
    expect(await kp1Http(fx, 'cex', `result/${type}`, [answers[0]])).toBe(200);
    for (const c of expiring) await waitForStatus(app, c.id, 'EXPIRED');

    const after = await scrape(app);
    expect(delta(before, after, 'cex_commands_created_total')).toBe(6);
    expect(delta(before, after, 'cex_commands_created_total', { command_type: type })).toBe(6);
    expect(delta(before, after, 'cex_commands_executed_total')).toBe(3);
    expect(delta(before, after, 'cex_commands_executed_total', { command_type: type, status_class: '2xx' })).toBe(2);
    expect(delta(before, after, 'cex_commands_executed_total', { command_type: type, status_class: '5xx' })).toBe(1);
    expect(delta(before, after, 'cex_commands_expired_total')).toBe(2);
    expect(delta(before, after, 'cex_commands_expired_total', { command_type: type })).toBe(2);
    expect(delta(before, after, 'cex_command_execution_seconds_count')).toBe(3);
    // Six inserts and two result requests went through group commits; their events were handled.
    expect(delta(before, after, 'cex_group_commit_batch_size_sum', { writer: 'command_insert' })).toBe(6);
    expect(delta(before, after, 'cex_group_commit_batch_size_sum', { writer: 'command_result' })).toBe(2);
    expect(delta(before, after, 'cex_group_commit_seconds_count', { writer: 'command_insert' })).toBeGreaterThanOrEqual(1);
    expect(delta(before, after, 'cex_event_bus_lag_seconds_count')).toBeGreaterThanOrEqual(6 + 3 + 2);
    expect(total(after, 'cex_group_commit_waiting')).toBe(0);
  });

  it('counts a cancel once, a replayed idempotency key not as a new command, odd status codes as "other"', async () => {
    const fx = await createEndpoint(app);
    const type = unique('metered');
    const commands = app.services.commands;
    const before = await scrape(app);

    // Concurrent requests with one key land in one group commit: one row, the others replay it.
    const input = { endpointId: fx.endpointId, commandType: type, payload: { n: 1 }, idempotencyKey: unique('key') };
    const same = await Promise.all([1, 2, 3].map(() => commands.invoke(ADMIN_PRINCIPAL, input)));
    expect(new Set(same.map((c) => c.id)).size).toBe(1);
    await commands.invoke(ADMIN_PRINCIPAL, input);
    await commands.cancel(ADMIN_PRINCIPAL, String(same[0]!.id));
    await expect(commands.cancel(ADMIN_PRINCIPAL, String(same[0]!.id))).rejects.toThrow(/CANCELED/);
    const odd = await commands.invoke(ADMIN_PRINCIPAL, { endpointId: fx.endpointId, commandType: type });
    expect(await kp1Http(fx, 'cex', `result/${type}`, [{ id: Number(odd.id), statusCode: -1 }])).toBe(200);

    const after = await scrape(app);
    expect(delta(before, after, 'cex_commands_created_total', { command_type: type })).toBe(2);
    expect(delta(before, after, 'cex_commands_canceled_total', { command_type: type })).toBe(1);
    expect(delta(before, after, 'cex_commands_executed_total', { command_type: type, status_class: 'other' })).toBe(1);
  });

  it('counts kp1 requests by transport, resource and status code', async () => {
    const fx = await createEndpoint(app);
    const before = await scrape(app);
    expect(await kp1Http(fx, 'cex', 'command/poll', {})).toBe(200);
    expect(await kp1Http(fx, 'cex', 'command/poll', {})).toBe(200);
    expect(await kp1Http(fx, 'dcx', 'json', { temperature: 20 })).toBe(200);
    expect(await kp1Http(fx, 'cex', 'result/poll', [{ id: 999_999_999, statusCode: 200 }])).toBe(404);
    expect(await kp1Http(fx, 'dcx', 'json', 'not json')).toBe(400);
    expect(await kp1Http({ ...fx, token: 'no-such-token' }, 'cex', 'command/poll', {})).toBe(401);
    expect(await kp1Http(fx, 'cex', 'nonsense', {})).toBe(404);

    const device = await connectDevice(app);
    expect((await device.request(kp1Topic(fx, 'cex', 'command/poll'), '{}')).kind).toBe('status');
    expect((await device.request(kp1Topic(fx, 'dcx', 'json'), '{"t":1}')).kind).toBe('status');
    expect((await device.request(kp1Topic(fx, 'cex', 'result/poll'), '[{"id":999999999,"statusCode":200}]')).kind).toBe('error');
    expect((await device.request(kp1Topic(fx, 'cex', 'nonsense'), '{}')).kind).toBe('error');

    const after = await scrape(app);
    const moved = (transport: string, resource: string, status_code: string) =>
      delta(before, after, 'cex_device_requests_total', { transport, resource, status_code });
    expect(moved('http', 'command', '200')).toBe(2);
    expect(moved('http', 'telemetry', '200')).toBe(1);
    expect(moved('http', 'result', '404')).toBe(1);
    expect(moved('http', 'telemetry', '400')).toBe(1);
    expect(moved('http', 'command', '401')).toBe(1);
    expect(moved('http', 'unknown', '404')).toBe(1);
    expect(delta(before, after, 'cex_device_requests_total', { transport: 'http' })).toBe(7);
    expect(moved('mqtt', 'command', '200')).toBe(1);
    expect(moved('mqtt', 'telemetry', '200')).toBe(1);
    expect(moved('mqtt', 'result', '404')).toBe(1);
    expect(moved('mqtt', 'unknown', '404')).toBe(1);
    expect(delta(before, after, 'cex_device_requests_total', { transport: 'mqtt' })).toBe(4);
    // No label carries a token or an endpoint id.
    const values = seriesOf(after, 'cex_device_requests_total').flatMap((s) => Object.values(s.labels));
    expect(values.filter((v) => v.includes(fx.token) || v.includes(fx.endpointId))).toEqual([]);
  });

  it('follows MQTT connections and bound endpoints, and times pushes', async () => {
    const [a, b] = [await createEndpoint(app), await createEndpoint(app)];
    const before = await scrape(app);
    const gateway = await connectDevice(app);
    const idle = await connectDevice(app);
    await bindDevice(gateway, a);
    await bindDevice(gateway, b);
    await pushedTo(gateway, app, a, 'x');
    await pushedTo(gateway, app, b, 'x');

    const connected = await scrape(app);
    expect(delta(before, connected, 'cex_mqtt_connections')).toBe(2);
    expect(delta(before, connected, 'cex_mqtt_bound_connections')).toBe(1);
    expect(delta(before, connected, 'cex_mqtt_bound_endpoints')).toBe(2);
    expect(delta(before, connected, 'cex_mqtt_push_seconds_count')).toBe(2);

    await gateway.close();
    await idle.close();
    await waitFor(async () => total(await scrape(app), 'cex_mqtt_connections') === total(before, 'cex_mqtt_connections'));
    const closed = await scrape(app);
    expect(delta(before, closed, 'cex_mqtt_bound_connections')).toBe(0);
    expect(delta(before, closed, 'cex_mqtt_bound_endpoints')).toBe(0);
  });

  it('counts GraphQL operations by name and type, and errors by code', async () => {
    const fx = await createEndpoint(app);
    const before = await scrape(app);
    await gql(app, 'query MeteredViewer { viewer { role } }');
    await gql(app, 'query MeteredViewer { viewer { role } }');
    await gql(app, '{ viewer { role } }');
    const missing = await gql(app, 'query MeteredMissing($id: ID!) { endpoint(id: $id) { id } }', { id: 'nope' });
    const notFound = await gql(app, 'mutation MeteredInvoke($e: ID!) { invokeCommand(input: {endpointId: $e, commandType: "x"}) { id } }', {
      e: '00000000-0000-0000-0000-000000000000',
    });
    const anonymous = await gql(app, 'mutation MeteredInvoke($e: ID!) { invokeCommand(input: {endpointId: $e, commandType: "x"}) { id } }', { e: fx.endpointId }, null);
    const invalid = await gql(app, '{ noSuchField }');

    const after = await scrape(app);
    const ops = (operation_name: string, operation_type: string) =>
      delta(before, after, 'cex_graphql_operations_total', { operation_name, operation_type });
    expect(ops('MeteredViewer', 'query')).toBe(2);
    expect(ops('anonymous', 'query')).toBe(1);
    expect(ops('MeteredMissing', 'query')).toBe(1);
    expect(ops('MeteredInvoke', 'mutation')).toBe(2);
    expect(delta(before, after, 'cex_graphql_operations_total')).toBe(6);

    const codes = [missing, notFound, anonymous, invalid].map((r) => r.errors?.[0]?.extensions?.code);
    expect(codes).toEqual([undefined, 'NOT_FOUND', 'UNAUTHENTICATED', 'GRAPHQL_VALIDATION_FAILED']);
    expect(missing.data).toEqual({ endpoint: null });
    for (const code of ['NOT_FOUND', 'UNAUTHENTICATED', 'GRAPHQL_VALIDATION_FAILED']) {
      expect(delta(before, after, 'cex_graphql_errors_total', { code }), code).toBe(1);
    }
    expect(delta(before, after, 'cex_graphql_errors_total')).toBe(3);
  });

  it.runIf(usingPostgres)('counts the event listener reconnecting', async () => {
    // A database of its own again, so that only this server's listener is cut.
    const db = await ownDatabase();
    const other = await startApp({ database: db.database });
    const admin = postgres(process.env['TEST_DATABASE_URL']!, { max: 1, onnotice: () => {} });
    try {
      const before = await scrape(other);
      const [cut] = await admin.unsafe(
        `select count(pg_terminate_backend(pid))::int as n from pg_stat_activity where datname = $1 and query ilike 'listen%'`,
        [db.name],
      );
      expect(cut!['n']).toBe(1);
      await waitFor(async () => delta(before, await scrape(other), 'cex_event_bus_reconnects_total') === 1);
    } finally {
      await admin.end();
      await other.stop();
      await db.drop();
    }
  });

  it.runIf(usingPostgres)('counts transactions in flight, and those beyond the pool size as waiting', async () => {
    const small = await startApp({ database: { ...own!.database, poolSize: 1 } as Config['database'] });
    const locker = postgres((own!.database as { url: string }).url, { max: 1, onnotice: () => {} });
    try {
      const fx = await createEndpoint(small);
      let release!: () => void;
      const released = new Promise<void>((resolve) => (release = resolve));
      let locked!: () => void;
      const isLocked = new Promise<void>((resolve) => (locked = resolve));
      // Inserting a command checks its endpoint row (FOR KEY SHARE): it waits behind this lock.
      const holding = locker.begin(async (sql) => {
        await sql`select 1 from endpoints where id = ${fx.endpointId} for update`;
        locked();
        await released;
      });
      await isLocked;
      const invokes = Promise.all(Array.from({ length: 6 }, () => invokeCommand(small, fx.endpointId, 'held')));
      // Group commit runs two insert transactions at once: one holds the only connection, one waits.
      const stuck = await waitFor(async () => {
        const m = await scrape(small);
        return total(m, 'cex_db_transactions_in_flight') >= 2 && total(m, 'cex_db_transactions_waiting') >= 1 ? m : undefined;
      });
      expect(total(stuck, 'cex_db_pool_size')).toBe(1);
      release();
      await holding;
      expect(await invokes).toHaveLength(6);
      // The sweepers' short transactions come and go; none is stuck any more.
      await waitFor(async () => total(await scrape(small), 'cex_db_transactions_in_flight') === 0);
    } finally {
      await locker.end();
      await small.stop();
    }
  });

  // Last in this file: it fills the caps that the tests above rely on not being full.
  it('keeps the series bounded with 10,000 command types and 150 operation names', async () => {
    const fx = await createEndpoint(app);
    const before = await scrape(app);
    for (let i = 0; i < 150; i++) await gql(app, `query Named${i} { viewer { role } }`);
    const named = (m: Metrics) => seriesOf(m, 'cex_commands_created_total').filter((x) => x.labels['command_type'] !== 'other').length;
    const types = Array.from({ length: 10_000 }, (_, i) => `flood-${i}`);
    // Straight to the command service (the metric is counted there, whatever the door), 200 at a
    // time: over GraphQL it takes twice as long.
    for (let i = 0; i < types.length; i += 200) {
      await Promise.all(
        types.slice(i, i + 200).map((commandType) => app.services.commands.invoke(ADMIN_PRINCIPAL, { endpointId: fx.endpointId, commandType })),
      );
    }
    const after = await scrape(app);
    expect(delta(before, after, 'cex_commands_created_total')).toBe(10_000);
    const created = seriesOf(after, 'cex_commands_created_total');
    expect(created.length).toBeLessThanOrEqual(101);
    // The types admitted before the cap filled are counted by name, the rest as "other".
    const admitted = named(after) - named(before);
    expect(delta(before, after, 'cex_commands_created_total', { command_type: 'other' })).toBe(10_000 - admitted);
    const operations = seriesOf(after, 'cex_graphql_operations_total');
    expect(operations.length).toBeLessThanOrEqual(101 * 3);
    expect(new Set(operations.map((s) => s.labels['operation_name'])).size).toBeLessThanOrEqual(101);
    expect(delta(before, after, 'cex_graphql_operations_total', { operation_name: 'other', operation_type: 'query' })).toBeGreaterThan(50);
    // Every series of the whole exposition, Node's included: bounded.
    expect([...after.values()].reduce((n, f) => n + f.samples.length, 0)).toBeLessThan(2_000);
  }, 180_000);
});
