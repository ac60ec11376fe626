// The device's Settings tab: rename, rotate the token (shown once), MQTT credentials, revoke.
import { useContext, useState } from 'react';
import { useMutation } from 'urql';
import { ClearCredentials, RenameEndpoint, RevokeEndpoint, RotateToken, SetCredentials, type EndpointQuery, type ResultOf } from '../queries.ts';
import { can, SessionContext } from '../session-context.ts';
import { SecretOnce, errorText, formatTime } from '../ui/kit.tsx';
import { useToast } from '../ui/toast.tsx';
import { MetadataCard } from './MetadataCard.tsx';

type Endpoint = NonNullable<ResultOf<typeof EndpointQuery>['endpoint']>;

export function SettingsTab({ endpoint }: { endpoint: Endpoint }) {
  const session = useContext(SessionContext);
  const toast = useToast();
  const editable = can(session, 'OPERATOR') && !endpoint.revokedAt;
  const [name, setName] = useState(endpoint.name ?? '');
  const [username, setUsername] = useState(endpoint.mqttUsername ?? '');
  const [password, setPassword] = useState('');
  const [token, setToken] = useState<string | null>(null);
  const [, rename] = useMutation(RenameEndpoint);
  const [, rotate] = useMutation(RotateToken);
  const [, setCredentials] = useMutation(SetCredentials);
  const [, clearCredentials] = useMutation(ClearCredentials);
  const [, revoke] = useMutation(RevokeEndpoint);

  const report = (res: { error?: { message: string } }, ok: string) =>
    res.error ? toast('error', errorText(res.error)) : toast('success', ok);

  return (
    <div className="stack">
      <MetadataCard endpointId={endpoint.id} metadata={endpoint.metadata} />
      <section className="card widget" aria-label="Name">
        <h2>Name</h2>
        <form
          className="form form-inline"
          onSubmit={async (e) => {
            e.preventDefault();
            report(await rename({ endpointId: endpoint.id, name: name.trim() || null }), 'Renamed.');
          }}
        >
          <label className="field grow">
            <span>Display name</span>
            <input className="input" value={name} onChange={(e) => setName(e.target.value)} disabled={!editable} />
          </label>
          {editable && <button className="button button-primary">Save</button>}
        </form>
      </section>

      <section className="card widget" aria-label="Token">
        <h2>Device token</h2>
        <p className="muted">
          Devices present the token in kp1 topics and paths. Rotating it stops the old one at once and disconnects the
          device's sessions.
        </p>
        {token ? (
          <SecretOnce label="New device token" secret={token} onDone={() => setToken(null)} />
        ) : (
          editable && (
            <button
              className="button"
              onClick={async () => {
                if (!confirm('Rotate the token? The device stops working until it uses the new one.')) return;
                const res = await rotate({ endpointId: endpoint.id });
                if (res.error) toast('error', errorText(res.error));
                else if (res.data) setToken(res.data.rotateEndpointToken.token);
              }}
            >
              Rotate token
            </button>
          )
        )}
      </section>

      <section className="card widget" aria-label="MQTT credentials">
        <h2>MQTT credentials</h2>
        <p className="muted">
          {endpoint.mqttUsername ? (
            <>
              Required: the device must connect as <code>{endpoint.mqttUsername}</code>.
            </>
          ) : (
            'Not required: the token alone identifies the device.'
          )}
        </p>
        {editable && (
          <form
            className="form form-inline"
            onSubmit={async (e) => {
              e.preventDefault();
              report(await setCredentials({ endpointId: endpoint.id, username, password }), 'Credentials set.');
              setPassword('');
            }}
          >
            <label className="field grow">
              <span>Username</span>
              <input className="input" value={username} onChange={(e) => setUsername(e.target.value)} required />
            </label>
            <label className="field grow">
              <span>Password</span>
              <input className="input" type="password" minLength={8} value={password} onChange={(e) => setPassword(e.target.value)} required />
            </label>
            <button className="button button-primary">Set credentials</button>
            {endpoint.mqttUsername && (
              <button
                type="button"
                className="button"
                onClick={async () => report(await clearCredentials({ endpointId: endpoint.id }), 'Credentials cleared.')}
              >
                Clear
              </button>
            )}
          </form>
        )}
      </section>

      <section className="card widget danger-zone" aria-label="Revoke">
        <h2>Revoke</h2>
        {endpoint.revokedAt ? (
          <p>Revoked {formatTime(endpoint.revokedAt)}. The device's token no longer works.</p>
        ) : (
          <>
            <p className="muted">Revoking refuses every device request and new commands for this endpoint. It cannot be undone.</p>
            {editable && (
              <button
                className="button button-danger"
                onClick={async () => {
                  if (!confirm('Revoke this device? This cannot be undone.')) return;
                  report(await revoke({ endpointId: endpoint.id }), 'Device revoked.');
                }}
              >
                Revoke device
              </button>
            )}
          </>
        )}
      </section>
    </div>
  );
}
