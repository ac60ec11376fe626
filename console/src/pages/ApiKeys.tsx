// API keys (ADMIN): list, create (secret shown once), revoke.
import { useContext, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { ApiKeysQuery, CreateApiKey, RevokeApiKey } from '../queries.ts';
import { SessionContext } from '../session-context.ts';
import { Badge, Empty, ErrorBox, Loading, PageHeader, SecretOnce, errorText, formatTime } from '../ui/kit.tsx';
import { useToast } from '../ui/toast.tsx';

const ROLES = ['VIEWER', 'OPERATOR', 'ADMIN'] as const;

export function ApiKeysPage() {
  const toast = useToast();
  const me = useContext(SessionContext).viewer?.id;
  const [result, refetch] = useQuery({ query: ApiKeysQuery });
  const [name, setName] = useState('');
  const [role, setRole] = useState<(typeof ROLES)[number]>('OPERATOR');
  const [secret, setSecret] = useState<string | null>(null);
  const [createState, create] = useMutation(CreateApiKey);
  const [, revoke] = useMutation(RevokeApiKey);
  const reload = () => refetch({ requestPolicy: 'network-only' });

  return (
    <>
      <PageHeader title="API keys" subtitle="Keys for operators and tools. A key's secret is shown only when it is created." />
      {secret && <SecretOnce label="New API key" secret={secret} onDone={() => setSecret(null)} />}
      <form
        className="card form-card form-inline"
        aria-label="Create API key"
        onSubmit={async (e) => {
          e.preventDefault();
          const res = await create({ name: name.trim(), role });
          if (res.error) toast('error', errorText(res.error));
          else if (res.data) {
            setSecret(res.data.createApiKey.secret);
            setName('');
            reload();
          }
        }}
      >
        <label className="field grow">
          <span>Name</span>
          <input className="input" value={name} onChange={(e) => setName(e.target.value)} placeholder="ci-pipeline" required />
        </label>
        <label className="field">
          <span>Role</span>
          <select className="input" value={role} onChange={(e) => setRole(e.target.value as (typeof ROLES)[number])}>
            {ROLES.map((r) => (
              <option key={r}>{r}</option>
            ))}
          </select>
        </label>
        <button className="button button-primary" disabled={createState.fetching || !name.trim()}>
          Create key
        </button>
      </form>
      {result.error && !result.data ? (
        <ErrorBox error={result.error} />
      ) : !result.data ? (
        <Loading />
      ) : result.data.apiKeys.length === 0 ? (
        <Empty title="No API keys" />
      ) : (
        <div className="card table-card">
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Role</th>
                <th>Created</th>
                <th>Status</th>
                <th aria-label="Actions" />
              </tr>
            </thead>
            <tbody>
              {result.data.apiKeys.map((key) => (
                <tr key={key.id}>
                  <td className="strong">
                    {key.name} {key.id === me && <Badge tone="blue">You</Badge>}
                  </td>
                  <td>
                    <span className={`role role-${key.role.toLowerCase()}`}>{key.role}</span>
                  </td>
                  <td>{formatTime(key.createdAt)}</td>
                  <td>{key.revokedAt ? <Badge tone="red">Revoked {formatTime(key.revokedAt)}</Badge> : <Badge tone="green">Active</Badge>}</td>
                  <td>
                    {!key.revokedAt && key.id !== me && (
                      <button
                        className="button button-small button-danger"
                        onClick={async () => {
                          if (!confirm(`Revoke the key "${key.name}"? Anything using it stops working at once.`)) return;
                          const res = await revoke({ id: key.id });
                          if (res.error) toast('error', errorText(res.error));
                          else reload();
                        }}
                      >
                        Revoke
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
    </>
  );
}
