// Scenario 7: a model-based property test of the command lifecycle against a real server
// process (fast-check): invoke, deliver (device poll), result, duplicate result, unknown result,
// expire, re-run and restart (SIGKILL or SIGTERM) in random orders. After every step the stored
// state must equal the model, only allowed transitions ever happen (PENDING→EXECUTED,
// PENDING→EXPIRED, EXPIRED→EXECUTED), and a duplicate result never changes the first.
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RerunCommand } from '../support/documents.ts';
import { commandsViaApi, createEndpoints, gqlData, invoke, kp1Http, sleep, waitFor, type CommandRow, type Endpoint } from './support/api.ts';
import { openBackend, type Backend, type BackendKind } from './support/backend.ts';
import { killAllServers, type ServerProcess } from './support/server.ts';

type Status = CommandRow['status'];
const ALLOWED = new Set(['PENDING>EXECUTED', 'PENDING>EXPIRED', 'EXPIRED>EXECUTED']);
const TYPES = ['reboot', 'switch-light'] as const;

interface ModelCommand {
  id: number;
  type: string;
  payload: unknown;
  status: Status;
  short: boolean;
  expiresAt: number;
  rerunOf: number | null;
  result?: { statusCode: number; payload: unknown; executedAt: number };
}

interface Model {
  commands: ModelCommand[];
  /** Last status seen in the database, per command: transitions are checked against it. */
  observed: Map<number, Status>;
}

interface Real {
  server: ServerProcess;
  endpoint: Endpoint;
  transitions: string[];
}

const byId = (m: Model, id: number) => m.commands.find((c) => c.id === id)!;

/** Reads the endpoint's commands and checks them against the model (and updates observed expiries). */
async function checkState(m: Model, r: Real, step: string): Promise<void> {
  const read = async () => new Map((await commandsViaApi(r.server, [r.endpoint.endpointId])).map((c) => [c.id, c]));
  let rows = await read();
  // A command long past its expiry must be EXPIRED; right after a restart the sweeper may not
  // have run yet, so give it a moment (it runs every 50 ms).
  const overdue = () => m.commands.filter((c) => c.status === 'PENDING' && c.short && Date.now() > c.expiresAt + 5_000);
  if (overdue().some((c) => rows.get(c.id)?.status === 'PENDING')) {
    await waitFor(async () => {
      rows = await read();
      return overdue().every((c) => rows.get(c.id)?.status !== 'PENDING');
    }, 3_000, () => `${step}: overdue commands not expired: ${overdue().map((c) => c.id)}`).catch(() => {});
  }
  expect([...rows.keys()].sort(), `${step}: the stored commands are the model's`).toEqual(m.commands.map((c) => c.id).sort());
  const now = Date.now();
  for (const c of m.commands) {
    const row = rows.get(c.id)!;
    const before = m.observed.get(c.id)!;
    if (before !== row.status) {
      const t = `${before}>${row.status}`;
      r.transitions.push(t);
      expect(ALLOWED.has(t), `${step}: command ${c.id} went ${t}`).toBe(true);
      m.observed.set(c.id, row.status);
    }
    expect({ type: row.commandType, payload: row.payload, rerunOf: row.rerunOf }, `${step}: command ${c.id}`).toEqual({
      type: c.type,
      payload: c.payload,
      rerunOf: c.rerunOf,
    });
    if (c.status === 'PENDING' && c.short && row.status === 'EXPIRED') c.status = 'EXPIRED'; // the sweeper got it
    if (c.status === 'EXECUTED') {
      expect(row.status, `${step}: command ${c.id}`).toBe('EXECUTED');
      const stored = { statusCode: row.statusCode, payload: row.resultPayload, executedAt: row.executedAt?.getTime() };
      if (c.result!.executedAt === 0) c.result!.executedAt = stored.executedAt!; // first sight of the stored result
      expect(stored, `${step}: the first result of ${c.id} stays`).toEqual(c.result);
    } else if (c.status === 'EXPIRED') {
      expect(row.status, `${step}: command ${c.id}`).toBe('EXPIRED');
    } else if (!c.short || now < c.expiresAt - 200) {
      expect(row.status, `${step}: command ${c.id}`).toBe('PENDING');
    } else if (now > c.expiresAt + 5_000) {
      expect(row.status, `${step}: command ${c.id} long past its expiry`).toBe('EXPIRED');
    }
  }
}

