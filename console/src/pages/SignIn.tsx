import { useState, type FormEvent } from 'react';
import { storeKey, takeNotice } from '../session.ts';

export function SignIn({ onSignedIn }: { onSignedIn: (key: string) => void }) {
  const [notice] = useState(takeNotice);
  const [key, setKey] = useState('');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const res = await fetch('/graphql', {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${key.trim()}` },
        body: JSON.stringify({ query: 'query SignIn { viewer { id role } }' }),
      });
      const body = (await res.json()) as { data?: unknown; errors?: { message: string }[] };
      if (body.data && !body.errors?.length) {
        storeKey(key.trim());
        onSignedIn(key.trim());
      } else setError('This API key was not accepted. Check it and try again.');
    } catch {
      setError('The server cannot be reached.');
    } finally {
      setBusy(false);
    }
  }

  return (
    <div className="center-page signin-page">
      <form className="signin card" onSubmit={submit} aria-label="Sign in">
        <div className="brand brand-large">
          <span className="brand-mark">cex</span>
          <span className="brand-name">Command execution console</span>
        </div>
        {notice && (
          <div className="notice" role="alert">
            {notice}
          </div>
        )}
        <label className="field">
          <span>API key</span>
          <input
            type="password"
            className="input"
            autoComplete="off"
            autoFocus
            value={key}
            onChange={(e) => setKey(e.target.value)}
            placeholder="cex_…"
            required
          />
        </label>
        {error && (
          <p className="field-error" role="alert">
            {error}
          </p>
        )}
        <button className="button button-primary button-wide" disabled={busy || !key.trim()}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        <p className="hint">
          The server prints an ADMIN key on its first start. The key stays in this tab only (session storage).
        </p>
      </form>
    </div>
  );
}
