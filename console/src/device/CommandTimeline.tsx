// Delivery on a command row (delivered or not yet, for PENDING commands) and the command's
// timeline in its detail row: created, each delivery, how it ended, with who or what caused it.
import { useEffect } from 'react';
import { useQuery } from 'urql';
import { CommandTimelineQuery, type CommandRow } from '../queries.ts';
import { ErrorBox, Loading, formatTime, shortTime } from '../ui/kit.tsx';

/** Under the status badge of a PENDING command: whether the device provably got it. */
export function DeliveryStatus({ row }: { row: CommandRow }) {
  if (row.status !== 'PENDING') return null;
  if (!row.deliveredAt) {
    return (
      <div className="delivery delivery-waiting" title="No HTTP poll answer or MQTT PUBACK has carried it yet">
        Not delivered
      </div>
    );
  }
  const times = row.deliveryCount > 1 ? ` ×${row.deliveryCount}` : '';
  return (
    <div className="delivery delivery-done" title={`First delivered ${formatTime(row.deliveredAt)}`}>
      Delivered · {row.lastDeliveredVia}
      {times}
    </div>
  );
}

const LABEL: Record<string, string> = {
  CREATED: 'Created',
  DELIVERED: 'Delivered',
  EXECUTED: 'Executed',
  EXPIRED: 'Expired',
  CANCELED: 'Canceled',
  LATE_RESULT: 'Late result',
};

type Cause = {
  kind: string;
  via: string | null;
  invoker: { name: string; door: string } | null;
  endpoint: { id: string; name: string | null } | null;
};

function causeText(cause: Cause): string {
  switch (cause.kind) {
    case 'OPERATOR':
      return cause.invoker ? `by ${cause.invoker.name}${cause.invoker.door === 'REST' ? ' (REST)' : ''}` : 'by an operator';
    case 'TRANSPORT':
      return cause.via === 'MQTT' ? 'over MQTT (PUBACK received)' : 'over HTTP (poll answer written)';
    case 'DEVICE':
      return `reported by ${cause.endpoint?.name ?? 'the device'}`;
    default:
      return 'by the server';
  }
}

/** The timeline, refreshed every few seconds while the command is PENDING (deliveries are not pushed live). */
export function CommandTimeline({ id, status }: { id: string; status: string }) {
  const [result, refetch] = useQuery({ query: CommandTimelineQuery, variables: { id }, requestPolicy: 'network-only' });
  useEffect(() => {
    if (status !== 'PENDING') return;
    const timer = setInterval(() => refetch({ requestPolicy: 'network-only' }), 3000);
    return () => clearInterval(timer);
  }, [status, refetch]);
  useEffect(() => refetch({ requestPolicy: 'network-only' }), [status, refetch]);
  if (result.error && !result.data) return <ErrorBox error={result.error} />;
  const command = result.data?.command;
  if (!command) return <Loading />;
  return (
    <div className="timeline" role="region" aria-label={`Command #${id} timeline`}>
      <div className="timeline-summary small muted">
        {command.deliveredAt
          ? `First delivered ${formatTime(command.deliveredAt)} · ${command.deliveryCount} deliver${command.deliveryCount === 1 ? 'y' : 'ies'}, last over ${command.lastDeliveredVia}`
          : 'Never delivered: no poll answer or acknowledged push has carried it.'}
      </div>
      <ol className="timeline-list">
        {command.events.map((e, i) => (
          <li key={i} className={`timeline-event timeline-${e.type.toLowerCase()}`} data-event={e.type}>
            <span className="timeline-dot" aria-hidden />
            <span className="timeline-type">{LABEL[e.type] ?? e.type}</span>
            <span className="timeline-cause">{causeText(e.cause)}</span>
            <time className="timeline-time small muted" dateTime={e.at} title={formatTime(e.at)}>
              {shortTime(e.at)}
            </time>
          </li>
        ))}
      </ol>
    </div>
  );
}
