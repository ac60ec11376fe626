// Command lifecycle metrics, counted by the process that committed the change (so the sums over
// processes are exact: an event seen by every process is not counted by every process).
import { Counter, Histogram } from 'prom-client';
import type { Command } from '../domain/types.ts';
import { CappedLabel, registry } from './registry.ts';

/** Distinct command types that get their own series; later ones are counted as "other". */
export const COMMAND_TYPE_LABELS = 100;

const commandTypes = new CappedLabel(COMMAND_TYPE_LABELS);

const created = new Counter({
  name: 'cex_commands_created_total',
  help: 'Commands created (invoked or re-run) and committed, by command type.',
  labelNames: ['command_type'],
  registers: [registry],
});
const executed = new Counter({
  name: 'cex_commands_executed_total',
  help: 'Commands that got their (first) result, by command type and status code class.',
  labelNames: ['command_type', 'status_class'],
  registers: [registry],
});
const expired = new Counter({
  name: 'cex_commands_expired_total',
  help: 'Commands whose retention for delivery passed before a result, by command type.',
  labelNames: ['command_type'],
  registers: [registry],
});
const canceled = new Counter({
  name: 'cex_commands_canceled_total',
  help: 'PENDING commands canceled by an operator, by command type.',
  labelNames: ['command_type'],
  registers: [registry],
});
const executionSeconds = new Histogram({
  name: 'cex_command_execution_seconds',
  help: 'From a command being created to its result being stored (database clock).',
  buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 1800, 3600],
  registers: [registry],
});

type CounterChild = ReturnType<Counter['labels']>;

/** Label children per admitted type, bound once: recording is two map lookups and an add. */
interface TypeSeries {
  label: string;
  created: CounterChild;
  expired: CounterChild;
  canceled: CounterChild;
  executed: Map<number, CounterChild>;
}
const series = new Map<string, TypeSeries>();

function seriesOf(commandType: string): TypeSeries {
  const label = commandTypes.of(commandType);
  let s = series.get(label);
  if (!s) {
    s = {
      label,
      created: created.labels(label),
      expired: expired.labels(label),
      canceled: canceled.labels(label),
      executed: new Map(),
    };
    series.set(label, s);
  }
  return s;
}

export function countCreated(command: Pick<Command, 'commandType'>, n = 1): void {
  seriesOf(command.commandType).created.inc(n);
}

export function countExpired(commands: readonly Command[]): void {
  for (const c of commands) seriesOf(c.commandType).expired.inc();
}

export function countCanceled(command: Pick<Command, 'commandType'>, n = 1): void {
  seriesOf(command.commandType).canceled.inc(n);
}

export function countExecuted(command: Command): void {
  const s = seriesOf(command.commandType);
  // Devices may report any 32-bit integer (kp1.md): codes outside 100..599 are "other".
  const status = Math.floor((command.statusCode ?? 0) / 100);
  let child = s.executed.get(status);
  if (!child) {
    child = executed.labels(s.label, status >= 1 && status <= 5 ? `${status}xx` : 'other');
    s.executed.set(status, child);
  }
  child.inc();
  if (command.executedAt) executionSeconds.observe((command.executedAt.getTime() - command.createdAt.getTime()) / 1000);
}