class Invoke implements fc.AsyncCommand<Model, Real> {
  constructor(readonly type: string, readonly short: boolean, readonly n: number) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const payload = { n: this.n };
    const c = await invoke(r.server, r.endpoint.endpointId, this.type, payload, this.short ? 1 : 3600);
    m.commands.push({ id: c.id, type: this.type, payload, status: 'PENDING', short: this.short, expiresAt: c.expiresAt.getTime(), rerunOf: null });
    m.observed.set(c.id, 'PENDING');
    await checkState(m, r, this.toString());
  }
  toString = () => `invoke(${this.type}${this.short ? ', 1 s' : ''})`;
}

class Deliver implements fc.AsyncCommand<Model, Real> {
  constructor(readonly type: string) {}
  check = () => true;
  async run(m: Model, r: Real) {
    const res = await kp1Http(r.server, r.endpoint, 'cex', `command/${this.type}`, {});
    expect(res.status).toBe(200);
    const got = new Map((res.json as { id: number; payload?: unknown }[]).map((c) => [c.id, c]));
    const now = Date.now();
    for (const c of m.commands.filter((x) => x.type === this.type)) {
      const surelyPending = c.status === 'PENDING' && (!c.short || now < c.expiresAt - 200);
      if (surelyPending) expect(got.get(c.id), `${this}: outstanding ${c.id} delivered`).toEqual({ id: c.id, payload: c.payload });
      if (c.status !== 'PENDING') expect(got.has(c.id), `${this}: ${c.status} ${c.id} not delivered`).toBe(false);
    }
    for (const id of got.keys()) expect(byId(m, id)?.type, `${this}: ${id} is a ${this.type} of this endpoint`).toBe(this.type);
    await checkState(m, r, this.toString());
  }
  toString = () => `deliver(${this.type})`;
}

class Result implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number, readonly code: number, readonly onlyExecuted: boolean) {}
  check = (m: Readonly<Model>) => m.commands.some((c) => !this.onlyExecuted || c.status === 'EXECUTED');
  async run(m: Model, r: Real) {
    const candidates = m.commands.filter((c) => !this.onlyExecuted || c.status === 'EXECUTED');
    const c = candidates[this.pick % candidates.length]!;
    const payload = { code: this.code };
    const res = await kp1Http(r.server, r.endpoint, 'cex', `result/${c.type}`, [{ id: c.id, statusCode: this.code, payload }]);
    expect(res.status, `${this} on ${c.id}: ${res.text}`).toBe(200);
    // A duplicate keeps the first; a result after expiry lands (kp1.md §2).
    if (c.status !== 'EXECUTED') {
      c.status = 'EXECUTED';
      c.result = { statusCode: this.code, payload, executedAt: 0 };
    }
    await checkState(m, r, `${this} on ${c.id}`);
  }
  toString = () => `${this.onlyExecuted ? 'duplicate result' : 'result'}(${this.code})`;
}

class UnknownResult implements fc.AsyncCommand<Model, Real> {
  check = () => true;
  async run(m: Model, r: Real) {
    const id = Math.max(0, ...m.commands.map((c) => c.id)) + 100_000;
    const res = await kp1Http(r.server, r.endpoint, 'cex', `result/${TYPES[0]}`, [{ id, statusCode: 200 }]);
    expect(res.status).toBe(404);
    await checkState(m, r, this.toString());
  }
  toString = () => 'result(unknown id)';
}

class Expire implements fc.AsyncCommand<Model, Real> {
  check = (m: Readonly<Model>) => m.commands.some((c) => c.short && c.status === 'PENDING');
  async run(m: Model, r: Real) {
    const due = m.commands.filter((c) => c.short && c.status === 'PENDING');
    await sleep(Math.max(0, Math.max(...due.map((c) => c.expiresAt)) + 100 - Date.now()));
    await waitFor(
      async () => {
        const rows = await commandsViaApi(r.server, [r.endpoint.endpointId]);
        return due.every((c) => rows.find((x) => x.id === c.id)?.status === 'EXPIRED');
      },
      5_000,
      () => `not expired: ${due.map((c) => c.id)}`,
    );
    for (const c of due) c.status = 'EXPIRED';
    await checkState(m, r, this.toString());
  }
  toString = () => 'expire';
}

