// Bulk invokes: send one command to many devices (an application version, an application with an
// optional name search, or a list of endpoint ids) and the list of batches, newest first.
import { useContext, useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import { BatchesQuery, InvokeCommands, type BatchRow } from '../batch-queries.ts';
import { useOnReconnect, useEvery } from '../live.ts';
import { Link, navigate, useQueryParam } from '../router.tsx';
import { can, SessionContext } from '../session-context.ts';
import { useApplications } from '../ui/filters.tsx';
import { Badge, Empty, ErrorBox, Loading, PageHeader, errorText, shortTime } from '../ui/kit.tsx';
import { Pager, useCursors } from '../ui/paging.tsx';
import { useToast } from '../ui/toast.tsx';

const PAGE = 20;

export function BatchesPage() {
  const operator = can(useContext(SessionContext), 'OPERATOR');
  const cursors = useCursors('');
  const [result, refetch] = useQuery({ query: BatchesQuery, variables: { first: PAGE, after: cursors.after } });
  const reload = () => refetch({ requestPolicy: 'network-only' });
  useOnReconnect(reload);
  // Counts of the listed batches move as devices answer; the detail page follows one live.
  useEvery(5000, reload);
  const page = result.data?.commandBatches;

  return (
    <>
      <PageHeader title="Batches" subtitle="One command to many devices at once, and how each batch is doing." />
      {operator && <NewBatch />}
      <section className="card table-card" role="region" aria-label="Batches">
        {result.error && !page ? (
          <ErrorBox error={result.error} />
        ) : !page ? (
          <Loading />
        ) : page.edges.length === 0 ? (
          <Empty title="No batches yet">Send a command to every device of an application version, or to a list of devices.</Empty>
        ) : (
          <>
            <div className="table-scroll">
              <table className="table">
                <thead>
                  <tr>
                    <th>Created</th>
                    <th>Command</th>
                    <th>Target</th>
                    <th>Progress</th>
                    <th>By</th>
                  </tr>
                </thead>
                <tbody>
                  {page.edges.map(({ node: b }) => (
                    <tr key={b.id}>
                      <td className="nowrap">
                        <Link to={`/batches/${b.id}`}>{shortTime(b.createdAt)}</Link>
                      </td>
                      <td>
                        <code>{b.commandType}</code>
                      </td>
                      <td>{targetText(b.target)}</td>
                      <td className="batch-progress-cell">
                        <ProgressBar batch={b} compact />
                      </td>
                      <td className="small">{b.createdBy.name}</td>
                    </tr>
                  ))}
                </tbody>
              </table>
            </div>
            <Pager cursors={cursors} pageInfo={page.pageInfo} />
          </>
        )}
      </section>
    </>
  );
}

type Kind = 'version' | 'application' | 'ids';

function NewBatch() {
  const toast = useToast();
  const apps = useApplications();
  const [preset] = useQueryParam('version');
  const [kind, setKind] = useState<Kind>('version');
  const [version, setVersion] = useState(preset);
  const [application, setApplication] = useState('');
  const [search, setSearch] = useState('');
  const [ids, setIds] = useState('');
  const [commandType, setCommandType] = useState('');
  const [payload, setPayload] = useState('');
  const [state, invoke] = useMutation(InvokeCommands);
  const versions = (apps ?? []).flatMap((a) => a.versions.map((v) => v.name));

  const submit = async (e: FormEvent) => {
    e.preventDefault();
    let body: unknown = null;
    try {
      body = payload.trim() ? JSON.parse(payload) : null;
    } catch {
      toast('error', 'The payload is not valid JSON.');
      return;
    }
    const target =
      kind === 'version'
        ? { applicationVersion: version }
        : kind === 'application'
          ? { application, search: search.trim() || null }
          : { endpointIds: ids.split(/[\s,]+/).filter(Boolean) };
    const res = await invoke({ input: { target, commandType: commandType.trim(), payload: body } });
    if (res.error || !res.data) return toast('error', errorText(res.error));
    const batch = res.data.invokeCommands;
    toast('success', `Sent to ${batch.total} device${batch.total === 1 ? '' : 's'}${batch.skipped.length ? `, ${batch.skipped.length} skipped` : ''}.`);
    navigate(`/batches/${batch.id}`);
  };

  return (
    <form className="card form-card form" aria-label="Send to many devices" onSubmit={submit}>
      <h2>Send to many devices</h2>
      <div className="chips" role="radiogroup" aria-label="Target">
        {(
          [
            ['version', 'Application version'],
            ['application', 'Application'],
            ['ids', 'Device ids'],
          ] as const
        ).map(([k, label]) => (
          <button key={k} type="button" role="radio" aria-checked={kind === k} className={`chip${kind === k ? ' active' : ''}`} onClick={() => setKind(k)}>
            {label}
          </button>
        ))}
      </div>
      <div className="form-inline">
        {kind === 'version' && (
          <label className="field">
            <span>Application version</span>
            <select className="input" value={version} onChange={(e) => setVersion(e.target.value)} required>
              <option value="">Choose…</option>
              {versions.map((v) => (
                <option key={v}>{v}</option>
              ))}
            </select>
          </label>
        )}
        {kind === 'application' && (
          <>
            <label className="field">
              <span>Application</span>
              <select className="input" value={application} onChange={(e) => setApplication(e.target.value)} required>
                <option value="">Choose…</option>
                {(apps ?? []).map((a) => (
                  <option key={a.id}>{a.name}</option>
                ))}
              </select>
            </label>
            <label className="field">
              <span>Name contains (optional)</span>
              <input className="input" value={search} onChange={(e) => setSearch(e.target.value)} placeholder="floor-2" />
            </label>
          </>
        )}
        <label className="field">
          <span>Command type</span>
          <input className="input" value={commandType} onChange={(e) => setCommandType(e.target.value)} placeholder="reboot" required />
        </label>
      </div>
      {kind === 'ids' && (
        <label className="field">
          <span>Device ids (up to 10,000; spaces, commas or new lines between them)</span>
          <textarea className="input mono" rows={3} value={ids} onChange={(e) => setIds(e.target.value)} required />
        </label>
      )}
      <label className="field">
        <span>Payload (JSON, checked against each version's command schema)</span>
        <textarea className="input mono" rows={3} value={payload} onChange={(e) => setPayload(e.target.value)} placeholder='{"delay": 5}' />
      </label>
      <div className="form-actions">
        <button className="button button-primary" disabled={state.fetching || (kind === 'application' && !application)}>
          {state.fetching ? 'Sending…' : 'Send command'}
        </button>
        <span className="small muted">One command per device that exists and is not revoked; the others are listed as skipped.</span>
      </div>
    </form>
  );
}

export function targetText(t: BatchRow['target']): string {
  if (t.kind === 'APPLICATION_VERSION') return `version ${t.applicationVersion}`;
  if (t.kind === 'APPLICATION') return `application ${t.application}${t.search ? ` · name contains "${t.search}"` : ''}`;
  return `${t.requested.toLocaleString()} device id${t.requested === 1 ? '' : 's'}`;
}

const SEGMENTS = [
  ['executed', 'Executed'],
  ['pending', 'Pending'],
  ['expired', 'Expired'],
  ['canceled', 'Canceled'],
] as const;

/** Executed, pending, expired and canceled as shares of the batch, with the figures beside. */
export function ProgressBar({ batch, compact = false }: { batch: Pick<BatchRow, 'total' | 'counts' | 'done'>; compact?: boolean }) {
  const { total, counts } = batch;
  const settled = total - counts.pending;
  const pct = total === 0 ? 100 : Math.round((settled / total) * 100);
  return (
    <div className={`batch-progress${compact ? ' compact' : ''}`}>
      <div className="batch-bar" role="progressbar" aria-label="Batch progress" aria-valuemin={0} aria-valuemax={total} aria-valuenow={settled}>
        {SEGMENTS.map(([key]) =>
          counts[key] > 0 ? <span key={key} className={`batch-seg seg-${key}`} style={{ width: `${(counts[key] / Math.max(total, 1)) * 100}%` }} /> : null,
        )}
      </div>
      <div className="batch-figures">
        <span className="strong">{pct} %</span>
        <span className="muted small">
          {settled.toLocaleString()} of {total.toLocaleString()}
        </span>
        {batch.done ? <Badge tone="green">Done</Badge> : <Badge tone="amber">Running</Badge>}
      </div>
    </div>
  );
}

