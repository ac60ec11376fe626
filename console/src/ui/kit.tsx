// Small presentational pieces shared by every page.
import { useState, type ReactNode } from 'react';

const STATUS_LABEL = { PENDING: 'Pending', EXECUTED: 'Executed', EXPIRED: 'Expired', CANCELED: 'Canceled' } as const;

export function StatusBadge({ status }: { status: keyof typeof STATUS_LABEL }) {
  return <span className={`badge badge-${status.toLowerCase()}`}>{STATUS_LABEL[status]}</span>;
}

export function statusLabel(status: keyof typeof STATUS_LABEL): string {
  return STATUS_LABEL[status];
}

export function Badge({ tone, children }: { tone: 'green' | 'grey' | 'red' | 'blue' | 'amber'; children: ReactNode }) {
  return <span className={`badge badge-${tone}`}>{children}</span>;
}

export function Empty({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <div className="empty-icon" aria-hidden>
        ◌
      </div>
      <p className="empty-title">{title}</p>
      {children && <p className="empty-text">{children}</p>}
    </div>
  );
}

export function Loading({ label = 'Loading…' }: { label?: string }) {
  return (
    <div className="loading" role="status">
      <span className="spinner" aria-hidden />
      {label}
    </div>
  );
}

export function ErrorBox({ error }: { error: { message: string } }) {
  return (
    <div className="error-box" role="alert">
      {error.message.replace(/^\[(GraphQL|Network)\] /, '')}
    </div>
  );
}

export function PageHeader({ title, subtitle, actions }: { title: ReactNode; subtitle?: ReactNode; actions?: ReactNode }) {
  return (
    <div className="page-header">
      <div>
        <h1>{title}</h1>
        {subtitle && <p className="subtitle">{subtitle}</p>}
      </div>
      {actions && <div className="page-actions">{actions}</div>}
    </div>
  );
}

/** A JSON value, collapsed to one line until expanded. */
export function JsonValue({ value, label }: { value: unknown; label: string }) {
  const [open, setOpen] = useState(false);
  if (value === null || value === undefined) return <span className="muted">—</span>;
  const compact = JSON.stringify(value);
  return (
    <div className="json">
      <button className="json-toggle" aria-expanded={open} aria-label={`${open ? 'Collapse' : 'Expand'} ${label}`} onClick={() => setOpen(!open)}>
        {open ? '▾' : '▸'}
      </button>
      {open ? <pre>{JSON.stringify(value, null, 2)}</pre> : <code className="json-compact">{compact}</code>}
    </div>
  );
}

const dateFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' });

export function formatTime(iso: string | null | undefined): string {
  return iso ? dateFormat.format(new Date(iso)) : '—';
}

const timeOnly = new Intl.DateTimeFormat(undefined, { timeStyle: 'medium' });
const dayAndTime = new Intl.DateTimeFormat(undefined, { month: 'short', day: 'numeric', hour: 'numeric', minute: '2-digit' });

/** Time of day for today's instants, else day and time: for dense tables. */
export function shortTime(iso: string | null | undefined): string {
  if (!iso) return '—';
  const date = new Date(iso);
  return date.toDateString() === new Date().toDateString() ? timeOnly.format(date) : dayAndTime.format(date);
}

export function relativeTime(iso: string | null | undefined, now = Date.now()): string {
  if (!iso) return 'never';
  const seconds = Math.round((now - new Date(iso).getTime()) / 1000);
  const future = seconds < 0;
  const s = Math.abs(seconds);
  const text = s < 60 ? `${s}s` : s < 3600 ? `${Math.round(s / 60)} min` : s < 86400 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} d`;
  return future ? `in ${text}` : `${text} ago`;
}

/** A secret shown exactly once, with a copy button. */
export function SecretOnce({ label, secret, onDone, note = 'the server keeps only a hash.' }: { label: string; secret: string; onDone: () => void; note?: string }) {
  const [copied, setCopied] = useState(false);
  return (
    <div className="secret" role="region" aria-label={label}>
      <p>
        <strong>{label}</strong> — shown only this once; {note}
      </p>
      <div className="secret-row">
        <code data-testid="secret">{secret}</code>
        <button
          className="button"
          onClick={() => void navigator.clipboard?.writeText(secret).then(() => setCopied(true), () => {})}
        >
          {copied ? 'Copied' : 'Copy'}
        </button>
        <button className="button button-quiet" onClick={onDone}>
          Done
        </button>
      </div>
    </div>
  );
}

/** The first GraphQL error message without urql's prefix. */
export function errorText(error: { message: string } | undefined | null): string {
  return (error?.message ?? 'Unexpected error').replace(/^\[(GraphQL|Network)\] /, '');
}
