// WORKERS > 1: one node of several server processes (node:cluster) sharing the HTTP and MQTT
// ports, each a full server, events crossing between them through PostgreSQL. Real children
// (`node --import tsx src/main.ts`), real devices, real subscribers. A node hands each new
// connection to the next worker, so devices and requests on connections of their own land on
// both workers; the node's /metrics (a series per worker) shows which worker did what.
import { createServer as createTcpServer, connect, type Server as TcpServer, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createEndpoints, invoke, sleep, waitFor, type Endpoint } from './faults/support/api.ts';
import { FaultDevice } from './faults/support/devices.ts';
import { ADMIN_KEY, killAllServers, ServerProcess } from './faults/support/server.ts';
import { Subscriber, untilSubscribed } from './faults/support/ws.ts';
import { usingPostgres } from './support/app.ts';
import { alive, gqlOnNewConnection, postOnNewConnection, workerPids } from './support/cluster.ts';
import { CreateApiKey, InvokeCommand } from './support/documents.ts';
import { getMetrics, parsePrometheus, total, type Metrics } from './support/prometheus.ts';
import { spawnLines } from './support/process.ts';

const databaseUrl = process.env['TEST_DATABASE_URL'];

async function startNode(env: Record<string, string>): Promise<ServerProcess> {
  const node = new ServerProcess({ databaseUrl, env: { WORKERS: '2', ...env } });
  await node.start();
  await node.waitForLog((l) => l.msg === 'all workers serving', 60_000);
  return node;
}

async function nodeMetrics(node: ServerProcess): Promise<Metrics> {
  const res = await getMetrics(node.httpPort);
  expect(res.status).toBe(200);
  return parsePrometheus(res.text);
}

afterAll(() => killAllServers());

