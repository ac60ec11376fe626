// Webhooks (ADMIN): list, create (signing secret shown once), edit, enable/disable, delete,
// rotate the secret, send a test ping, and each webhook's delivery attempts with redelivery.
import { useState } from 'react';
import { useMutation, useQuery } from 'urql';
import {
  CreateWebhook,
  DeleteWebhook,
  RedeliverWebhookEvent,
  RotateWebhookSecret,
  TestWebhook,
  UpdateWebhook,
  WebhookDeliveriesQuery,
  WebhooksQuery,
  type EventType,
  type WebhookRow,
} from '../webhook-queries.ts';
import { Badge, Empty, ErrorBox, Loading, PageHeader, SecretOnce, errorText, formatTime, relativeTime } from '../ui/kit.tsx';
import { useToast } from '../ui/toast.tsx';

const EVENTS: { type: EventType; label: string }[] = [
  { type: 'COMMAND_CREATED', label: 'Command created' },
  { type: 'COMMAND_EXECUTED', label: 'Command executed' },
  { type: 'COMMAND_EXPIRED', label: 'Command expired' },
  { type: 'COMMAND_CANCELED', label: 'Command canceled' },
  { type: 'BATCH_FINISHED', label: 'Batch finished' },
  { type: 'TELEMETRY_RECEIVED', label: 'Telemetry received' },
];
const LABEL = new Map(EVENTS.map((e) => [e.type, e.label]));

export function WebhooksPage() {
  const toast = useToast();
  const [result, refetch] = useQuery({ query: WebhooksQuery });
  const [editing, setEditing] = useState<WebhookRow | 'new' | null>(null);
  const [secret, setSecret] = useState<{ label: string; value: string } | null>(null);
  const [open, setOpen] = useState<string | null>(null);
  const [, update] = useMutation(UpdateWebhook);
  const [, remove] = useMutation(DeleteWebhook);
  const [, rotate] = useMutation(RotateWebhookSecret);
  const [testing, setTesting] = useState<string | null>(null);
  const [, test] = useMutation(TestWebhook);
  const reload = () => refetch({ requestPolicy: 'network-only' });

  return (
    <>
      <PageHeader
        title="Webhooks"
        subtitle="Signed HTTP POSTs (Standard Webhooks) to your systems when commands change. Retried for 24 h; in order per device."
        actions={
          <button className="button button-primary" onClick={() => setEditing('new')} disabled={editing === 'new'}>
            New webhook
          </button>
        }
      />
      {secret && (
        <SecretOnce label={secret.label} secret={secret.value} note="verify deliveries with it (any Standard Webhooks library)." onDone={() => setSecret(null)} />
      )}
      {editing && (
        <WebhookForm
          webhook={editing === 'new' ? null : editing}
          onCancel={() => setEditing(null)}
          onSaved={(created) => {
            if (created) setSecret({ label: 'Signing secret of the new webhook', value: created });
            setEditing(null);
            reload();
          }}
        />
      )}
      {result.error && !result.data ? (
        <ErrorBox error={result.error} />
      ) : !result.data ? (
        <Loading />
      ) : result.data.webhooks.length === 0 ? (
        <Empty title="No webhooks yet">Create one to have ticketing, alerting or your backend hear about commands without holding a connection open.</Empty>
      ) : (
        <div className="stack">
          {result.data.webhooks.map((w) => (
            <div className="card webhook-card" key={w.id} aria-label={`Webhook ${w.url}`} role="region">
              <div className="webhook-head">
                <div className="grow">
                  <div className="webhook-url mono">{w.url}</div>
                  {w.description && <div className="muted">{w.description}</div>}
                  <div className="chips webhook-events">
                    {w.events.map((e) => (
                      <span className="chip chip-static" key={e}>
                        {LABEL.get(e)}
                        {e === 'COMMAND_EXECUTED' && w.statusCodes?.length ? ` · ${w.statusCodes.map(range).join(', ')}` : ''}
                      </span>
                    ))}
                    {w.applicationVersion && <span className="chip chip-static">Version {w.applicationVersion.name}</span>}
                  </div>
                </div>
                <div className="webhook-state">
                  {!w.enabled ? (
                    <Badge tone="red">Disabled</Badge>
                  ) : w.failingSince ? (
                    <Badge tone="amber">Failing since {relativeTime(w.failingSince)}</Badge>
                  ) : (
                    <Badge tone="green">Enabled</Badge>
                  )}
                  {w.disabledReason && <div className="small muted">{w.disabledReason}</div>}
                </div>
              </div>
              <div className="form-actions webhook-actions">
                <button
                  className="button button-small"
                  disabled={testing === w.id}
                  onClick={async () => {
                    setTesting(w.id);
                    const res = await test({ id: w.id });
                    setTesting(null);
                    if (res.error) toast('error', errorText(res.error));
                    else if (res.data) {
                      const d = res.data.testWebhook;
                      if (d.status === 'SUCCEEDED') toast('success', `Ping delivered: ${d.responseCode} in ${d.durationMs} ms`);
                      else toast('error', `Ping failed: ${d.error ?? d.responseCode}`);
                    }
                    if (open === w.id) setOpen(null);
                    setTimeout(() => setOpen(w.id));
                  }}
                >
                  {testing === w.id ? 'Sending…' : 'Send test ping'}
                </button>
                <button className="button button-small" onClick={() => setOpen(open === w.id ? null : w.id)} aria-expanded={open === w.id}>
                  {open === w.id ? 'Hide deliveries' : 'Deliveries'}
                </button>
                <button className="button button-small" onClick={() => setEditing(w)}>
                  Edit
                </button>
                <button
                  className="button button-small"
                  onClick={async () => {
                    const res = await update({ id: w.id, input: { enabled: !w.enabled } });
                    if (res.error) toast('error', errorText(res.error));
                    else reload();
                  }}
                >
                  {w.enabled ? 'Disable' : 'Enable'}
                </button>
                <button
                  className="button button-small"
                  onClick={async () => {
                    if (!confirm('Rotate the signing secret? Deliveries are signed with the new one at once; update your receiver.')) return;
                    const res = await rotate({ id: w.id });
                    if (res.error) toast('error', errorText(res.error));
                    else if (res.data) setSecret({ label: 'New signing secret', value: res.data.rotateWebhookSecret.secret });
                  }}
                >
                  Rotate secret
                </button>
                <span className="grow" />
                <button
                  className="button button-small button-danger"
                  onClick={async () => {
                    if (!confirm(`Delete the webhook to ${w.url}? Its queued events and delivery history go with it.`)) return;
                    const res = await remove({ id: w.id });
                    if (res.error) toast('error', errorText(res.error));
                    else reload();
                  }}
                >
                  Delete
                </button>
              </div>
              {open === w.id && <Deliveries webhookId={w.id} />}
            </div>
          ))}
        </div>
      )}
    </>
  );
}

