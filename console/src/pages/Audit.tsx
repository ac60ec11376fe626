// The audit trail (ADMIN): every operator action, newest first, filtered by action, actor,
// target and time; keyset pages. Filters live in the query string, so a link can point at one
// device's or one key's history.
import type { ReactNode } from 'react';
import { useQuery } from 'urql';
import { ApiKeysQuery, AuditLogQuery, type AuditAction, type AuditTargetType, type ResultOf } from '../queries.ts';
import { Link, useDebounced, useQueryParam } from '../router.tsx';
import { Badge, Empty, ErrorBox, JsonValue, Loading, PageHeader, formatTime, shortTime } from '../ui/kit.tsx';
import { Pager, useCursors } from '../ui/paging.tsx';

const PAGE = 50;

type Tone = 'green' | 'grey' | 'red' | 'blue' | 'amber';

const ACTIONS: Record<AuditAction, { label: string; group: string; tone: Tone }> = {
  COMMAND_INVOKED: { label: 'Command invoked', group: 'Commands', tone: 'blue' },
  COMMAND_RERUN: { label: 'Command re-run', group: 'Commands', tone: 'blue' },
  COMMAND_CANCELED: { label: 'Command canceled', group: 'Commands', tone: 'red' },
  BATCH_INVOKED: { label: 'Batch invoked', group: 'Commands', tone: 'blue' },
  BATCH_CANCELED: { label: 'Batch canceled', group: 'Commands', tone: 'red' },
  COMMAND_SCHEMA_SET: { label: 'Schema set', group: 'Applications', tone: 'green' },
  COMMAND_SCHEMA_REMOVED: { label: 'Schema removed', group: 'Applications', tone: 'red' },
  APPLICATION_CREATED: { label: 'Application created', group: 'Applications', tone: 'green' },
  APPLICATION_VERSION_CREATED: { label: 'Version created', group: 'Applications', tone: 'green' },
  ENDPOINT_CREATED: { label: 'Device created', group: 'Devices', tone: 'green' },
  ENDPOINT_RENAMED: { label: 'Device renamed', group: 'Devices', tone: 'grey' },
  ENDPOINT_METADATA_CHANGED: { label: 'Metadata changed', group: 'Devices', tone: 'grey' },
  ENDPOINT_TOKEN_ROTATED: { label: 'Token rotated', group: 'Devices', tone: 'amber' },
  ENDPOINT_CREDENTIALS_SET: { label: 'Credentials set', group: 'Devices', tone: 'amber' },
  ENDPOINT_CREDENTIALS_CLEARED: { label: 'Credentials cleared', group: 'Devices', tone: 'amber' },
  ENDPOINT_REVOKED: { label: 'Device revoked', group: 'Devices', tone: 'red' },
  API_KEY_CREATED: { label: 'API key created', group: 'API keys', tone: 'green' },
  API_KEY_REVOKED: { label: 'API key revoked', group: 'API keys', tone: 'red' },
  WEBHOOK_CREATED: { label: 'Webhook created', group: 'Webhooks', tone: 'green' },
  WEBHOOK_UPDATED: { label: 'Webhook changed', group: 'Webhooks', tone: 'grey' },
  WEBHOOK_DELETED: { label: 'Webhook deleted', group: 'Webhooks', tone: 'red' },
  WEBHOOK_SECRET_ROTATED: { label: 'Webhook secret rotated', group: 'Webhooks', tone: 'amber' },
  WEBHOOK_TESTED: { label: 'Webhook tested', group: 'Webhooks', tone: 'grey' },
  WEBHOOK_EVENT_REDELIVERED: { label: 'Event redelivered', group: 'Webhooks', tone: 'grey' },
  WEBHOOK_DISABLED: { label: 'Webhook disabled', group: 'Webhooks', tone: 'red' },
};

const TARGETS: Record<AuditTargetType, string> = {
  COMMAND: 'Command',
  BATCH: 'Batch',
  APPLICATION: 'Application',
  APPLICATION_VERSION: 'Application version',
  ENDPOINT: 'Device',
  API_KEY: 'API key',
  WEBHOOK: 'Webhook',
};