describe.skipIf(!usingPostgres)('a node with WORKERS=2', () => {
  let node: ServerProcess;
  const devices: FaultDevice[] = [];
  let subscriber: Subscriber;
  let mqttEndpoints: Endpoint[];
  let httpEndpoints: Endpoint[];

  beforeAll(async () => {
    node = await startNode({});
    [mqttEndpoints, httpEndpoints] = [await createEndpoints(node, 6), await createEndpoints(node, 4)];
    // One after another: each new connection goes to the next worker.
    for (const ep of mqttEndpoints) {
      const device = new FaultDevice(node.mqttUrl, ep, ['reboot']);
      devices.push(device);
      await device.bound();
    }
    subscriber = new Subscriber(() => node.httpPort);
    subscriber.subscribe();
    await untilSubscribed(subscriber, async () => (await invoke(node, mqttEndpoints[0]!.endpointId, 'probe', null)).id);
  }, 120_000);
  afterAll(async () => {
    await subscriber?.close();
    await Promise.all(devices.map((d) => d.close()));
  });

  it('serves MQTT and HTTP devices through both workers; one subscriber sees the results each worker stored', async () => {
    const commands = new Map<number, Endpoint>();
    for (const ep of [...mqttEndpoints, ...httpEndpoints]) {
      const invoked = await gqlOnNewConnection(node.url, ADMIN_KEY, InvokeCommand, { input: { endpointId: ep.endpointId, commandType: 'reboot', payload: { n: 1 } } });
      commands.set(Number(invoked.json.data.invokeCommand.id), ep);
    }
    // MQTT devices get their push (invoked on either worker) and answer on their own connection.
    for (const [i, device] of devices.entries()) {
      const id = [...commands].find(([, ep]) => ep === mqttEndpoints[i])![0];
      await waitFor(() => device.ids().has(id) || undefined, 10_000, () => `push of ${id}`);
      expect(await device.result('reboot', [{ id, statusCode: 200 }])).toBe(true);
    }
    // HTTP devices poll and report, each request on a connection of its own (an extra poll
    // before every other one, so results land on both workers, not only on every second one).
    for (const [i, ep] of httpEndpoints.entries()) {
      if (i % 2) await postOnNewConnection(node.url, `/kp1/${ep.appVersion}/cex/${ep.token}/command/other`, {});
      const poll = await postOnNewConnection(node.url, `/kp1/${ep.appVersion}/cex/${ep.token}/command/reboot`, {});
      expect(poll.status).toBe(200);
      expect(poll.json).toHaveLength(1);
      const report = await postOnNewConnection(node.url, `/kp1/${ep.appVersion}/cex/${ep.token}/result/reboot`, [{ id: poll.json[0].id, statusCode: 201 }]);
      expect(report.status).toBe(200);
    }

    await waitFor(() => [...commands.keys()].every((id) => subscriber.has(id, 'EXECUTED')) || undefined, 15_000, () => 'every EXECUTED');
    for (const id of commands.keys()) expect(subscriber.statuses(id), `command ${id}`).toEqual(['PENDING', 'EXECUTED']);

    const metrics = await nodeMetrics(node);
    for (const worker of ['0', '1']) {
      expect(total(metrics, 'cex_device_requests_total', { worker, transport: 'mqtt', resource: 'result' }), `worker ${worker} MQTT results`).toBeGreaterThan(0);
      expect(total(metrics, 'cex_device_requests_total', { worker, transport: 'http', resource: 'result' }), `worker ${worker} HTTP results`).toBeGreaterThan(0);
      expect(total(metrics, 'cex_commands_executed_total', { worker }), `worker ${worker} results stored`).toBeGreaterThan(0);
    }
    expect(total(metrics, 'cex_workers_serving', { worker: 'primary' })).toBe(2);
  });

  it('answers /readyz for every worker', async () => {
    const ready = await getMetrics(node.httpPort, undefined, '/readyz');
    expect([ready.status, JSON.parse(ready.text)]).toEqual([200, { status: 'ok' }]);
  });

  it('replaces a killed worker (logged), and its devices are served again', async () => {
    const [first, second] = workerPids(node.pid);
    expect(second).toBeDefined();
    process.kill(second!, 'SIGKILL');
    const died = await node.waitForLog((l) => l.msg === 'worker died; restarting it');
    expect(died).toMatchObject({ pid: second, signal: 'SIGKILL' });
    await node.waitForLog((l) => l.msg === 'worker serving again', 60_000);
    const now = workerPids(node.pid);
    expect(now).toHaveLength(2);
    expect(now).toContain(first);
    expect(now).not.toContain(second);
    await waitFor(async () => (await getMetrics(node.httpPort, undefined, '/readyz')).status === 200 || undefined, 10_000, () => 'ready again');

    // Devices of the killed worker reconnect (to either worker) and get what is invoked now.
    for (const device of devices) await device.bound();
    const ids = await Promise.all(mqttEndpoints.map(async (ep) => (await invoke(node, ep.endpointId, 'reboot', { after: 'restart' })).id));
    for (const [i, device] of devices.entries()) await waitFor(() => device.ids().has(ids[i]!) || undefined, 10_000, () => `push of ${ids[i]}`);
    expect(total(await nodeMetrics(node), 'cex_worker_restarts_total')).toBe(1);
  }, 90_000);

  it('drains every worker on SIGTERM and exits 0', async () => {
    const pids = workerPids(node.pid);
    expect(pids).toHaveLength(2);
    const exit = await node.stop('SIGTERM');
    expect(exit).toEqual({ code: 0, signal: null });
    expect(node.currentLogs().filter((l) => l.msg === 'stopped')).toHaveLength(3);
    for (const pid of pids) expect(alive(pid), `worker ${pid}`).toBe(false);
  }, 30_000);
});

