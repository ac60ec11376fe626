// One batch: live progress (commandBatchProgress, at most 5 updates a second), counts, status
// codes, skipped devices, its commands, and Cancel batch for what is still pending.
import { useContext, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { BatchProgress, BatchQuery, CancelCommandBatch, type BatchRow } from '../batch-queries.ts';
import { CommandList } from '../device/CommandList.tsx';
import { useLiveBatches, useOnReconnect } from '../live.ts';
import { Link } from '../router.tsx';
import { can, SessionContext } from '../session-context.ts';
import { StatusFilter, type Status } from '../ui/filters.tsx';
import { Empty, ErrorBox, JsonValue, Loading, PageHeader, errorText, formatTime } from '../ui/kit.tsx';
import { useCursors } from '../ui/paging.tsx';
import { useToast } from '../ui/toast.tsx';
import { ProgressBar, targetText } from './Batches.tsx';

const PAGE = 20;

export function BatchPage({ id }: { id: string }) {
  const operator = can(useContext(SessionContext), 'OPERATOR');
  const toast = useToast();
  const [status, setStatus] = useState('');
  const cursors = useCursors(status);
  const [result, refetch] = useQuery({
    query: BatchQuery,
    variables: { id, first: PAGE, after: cursors.after, statuses: status ? [status as Status] : null },
  });
  const reload = () => refetch({ requestPolicy: 'network-only' });
  const [live, setLive] = useState<BatchRow | null>(null);
  const batch = result.data?.commandBatch;
  const current = live && live.id === id ? live : batch;
  useLiveBatches(
    BatchProgress,
    { id },
    (events) => {
      const last = events.at(-1)!.commandBatchProgress;
      setLive(last);
      // The rows of the page changed status too: read them again.
      reload();
    },
    Boolean(batch && !batch.done),
  );
  useOnReconnect(reload);
  const [cancelState, cancel] = useMutation(CancelCommandBatch);

  if (result.error && !result.data) return <ErrorBox error={result.error} />;
  if (!result.data) return <Loading />;
  if (!batch || !current) return <Empty title={`No batch "${id}"`} />;
  const { counts } = current;

  return (
    <>
      <PageHeader
        title={
          <>
            <Link to="/batches" className="muted">
              Batches
            </Link>{' '}
            / <code>{batch.commandType}</code>
          </>
        }
        subtitle={`${targetText(batch.target)} · by ${batch.createdBy.name} · ${formatTime(batch.createdAt)}`}
        actions={
          operator && (
            <button
              className="button button-danger"
              disabled={counts.pending === 0 || cancelState.fetching}
              onClick={async () => {
                const res = await cancel({ id });
                if (res.error) toast('error', errorText(res.error));
                else {
                  toast('success', `Canceled ${res.data!.cancelCommandBatch.counts.canceled.toLocaleString()} pending commands.`);
                  setLive(res.data!.cancelCommandBatch);
                  reload();
                }
              }}
            >
              Cancel batch
            </button>
          )
        }
      />
      <section className="card batch-summary" aria-label="Progress">
        <ProgressBar batch={current} />
        <dl className="batch-counts">
          {(
            [
              ['executed', 'Executed'],
              ['pending', 'Pending'],
              ['expired', 'Expired'],
              ['canceled', 'Canceled'],
            ] as const
          ).map(([key, label]) => (
            <div key={key} className={`batch-count count-${key}`}>
              <dt>{label}</dt>
              <dd data-testid={`count-${key}`}>{counts[key].toLocaleString()}</dd>
            </div>
          ))}
          <div className="batch-count">
            <dt>Skipped</dt>
            <dd data-testid="count-skipped">{batch.skipped.length.toLocaleString()}</dd>
          </div>
        </dl>
        <div className="batch-meta">
          <div>
            <h3>Status codes</h3>
            {current.statusCodes.length === 0 ? (
              <span className="muted small">No results yet.</span>
            ) : (
              <div className="chips">
                {current.statusCodes.map((s) => (
                  <span key={s.statusCode} className={`chip code-${Math.floor(s.statusCode / 100)}xx`}>
                    <strong>{s.statusCode}</strong> × {s.count.toLocaleString()}
                  </span>
                ))}
              </div>
            )}
          </div>
          <div>
            <h3>Payload</h3>
            <JsonValue value={batch.payload} label="payload" />
          </div>
        </div>
        {batch.skipped.length > 0 && (
          <details className="batch-skipped">
            <summary>
              {batch.skipped.length.toLocaleString()} skipped device{batch.skipped.length === 1 ? '' : 's'}
            </summary>
            <ul>
              {batch.skipped.slice(0, 100).map((s) => (
                <li key={s.endpointId}>
                  <code>{s.endpointId}</code> <span className="muted small">{s.reason === 'REVOKED' ? 'revoked' : 'not found'}</span>
                </li>
              ))}
            </ul>
          </details>
        )}
      </section>
      <div className="toolbar">
        <StatusFilter value={status} onChange={setStatus} />
      </div>
      <section className="card table-card" role="region" aria-label="Batch commands">
        <CommandList
          error={result.error}
          rows={batch.commands.edges.map((e) => e.node)}
          pageInfo={batch.commands.pageInfo}
          cursors={cursors}
          showDevice
          empty={{ title: 'No commands', text: status ? 'None of this batch has that status.' : 'Every targeted device was skipped.' }}
        />
      </section>
    </>
  );
}
