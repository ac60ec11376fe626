// The Commands history table: status badges, codes, expandable payloads, expiry, who invoked,
// re-run links, Cancel on pending commands, delivery, and each command's timeline on demand.
import { Fragment, useContext, useState } from 'react';
import { useMutation } from 'urql';
import { CancelCommand, RerunCommand, type CommandRow } from '../queries.ts';
import { Link } from '../router.tsx';
import { can, SessionContext } from '../session-context.ts';
import { JsonValue, StatusBadge, errorText, formatTime, relativeTime, shortTime } from '../ui/kit.tsx';
import { useToast } from '../ui/toast.tsx';
import { CommandTimeline, DeliveryStatus } from './CommandTimeline.tsx';

export function CommandTable({ rows, showDevice = false }: { rows: readonly CommandRow[]; showDevice?: boolean }) {
  const session = useContext(SessionContext);
  const toast = useToast();
  const [, rerun] = useMutation(RerunCommand);
  const [, cancel] = useMutation(CancelCommand);
  const [busy, setBusy] = useState<string | null>(null);
  const [open, setOpen] = useState<ReadonlySet<string>>(new Set());
  const operator = can(session, 'OPERATOR');
  const columns = 8 + (showDevice ? 1 : 0) + (operator ? 1 : 0);
  const toggle = (id: string) =>
    setOpen((previous) => {
      const next = new Set(previous);
      if (!next.delete(id)) next.add(id);
      return next;
    });

  async function onRerun(row: CommandRow) {
    setBusy(row.id);
    const res = await rerun({ id: row.id });
    setBusy(null);
    if (res.error) toast('error', errorText(res.error));
    else if (res.data) toast('success', `Command #${res.data.rerunCommand.id} sent (re-run of #${row.id}).`);
  }

  async function onCancel(row: CommandRow) {
    setBusy(row.id);
    const res = await cancel({ id: row.id });
    setBusy(null);
    if (res.error) toast('error', errorText(res.error));
    else toast('success', `Command #${row.id} canceled.`);
  }

  return (
    <table className="table commands-table">
      <thead>
        <tr>
          <th>#</th>
          {showDevice && <th>Device</th>}
          <th>Type</th>
          <th>Status</th>
          <th>Code</th>
          <th>Reason</th>
          <th>Payload</th>
          <th>Result</th>
          <th>Created · expiry</th>
          {operator && <th aria-label="Actions" />}
        </tr>
      </thead>
      <tbody>
        {rows.map((row) => (
          <Fragment key={row.id}>
          <tr id={`command-${row.id}`} data-command-id={row.id} data-status={row.status} className={open.has(row.id) ? 'row-open' : undefined}>
            <td className="nowrap">
              <span className="strong">#{row.id}</span>
              <button
                className="link-button small timeline-toggle"
                aria-expanded={open.has(row.id)}
                aria-label={`Timeline of #${row.id}`}
                onClick={() => toggle(row.id)}
              >
                {open.has(row.id) ? 'Hide timeline' : 'Timeline'}
              </button>
              {row.rerunOf && (
                <div className="small">
                  re-run of{' '}
                  <a href={`#command-${row.rerunOf.id}`} className="rerun-link">
                    #{row.rerunOf.id}
                  </a>
                </div>
              )}
            </td>
            {showDevice && (
              <td className="nowrap">
                <Link to={`/devices/${row.endpoint.id}`}>{row.endpoint.name ?? row.endpoint.id.slice(0, 8)}</Link>
                {row.endpoint.applicationVersion && <div className="small muted">{row.endpoint.applicationVersion.name}</div>}
              </td>
            )}
            <td>
              <code>{row.commandType}</code>
            </td>
            <td>
              <StatusBadge status={row.status} />
              <DeliveryStatus row={row} />
            </td>
            <td className={statusCodeClass(row.statusCode)} title={statusCodeTitle(row.statusCode)}>
              {row.statusCode ?? <span className="muted">—</span>}
            </td>
            <td>{row.reasonPhrase ?? <span className="muted">—</span>}</td>
            <td className="json-cell">
              <JsonValue value={row.payload} label={`payload of #${row.id}`} />
            </td>
            <td className="json-cell">
              <JsonValue value={row.resultPayload} label={`result of #${row.id}`} />
            </td>
            <td className="nowrap small">
              <div title={formatTime(row.createdAt)}>{shortTime(row.createdAt)}</div>
              <div className="muted" title={`Expires ${formatTime(row.expiresAt)}`}>
                {row.status === 'PENDING' ? `expires ${relativeTime(row.expiresAt)}` : `expiry ${shortTime(row.expiresAt)}`}
              </div>
              {row.canceledAt && (
                <div className="muted" title={formatTime(row.canceledAt)}>
                  canceled {shortTime(row.canceledAt)}
                  {row.canceledBy && ` by ${row.canceledBy.name}`}
                </div>
              )}
              {row.invokedBy && (
                <div className="muted">
                  by {row.invokedBy.name}
                  {row.invokedBy.door === 'REST' && ' (REST)'}
                </div>
              )}
            </td>
            {operator && (
              <td>
                <button className="button button-small" disabled={busy === row.id} onClick={() => void onRerun(row)}>
                  Re-run
                </button>
                {row.status === 'PENDING' && (
                  <button className="button button-small" disabled={busy === row.id} onClick={() => void onCancel(row)}>
                    Cancel
                  </button>
                )}
              </td>
            )}
          </tr>
          {open.has(row.id) && (
            <tr className="detail-row">
              <td colSpan={columns}>
                <CommandTimeline id={row.id} status={row.status} />
              </td>
            </tr>
          )}
          </Fragment>
        ))}
      </tbody>
    </table>
  );
}

/** Devices may report any 32-bit integer: HTTP's 4xx/5xx are failures, codes outside 100-599 are shown plainly. */
function statusCodeClass(code: number | null): string | undefined {
  if (code === null) return undefined;
  if (code < 100 || code > 599) return 'code-other';
  return code >= 400 ? 'code-bad' : undefined;
}

function statusCodeTitle(code: number | null): string | undefined {
  return code !== null && (code < 100 || code > 599) ? 'Not an HTTP status code: the device’s own code, as reported' : undefined;
}