describe.skipIf(!usingPostgres)('limits across the workers of a node', () => {
  let node: ServerProcess;
  beforeAll(async () => {
    node = await startNode({ MUTATIONS_PER_MINUTE: '10', HTTP_MAX_CONNECTIONS_PER_ADDRESS: '4', METRICS_PORT: '0' });
  }, 90_000);
  afterAll(() => node?.stop('SIGKILL'));

  it('one API key gets MUTATIONS_PER_MINUTE from the node, not from each worker', async () => {
    const created = await gqlOnNewConnection(node.url, ADMIN_KEY, CreateApiKey, { name: 'limited', role: 'OPERATOR' });
    const key = created.json.data.createApiKey.secret as string;
    const [ep] = await createEndpoints(node, 1);
    let accepted = 0;
    for (let i = 0; i < 20; i++) {
      const res = await gqlOnNewConnection(node.url, key, InvokeCommand, { input: { endpointId: ep!.endpointId, commandType: 'limited' } });
      if (res.json.data?.invokeCommand) accepted++;
      else expect(res.json.errors[0].extensions.code).toBe('RATE_LIMITED');
      // Longer than a worker takes to tell the other what it granted.
      await sleep(60);
    }
    // 10 per minute: a burst of 10, and at most one more refilled during the test.
    expect(accepted).toBeGreaterThanOrEqual(10);
    expect(accepted).toBeLessThanOrEqual(11);
    // METRICS_PORT is the primary's own listener, and shows every worker.
    const port = Number((await node.waitForLog((l) => l.msg === 'metrics listening'))['port']);
    const res = await getMetrics(port);
    expect(res.status).toBe(200);
    const metrics = parsePrometheus(res.text);
    for (const worker of ['0', '1']) expect(total(metrics, 'cex_graphql_operations_total', { worker, operation_name: 'InvokeCommand' })).toBeGreaterThan(0);
    expect((await getMetrics(node.httpPort)).status).toBe(404);
  });

  it('HTTP_MAX_CONNECTIONS_PER_ADDRESS caps the node, not each worker', async () => {
    const sockets: Socket[] = [];
    const closed = new Set<Socket>();
    for (let i = 0; i < 6; i++) {
      // From an address of its own: the test's other connections do not count against it.
      const socket = connect({ port: node.httpPort, host: '127.0.0.1', localAddress: '127.0.0.9' });
      socket.on('close', () => closed.add(socket));
      socket.on('error', () => {});
      sockets.push(socket);
      await sleep(60);
    }
    await sleep(300);
    expect(sockets.length - closed.size).toBe(4);
    for (const socket of sockets) socket.destroy();
  });
});

describe.skipIf(!usingPostgres)('a node whose workers keep dying', () => {
  it('gives up after repeated crashes of a worker, stops the others and exits 1', async () => {
    const node = await startNode({});
    const [keep, victim] = workerPids(node.pid);
    process.kill(victim!, 'SIGKILL');
    // Every replacement dies at once too.
    while (node.running) {
      for (const pid of workerPids(node.pid)) if (pid !== keep) process.kill(pid, 'SIGKILL');
      await sleep(20);
    }
    expect(node.exit).toEqual({ code: 1, signal: null });
    expect(node.currentLogs().filter((l) => l.msg === 'worker died; restarting it').map((l) => l['restartInMs'])).toEqual([100, 200, 400, 800, 1600]);
    expect(node.currentLogs().some((l) => l.msg === 'a worker keeps dying; stopping the node')).toBe(true);
    expect(alive(keep!)).toBe(false);
  }, 60_000);
});

describe('WORKERS at start', () => {
  it('refuses WORKERS > 1 on the embedded database (exit 2, one message)', async () => {
    const proc = spawnLines(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PATH: process.env['PATH'], WORKERS: '2', DATA_DIR: '/nonexistent/cex-never-created', PORT: '0', MQTT_PORT: '0' },
    });
    expect(await proc.exited).toBe(2);
    expect(proc.stderr()).toMatch(/WORKERS must be 1 with the embedded database \(PGlite is single-process\), got 2; set DATABASE_URL/);
  });

  it('an unreachable database stops the start with one line (exit 1), however many workers', async () => {
    const proc = spawnLines(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
      env: { PATH: process.env['PATH'], WORKERS: '2', DATABASE_URL: 'postgres://cex@127.0.0.1:1/cex', HOST: '127.0.0.1', PORT: '0', MQTT_PORT: '0', LOG_LEVEL: 'warn' },
    });
    expect(await proc.exited).toBe(1);
    expect(proc.stderr().trim().split('\n')).toEqual(['cex could not start: cannot use the database at DATABASE_URL (127.0.0.1:1/cex): connect ECONNREFUSED 127.0.0.1:1']);
  }, 60_000);

  it.skipIf(!usingPostgres)('a busy port stops the start with one line (exit 1), however many workers', async () => {
    const busy: TcpServer = createTcpServer();
    await new Promise<void>((resolve) => busy.listen(0, '127.0.0.1', resolve));
    const port = (busy.address() as { port: number }).port;
    try {
      const proc = spawnLines(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
        env: { PATH: process.env['PATH'], WORKERS: '2', DATABASE_URL: databaseUrl, HOST: '127.0.0.1', PORT: String(port), MQTT_PORT: '0', LOG_LEVEL: 'warn' },
      });
      expect(await proc.exited).toBe(1);
      expect(proc.stderr().trim().split('\n')).toEqual([`cex could not start: HTTP port ${port} on 127.0.0.1 is already in use; stop what holds it or set PORT to another port`]);
    } finally {
      busy.close();
    }
  }, 60_000);
});
