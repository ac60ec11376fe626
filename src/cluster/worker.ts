// A worker's side of the cluster IPC (WORKERS > 1): shares its budgets and counts, tells the
// primary when it serves, answers the primary's questions about itself, and asks the primary
// for the node's readiness and metrics when a /readyz or /metrics request lands on it.
import { startSharing } from '../lib/cluster-share.ts';
import { registry } from '../metrics/registry.ts';
import type { Readiness } from '../readiness.ts';
import { isCexMessage, type FromPrimary, type FromWorker } from './messages.ts';

/** The primary asks every worker in turn; its own question times out at 3.5 s. */
const NODE_QUESTION_TIMEOUT_MS = 5_000;

export interface NodeView {
  /** Every worker's readiness, from the primary. */
  readiness(): Promise<Readiness>;
  /** Every worker's metrics as Prometheus text, from the primary. */
  metrics(): Promise<string>;
}

export interface WorkerLink {
  node: NodeView;
  /** Where the primary's readiness questions are answered from, once the app exists. */
  answerWith(readiness: () => Promise<Readiness>): void;
  /** Both listeners are up. */
  serving(): void;
}

export function joinPrimary(): WorkerLink {
  const send = (message: FromWorker) => {
    if (process.connected) process.send!(message);
  };
  const apply = startSharing((deltas) => send({ cex: 'share', deltas }));
  let ownReadiness: (() => Promise<Readiness>) | undefined;
  const answers = new Map<number, (message: FromPrimary) => void>();
  let nextId = 0;

  process.on('message', (message: unknown) => {
    if (!isCexMessage<FromPrimary>(message)) return;
    switch (message.cex) {
      case 'share':
        return apply(message.deltas);
      case 'readiness?': {
        const { id } = message;
        const starting: Readiness = { ready: false, checks: { database: 'unknown', migrations: 'unknown', eventListener: 'unknown', draining: 'starting' } };
        void (ownReadiness ? ownReadiness() : Promise.resolve(starting)).then((readiness) => send({ cex: 'readiness', id, readiness }));
        return;
      }
      case 'metrics?': {
        const { id } = message;
        void registry.getMetricsAsJSON().then((metrics) => send({ cex: 'metrics', id, metrics }));
        return;
      }
      default:
        answers.get(message.id)?.(message);
        answers.delete(message.id);
    }
  });

  function ask(cex: 'node-readiness?' | 'node-metrics?'): Promise<FromPrimary> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        answers.delete(id);
        reject(new Error('no answer from the primary'));
      }, NODE_QUESTION_TIMEOUT_MS);
      answers.set(id, (answer) => {
        clearTimeout(timer);
        resolve(answer);
      });
      send({ cex, id });
    });
  }

  return {
    node: {
      async readiness() {
        const answer = await ask('node-readiness?').catch(() => undefined);
        if (answer?.cex === 'node-readiness') return answer.readiness;
        const own = ownReadiness ? await ownReadiness() : undefined;
        const checks = { database: 'unknown', migrations: 'unknown', eventListener: 'unknown', draining: 'unknown', ...own?.checks, workers: 'no answer from the primary' };
        return { ready: false, checks };
      },
      async metrics() {
        const answer = await ask('node-metrics?');
        if (answer.cex !== 'node-metrics' || answer.text === '') throw new Error('no metrics from the primary');
        return answer.text;
      },
    },
    answerWith(readiness) {
      ownReadiness = readiness;
    },
    serving() {
      send({ cex: 'serving' });
    },
  };
}
