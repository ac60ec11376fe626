// Every endpoint: search by name, filter by application and version, keyset pages.
import { useContext, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { CreateEndpoint, EndpointsQuery } from '../queries.ts';
import { ApplicationSelect, useApplications } from '../ui/filters.tsx';
import { Pager, useCursors } from '../ui/paging.tsx';
import { Link, navigate, useDebounced, useQueryParam } from '../router.tsx';
import { useEvery, useOnReconnect } from '../live.ts';
import { can, SessionContext } from '../session-context.ts';
import { Badge, Empty, ErrorBox, Loading, PageHeader, SecretOnce, errorText, formatTime, relativeTime } from '../ui/kit.tsx';
import { useToast } from '../ui/toast.tsx';

const PAGE = 25;

export function DevicesPage() {
  const session = useContext(SessionContext);
  const [application, setApplication] = useQueryParam('app');
  const [version, setVersion] = useQueryParam('version');
  const [search, setSearch] = useState('');
  const debounced = useDebounced(search.trim());
  const cursors = useCursors(`${application}/${version}/${debounced}`);
  const [creating, setCreating] = useState(false);
  const apps = useApplications();
  const [result, refetch] = useQuery({
    query: EndpointsQuery,
    variables: {
      application: application || null,
      applicationVersion: version || null,
      search: debounced || null,
      first: PAGE,
      after: cursors.after,
    },
  });
  useOnReconnect(() => refetch({ requestPolicy: 'network-only' }));
  useEvery(15_000, () => refetch({ requestPolicy: 'network-only' }));

  const versions = apps?.find((a) => a.name === application)?.versions ?? [];
  const page = result.data?.endpoints;

  return (
    <>
      <PageHeader
        title="Devices"
        subtitle="Every endpoint registered with the service."
        actions={
          can(session, 'OPERATOR') && (
            <button className="button button-primary" onClick={() => setCreating(true)}>
              New device
            </button>
          )
        }
      />
      {creating && (
        <NewDevice apps={apps ?? []} onClose={() => setCreating(false)} onCreated={() => refetch({ requestPolicy: 'network-only' })} />
      )}
      <div className="toolbar">
        <input
          type="search"
          className="input"
          placeholder="Search by name…"
          aria-label="Search devices"
          value={search}
          onChange={(e) => setSearch(e.target.value)}
        />
        <ApplicationSelect
          apps={apps}
          value={application}
          onChange={(value) => {
            setApplication(value);
            setVersion('');
          }}
        />
        <select className="input" aria-label="Version" value={version} onChange={(e) => setVersion(e.target.value)} disabled={!application}>
          <option value="">All versions</option>
          {versions.map((v) => (
            <option key={v.id} value={v.name}>
              {v.name}
            </option>
          ))}
        </select>
      </div>
      {result.error && !page ? (
        <ErrorBox error={result.error} />
      ) : !page ? (
        <Loading />
      ) : page.edges.length === 0 ? (
        <div className="card">
          {debounced || application ? (
            <Empty title="No devices">Nothing matches these filters.</Empty>
          ) : (
            <FirstDevice hasVersion={hasVersion(apps)} canCreate={can(session, 'OPERATOR')} onCreate={() => setCreating(true)} />
          )}
        </div>
      ) : (
        <div className="card table-card">
          <table className="table">
            <thead>
              <tr>
                <th>Name</th>
                <th>Application</th>
                <th>Version</th>
                <th>Last seen</th>
                <th>MQTT</th>
                <th>Created</th>
              </tr>
            </thead>
            <tbody>
              {page.edges.map(({ node }) => (
                <tr key={node.id} className="row-link" onClick={() => navigate(`/devices/${node.id}`)}>
                  <td>
                    <Link to={`/devices/${node.id}`} className="strong" onClick={(e) => e.stopPropagation()}>
                      {node.name ?? <span className="muted">Unnamed · {node.id.slice(0, 8)}</span>}
                    </Link>
                    {node.revokedAt && <Badge tone="red">Revoked</Badge>}
                  </td>
                  <td>{node.applicationVersion.application.name}</td>
                  <td>
                    <code>{node.applicationVersion.name}</code>
                  </td>
                  <td title={formatTime(node.lastSeenAt)}>{relativeTime(node.lastSeenAt)}</td>
                  <td>{node.connected ? <Badge tone="green">Connected</Badge> : <Badge tone="grey">Offline</Badge>}</td>
                  <td>{formatTime(node.createdAt)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <Pager cursors={cursors} pageInfo={page.pageInfo} />
        </div>
      )}
    </>
  );
}

type Apps = { name: string; versions: { name: string }[] }[];

const hasVersion = (apps: Apps | undefined) => Boolean(apps?.some((a) => a.versions.length > 0));

/** The empty fleet: what a first-time user does next. */
function FirstDevice({ hasVersion, canCreate, onCreate }: { hasVersion: boolean; canCreate: boolean; onCreate: () => void }) {
  return (
    <Empty title="No devices yet">
      A device belongs to a version of an application.{' '}
      {hasVersion ? (
        canCreate ? (
          <>
            <button type="button" className="link-button" onClick={onCreate}>
              Create a device
            </button>{' '}
            and give its token to the device.
          </>
        ) : (
          'An operator can create one here.'
        )
      ) : (
        <>
          First create an application and a version under <Link to="/applications">Applications</Link>, then a device
          here with <strong>New device</strong>.
        </>
      )}
    </Empty>
  );
}

function NewDevice({ apps, onClose, onCreated }: { apps: Apps; onClose: () => void; onCreated: () => void }) {
  const toast = useToast();
  const [chosen, setVersion] = useState('');
  const version = chosen || (apps.find((a) => a.versions.length > 0)?.versions[0]?.name ?? '');
  const [name, setName] = useState('');
  const [token, setToken] = useState('');
  const [created, setCreated] = useState<{ id: string; name: string | null; token: string } | null>(null);
  const [state, create] = useMutation(CreateEndpoint);
  if (created)
    return (
      <div className="card form-card" role="region" aria-label="Device created">
        <SecretOnce label="Device token" secret={created.token} onDone={() => navigate(`/devices/${created.id}`)} />
        <Link to={`/devices/${created.id}`} className="button button-primary">
          Open {created.name ?? 'the device'} →
        </Link>
      </div>
    );
  if (!hasVersion(apps))
    return (
      <div className="card form-card" role="region" aria-label="New device">
        <p className="strong">Create an application and a version first.</p>
        <p className="muted">
          Every device belongs to an application version (its command schemas come from there). Add them under{' '}
          <Link to="/applications">Applications</Link>, then come back here.
        </p>
        <div className="form-actions">
          <Link to="/applications" className="button button-primary">
            Go to Applications
          </Link>
          <button type="button" className="button button-quiet" onClick={onClose}>
            Cancel
          </button>
        </div>
      </div>
    );
  return (
    <form
      className="card form-card form"
      aria-label="New device"
      onSubmit={async (e) => {
        e.preventDefault();
        const res = await create({ applicationVersion: version, name: name.trim() || null, token: token.trim() || null });
        if (res.error) toast('error', errorText(res.error));
        else if (res.data) {
          const { endpoint, token: secret } = res.data.createEndpoint;
          setCreated({ id: endpoint.id, name: name.trim() || null, token: secret });
          onCreated();
        }
      }}
    >
      <h2>New device</h2>
      <label className="field">
        <span>Application version</span>
        <select className="input" value={version} onChange={(e) => setVersion(e.target.value)} required>
          {apps.flatMap((a) =>
            a.versions.map((v) => (
              <option key={v.name} value={v.name}>
                {a.name} / {v.name}
              </option>
            )),
          )}
        </select>
      </label>
      <label className="field">
        <span>Name</span>
        <input className="input" value={name} onChange={(e) => setName(e.target.value)} placeholder="hall lamp" />
      </label>
      <label className="field">
        <span>Token</span>
        <input className="input mono" value={token} onChange={(e) => setToken(e.target.value)} placeholder="generated when empty" aria-describedby="token-hint" />
        <span id="token-hint" className="hint">
          What the device presents in kp1 paths and topics: 1–128 characters, no spaces, "/", ".", "+" or "#". Leave
          empty to generate one.
        </span>
      </label>
      <div className="form-actions">
        <button className="button button-primary" disabled={state.fetching || !version}>
          Create device
        </button>
        <button type="button" className="button button-quiet" onClick={onClose}>
          Cancel
        </button>
      </div>
    </form>
  );
}