function range(r: { from: number; to: number | null }): string {
  return r.to === null ? `≥ ${r.from}` : r.from === r.to ? String(r.from) : `${r.from}–${r.to}`;
}

function WebhookForm({ webhook, onCancel, onSaved }: { webhook: WebhookRow | null; onCancel: () => void; onSaved: (secret: string | null) => void }) {
  const toast = useToast();
  const [url, setUrl] = useState(webhook?.url ?? '');
  const [description, setDescription] = useState(webhook?.description ?? '');
  const [events, setEvents] = useState<EventType[]>(webhook?.events ?? ['COMMAND_EXECUTED']);
  const [version, setVersion] = useState(webhook?.applicationVersion?.name ?? '');
  const [minCode, setMinCode] = useState(webhook?.statusCodes?.[0]?.from?.toString() ?? '');
  const [error, setError] = useState<string | null>(null);
  const [createState, create] = useMutation(CreateWebhook);
  const [updateState, update] = useMutation(UpdateWebhook);
  const toggle = (e: EventType) => setEvents(events.includes(e) ? events.filter((x) => x !== e) : [...events, e]);
  const statusCodes = events.includes('COMMAND_EXECUTED') && minCode.trim() ? [{ from: Number(minCode) }] : null;

  return (
    <form
      className="card form-card form"
      aria-label={webhook ? 'Edit webhook' : 'Create webhook'}
      onSubmit={async (e) => {
        e.preventDefault();
        setError(null);
        const input = { url: url.trim(), description: description.trim(), events, applicationVersion: version.trim() || null, statusCodes };
        const res = webhook ? await update({ id: webhook.id, input }) : await create({ input });
        if (res.error) setError(errorText(res.error));
        else {
          toast('success', webhook ? 'Webhook saved' : 'Webhook created');
          onSaved(res.data && 'createWebhook' in res.data ? res.data.createWebhook.secret : null);
        }
      }}
    >
      <h2>{webhook ? 'Edit webhook' : 'New webhook'}</h2>
      <label className="field">
        <span>Endpoint URL</span>
        <input className="input" type="url" value={url} onChange={(e) => setUrl(e.target.value)} placeholder="https://example.com/cex-webhook" required />
      </label>
      <label className="field">
        <span>Description</span>
        <input className="input" value={description} onChange={(e) => setDescription(e.target.value)} placeholder="Tickets for failed commands" />
      </label>
      <fieldset className="field fieldset">
        <legend>Events</legend>
        <div className="chips">
          {EVENTS.map((ev) => (
            <button type="button" key={ev.type} className={`chip${events.includes(ev.type) ? ' active' : ''}`} aria-pressed={events.includes(ev.type)} onClick={() => toggle(ev.type)}>
              {ev.label}
            </button>
          ))}
        </div>
      </fieldset>
      <div className="form-inline">
        <label className="field">
          <span>Only status codes ≥ (executed)</span>
          <input className="input" type="number" value={minCode} onChange={(e) => setMinCode(e.target.value)} placeholder="any" disabled={!events.includes('COMMAND_EXECUTED')} />
        </label>
        <label className="field grow">
          <span>Only application version</span>
          <input className="input" value={version} onChange={(e) => setVersion(e.target.value)} placeholder="every version" />
        </label>
      </div>
      {error && <p className="field-error" role="alert">{error}</p>}
      <div className="form-actions">
        <button className="button button-primary" disabled={createState.fetching || updateState.fetching || !url.trim() || events.length === 0}>
          {webhook ? 'Save' : 'Create webhook'}
        </button>
        <button type="button" className="button button-quiet" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

const OUTCOME_TONE = { SUCCEEDED: 'green', RETRYING: 'amber', FAILED: 'red' } as const;

function Deliveries({ webhookId }: { webhookId: string }) {
  const toast = useToast();
  const [result, refetch] = useQuery({ query: WebhookDeliveriesQuery, variables: { first: 20 }, requestPolicy: 'network-only' });
  const [, redeliver] = useMutation(RedeliverWebhookEvent);
  const page = result.data?.webhooks.find((w) => w.id === webhookId)?.deliveries;
  if (result.error && !result.data) return <ErrorBox error={result.error} />;
  if (!page) return <Loading />;
  if (page.edges.length === 0) return <p className="muted webhook-deliveries">No deliveries yet.</p>;
  return (
    <div className="table-scroll webhook-deliveries">
      <table className="table" aria-label="Deliveries">
        <thead>
          <tr>
            <th>Attempted</th>
            <th>Event</th>
            <th>Attempt</th>
            <th>Status</th>
            <th>Response</th>
            <th>Duration</th>
            <th>Next attempt</th>
            <th aria-label="Actions" />
          </tr>
        </thead>
        <tbody>
          {page.edges.map(({ node: d }) => (
            <tr key={d.id}>
              <td title={formatTime(d.attemptedAt)}>{relativeTime(d.attemptedAt)}</td>
              <td>
                <div>{d.eventType}</div>
                <div className="small muted mono">{d.eventId}</div>
              </td>
              <td>#{d.attempt}</td>
              <td>
                <Badge tone={OUTCOME_TONE[d.status]}>{d.status.toLowerCase()}</Badge>
              </td>
              <td>
                {d.responseCode ?? '—'}
                {d.error && d.responseCode === null && <div className="small muted">{d.error}</div>}
              </td>
              <td>{d.durationMs} ms</td>
              <td>{d.nextAttemptAt ? formatTime(d.nextAttemptAt) : '—'}</td>
              <td>
                <button
                  className="button button-small"
                  onClick={async () => {
                    const res = await redeliver({ webhookId, eventId: d.eventId });
                    if (res.error) toast('error', errorText(res.error));
                    else {
                      toast('success', `${d.eventId} queued again`);
                      setTimeout(() => refetch({ requestPolicy: 'network-only' }), 1000);
                    }
                  }}
                >
                  Redeliver
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