const GROUPS = [...new Set(Object.values(ACTIONS).map((a) => a.group))];
const CONFIGURED_KEY = 'env:ADMIN_API_KEY';
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

type Entry = ResultOf<typeof AuditLogQuery>['auditLog']['edges'][number]['node'];

/** A datetime-local value (the browser's time zone) as an ISO instant, or null. */
function instant(local: string): string | null {
  const t = local ? new Date(local) : null;
  return t && !Number.isNaN(t.getTime()) ? t.toISOString() : null;
}

export function AuditPage() {
  const [action, setAction] = useQueryParam('action');
  const [actor, setActor] = useQueryParam('actor');
  const [targetType, setTargetType] = useQueryParam('targetType');
  const [targetId, setTargetId] = useQueryParam('target');
  const [from, setFrom] = useQueryParam('from');
  const [to, setTo] = useQueryParam('to');
  const id = useDebounced(targetId.trim());
  const cursors = useCursors([action, actor, targetType, id, from, to].join('/'));
  const [keys] = useQuery({ query: ApiKeysQuery });
  const [result] = useQuery({
    query: AuditLogQuery,
    variables: {
      action: (action as AuditAction) || null,
      actor: actor || null,
      target: targetType ? { type: targetType as AuditTargetType, id: id || null } : null,
      from: instant(from),
      to: instant(to),
      first: PAGE,
      after: cursors.after,
    },
    requestPolicy: 'cache-and-network',
  });
  const page = result.data?.auditLog;
  const filtered = Boolean(action || actor || targetType || from || to);
  const clear = () => [setAction, setActor, setTargetType, setTargetId, setFrom, setTo].forEach((set) => set(''));

  return (
    <>
      <PageHeader
        title="Audit trail"
        subtitle="Every operator action, newest first. Each entry is written in the same transaction as its action and is never changed."
      />
      <div className="toolbar">
        <select className="input" aria-label="Action" value={action} onChange={(e) => setAction(e.target.value)}>
          <option value="">All actions</option>
          {GROUPS.map((group) => (
            <optgroup key={group} label={group}>
              {Object.entries(ACTIONS)
                .filter(([, a]) => a.group === group)
                .map(([value, a]) => (
                  <option key={value} value={value}>
                    {a.label}
                  </option>
                ))}
            </optgroup>
          ))}
        </select>
        <select className="input" aria-label="Actor" value={actor} onChange={(e) => setActor(e.target.value)}>
          <option value="">Any API key</option>
          <option value={CONFIGURED_KEY}>ADMIN_API_KEY (configured)</option>
          {keys.data?.apiKeys.map((k) => (
            <option key={k.id} value={k.id}>
              {k.name} · {k.role.toLowerCase()}
              {k.revokedAt ? ' (revoked)' : ''}
            </option>
          ))}
        </select>
        <select
          className="input"
          aria-label="Target type"
          value={targetType}
          onChange={(e) => {
            setTargetType(e.target.value);
            if (!e.target.value) setTargetId('');
          }}
        >
          <option value="">Any target</option>
          {Object.entries(TARGETS).map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
        <input
          className="input"
          aria-label="Target id"
          placeholder="Target id"
          value={targetId}
          disabled={!targetType}
          onChange={(e) => setTargetId(e.target.value)}
        />
      </div>
      <div className="toolbar">
        <label className="field-inline">
          <span className="muted small">From</span>
          <input className="input" type="datetime-local" aria-label="From" value={from} onChange={(e) => setFrom(e.target.value)} />
        </label>
        <label className="field-inline">
          <span className="muted small">To</span>
          <input className="input" type="datetime-local" aria-label="To" value={to} onChange={(e) => setTo(e.target.value)} />
        </label>
        {filtered && (
          <button className="button button-quiet" onClick={clear}>
            Clear filters
          </button>
        )}
      </div>
      <section className="card table-card" role="region" aria-label="Audit entries">
        {result.error && !page ? (
          <ErrorBox error={result.error} />
        ) : !page ? (
          <Loading />
        ) : page.edges.length === 0 ? (
          <Empty title={filtered ? 'No matching entries' : 'No entries yet'}>
            {filtered ? 'Nothing recorded matches these filters.' : 'Operator actions appear here as they happen.'}
          </Empty>
        ) : (
          <>
            <div className="table-scroll">
              <table className="table audit-table">
                <thead>
                  <tr>
                    <th>Time</th>
                    <th>Actor</th>
                    <th>Action</th>
                    <th>Target</th>
                    <th>Input</th>
                  </tr>
                </thead>
                <tbody>
                  {page.edges.map(({ node }) => (
                    <AuditRow key={node.id} entry={node} />
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

function AuditRow({ entry }: { entry: Entry }) {
  const action = ACTIONS[entry.action];
  return (
    <tr data-audit-id={entry.id} data-action={entry.action}>
      <td className="nowrap small" title={formatTime(entry.at)}>
        {shortTime(entry.at)}
      </td>
      <td className="nowrap">
        {entry.actor ? (
          <>
            <span className="strong">{entry.actor.name}</span>
            {entry.actor.door === 'REST' && <Badge tone="grey">REST</Badge>}
            <div className="small muted mono" title="API key id">
              {entry.actor.apiKeyId === CONFIGURED_KEY ? 'configured key' : entry.actor.apiKeyId.slice(0, 8)}
            </div>
          </>
        ) : (
          <span className="muted">the server</span>
        )}
      </td>
      <td className="nowrap">
        <Badge tone={action.tone}>{action.label}</Badge>
      </td>
      <td className="nowrap">
        <div className="small muted">{TARGETS[entry.target.type]}</div>
        <TargetLink entry={entry} />
      </td>
      <td>
        <InputSummary input={entry.input as Record<string, unknown>} />
      </td>
    </tr>
  );
}

function TargetLink({ entry }: { entry: Entry }) {
  const { type, id } = entry.target;
  const input = entry.input as Record<string, unknown>;
  const short = <code>{type === 'COMMAND' ? `#${id}` : id.length > 12 ? `${id.slice(0, 8)}…` : id}</code>;
  let to: string | null = null;
  if (type === 'ENDPOINT') to = `/devices/${id}`;
  else if (type === 'COMMAND' && typeof input['endpointId'] === 'string') to = `/devices/${input['endpointId']}#command-${id}`;
  else if (type === 'APPLICATION_VERSION') {
    const name = input['applicationVersion'] ?? input['name'];
    if (typeof name === 'string') to = `/applications/${encodeURIComponent(name)}`;
  } else if (type === 'APPLICATION') to = '/applications';
  else if (type === 'API_KEY') to = '/api-keys';
  return (
    <span title={id}>
      {to ? <Link to={to}>{short}</Link> : short}
    </span>
  );
}

/** The input's fields: plain values inline, objects collapsed, truncated ones as their size. */
function InputSummary({ input }: { input: Record<string, unknown> }) {
  const fields = Object.entries(input);
  if (fields.length === 0) return <span className="muted">—</span>;
  return (
    <dl className="kv">
      {fields.map(([key, value]) => (
        <div key={key} className="kv-pair">
          <dt>{key}</dt>
          <dd>{valueOf(key, value)}</dd>
        </div>
      ))}
    </dl>
  );
}

function valueOf(key: string, value: unknown): ReactNode {
  if (value === null) return <span className="muted">null</span>;
  if (typeof value === 'string' && UUID.test(value)) return <code title={value}>{value.slice(0, 8)}…</code>;
  if (typeof value !== 'object') return <code>{String(value)}</code>;
  const v = value as { truncated?: unknown; bytes?: unknown };
  if (v.truncated === true && typeof v.bytes === 'number') {
    return <Badge tone="grey">{`${Math.round(v.bytes / 1024)} KiB, not kept`}</Badge>;
  }
  return <JsonValue value={value} label={key} />;
}
