// The device's metadata (Kaa 10/EPMP key-value pairs the device publishes over kp1 `epmx`): a
// table for everyone, and for operators a JSON editor that replaces the whole object.
import { useContext, useState } from 'react';
import { useMutation } from 'urql';
import { UpdateEndpointMetadata } from '../queries.ts';
import { can, SessionContext } from '../session-context.ts';
import { errorText } from '../ui/kit.tsx';
import { useToast } from '../ui/toast.tsx';

export function MetadataCard({ endpointId, metadata }: { endpointId: string; metadata: unknown }) {
  const session = useContext(SessionContext);
  const toast = useToast();
  const [, update] = useMutation(UpdateEndpointMetadata);
  const [draft, setDraft] = useState<string | null>(null);
  const entries = Object.entries((metadata ?? {}) as Record<string, unknown>);

  const save = async () => {
    let value: unknown;
    try {
      value = JSON.parse(draft ?? '');
    } catch {
      return toast('error', 'The metadata must be a JSON object, e.g. {"model": "X1"}.');
    }
    const res = await update({ endpointId, set: value, replace: true });
    if (res.error) return toast('error', errorText(res.error));
    toast('success', 'Metadata saved.');
    setDraft(null);
  };

  return (
    <section className="card widget" aria-label="Metadata">
      <h2>Metadata</h2>
      <p className="muted">Key-value pairs the device publishes (kp1 epmx) and operators edit; devices can be filtered by them.</p>
      {draft === null ? (
        entries.length === 0 ? (
          <p className="muted">No metadata yet.</p>
        ) : (
          <table className="table" aria-label="Metadata entries">
            <tbody>
              {entries.map(([key, value]) => (
                <tr key={key}>
                  <td>
                    <code>{key}</code>
                  </td>
                  <td>
                    <code>{typeof value === 'string' ? value : JSON.stringify(value)}</code>
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )
      ) : (
        <label className="field">
          <span>Metadata (JSON object; replaces all of it)</span>
          <textarea className="input mono" rows={8} value={draft} onChange={(e) => setDraft(e.target.value)} />
        </label>
      )}
      {can(session, 'OPERATOR') && (
        <div className="form-inline">
          {draft === null ? (
            <button className="button" onClick={() => setDraft(JSON.stringify(metadata ?? {}, null, 2))}>
              Edit metadata
            </button>
          ) : (
            <>
              <button className="button button-primary" onClick={save}>
                Save metadata
              </button>
              <button className="button" onClick={() => setDraft(null)}>
                Cancel
              </button>
            </>
          )}
        </div>
      )}
    </section>
  );
}