class Rerun implements fc.AsyncCommand<Model, Real> {
  constructor(readonly pick: number) {}
  check = (m: Readonly<Model>) => m.commands.length > 0;
  async run(m: Model, r: Real) {
    const original = m.commands[this.pick % m.commands.length]!;
    const data = await gqlData(r.server, RerunCommand, { id: String(original.id), retentionSeconds: 3600 });
    const c = data.rerunCommand;
    expect({ status: c.status, rerunOf: c.rerunOf?.id }).toEqual({ status: 'PENDING', rerunOf: String(original.id) });
    m.commands.push({
      id: Number(c.id),
      type: original.type,
      payload: original.payload,
      status: 'PENDING',
      short: false,
      expiresAt: new Date(c.expiresAt).getTime(),
      rerunOf: original.id,
    });
    m.observed.set(Number(c.id), 'PENDING');
    await checkState(m, r, `${this} of ${original.id}`);
  }
  toString = () => 'rerun';
}

class Restart implements fc.AsyncCommand<Model, Real> {
  constructor(readonly signal: 'SIGKILL' | 'SIGTERM') {}
  check = () => true;
  async run(m: Model, r: Real) {
    const exit = await r.server.restart(this.signal);
    if (this.signal === 'SIGTERM') expect(exit, 'a clean exit on SIGTERM').toEqual({ code: 0, signal: null });
    await checkState(m, r, this.toString());
  }
  toString = () => `restart(${this.signal})`;
}

const invokeArb = fc.tuple(fc.constantFrom(...TYPES), fc.boolean(), fc.nat(1000)).map(([t, short, n]) => new Invoke(t, short, n));
const resultArb = (onlyExecuted: boolean) =>
  fc.tuple(fc.nat(), fc.integer({ min: 200, max: 599 })).map(([p, c]) => new Result(p, c, onlyExecuted));
const commandArb: fc.Arbitrary<fc.AsyncCommand<Model, Real>> = fc.oneof(
  { weight: 4, arbitrary: invokeArb },
  { weight: 2, arbitrary: fc.constantFrom(...TYPES).map((t) => new Deliver(t)) },
  { weight: 3, arbitrary: resultArb(false) },
  { weight: 2, arbitrary: resultArb(true) },
  { weight: 1, arbitrary: fc.constant(new UnknownResult()) },
  { weight: 2, arbitrary: fc.constant(new Expire()) },
  { weight: 1, arbitrary: fc.nat().map((p) => new Rerun(p)) },
  { weight: 1, arbitrary: fc.constantFrom('SIGKILL' as const, 'SIGTERM' as const).map((s) => new Restart(s)) },
);

describe.each<[BackendKind, number, number]>([
  ['postgres', 3, 30_000],
  ['pglite', 2, 25_000],
])('command lifecycle model (%s)', (kind, numRuns, timeLimit) => {
  let backend: Backend;
  let server: ServerProcess;

  beforeAll(async () => {
    backend = await openBackend(kind);
    server = backend.server();
    await server.start();
  });

  afterAll(async () => {
    await killAllServers();
    await backend?.destroy();
  });

  it('only allowed transitions, idempotent duplicates, state equal to the model after every step', async () => {
    const transitions: string[] = [];
    let runs = 0;
    let steps = 0;
    await fc.assert(
      // Long sequences, few runs: every step is real I/O. (A plain array rather than fc.commands:
      // with shrinking off, its length distribution only made runs shorter.)
      fc.asyncProperty(fc.array(commandArb, { minLength: 12, maxLength: 18 }), async (cmds) => {
        runs++;
        const [endpoint] = await createEndpoints(server, 1);
        const real: Real = { server, endpoint: endpoint!, transitions };
        const ran: string[] = [];
        const logged = cmds.map((c) => ({
          check: (m: Readonly<Model>) => c.check(m),
          run: async (m: Model, r: Real) => {
            ran.push(c.toString());
            steps++;
            await c.run(m, r);
          },
          toString: () => c.toString(),
        }));
        try {
          await fc.asyncModelRun(() => ({ model: { commands: [], observed: new Map() }, real }), logged);
        } catch (error) {
          throw new Error(`after steps: ${ran.join(', ')}: ${(error as Error).message}`, { cause: error });
        }
      }),
      // Each step talks to a real process (and a restart takes seconds): few runs, no shrinking
      // (a failure prints its seed and path), and a time bound.
      { numRuns, endOnFailure: true, interruptAfterTimeLimit: timeLimit, seed: process.env['FAULT_SEED'] ? Number(process.env['FAULT_SEED']) : undefined },
    );
    const tally: Record<string, number> = {};
    for (const t of transitions) tally[t] = (tally[t] ?? 0) + 1;
    console.log(`[${kind}] ${runs} runs, ${steps} steps, ${server.generation - 1} restarts; transitions seen: ${JSON.stringify(tally)}`);
    expect(runs, 'runs within the time bound').toBeGreaterThanOrEqual(2);
    expect(server.problems()).toEqual([]);
  });
});
