// Applications and their versions; per version, the command schemas (see SchemaEditor).
import { useContext, useState } from 'react';
import { useMutation, useQuery } from 'urql';
import { ApplicationsQuery, CreateApplication, CreateVersion } from '../queries.ts';
import { Link } from '../router.tsx';
import { can, SessionContext } from '../session-context.ts';
import { Empty, ErrorBox, Loading, PageHeader, errorText } from '../ui/kit.tsx';
import { useToast } from '../ui/toast.tsx';
import { VersionSchemas } from './SchemaEditor.tsx';

export default function ApplicationsPage({ version }: { version: string | null }) {
  const session = useContext(SessionContext);
  const toast = useToast();
  const [result, refetch] = useQuery({ query: ApplicationsQuery });
  const [, createApp] = useMutation(CreateApplication);
  const [, createVersion] = useMutation(CreateVersion);
  const [newApp, setNewApp] = useState('');
  const operator = can(session, 'OPERATOR');
  const reload = () => refetch({ requestPolicy: 'network-only' });

  if (result.error && !result.data) return <ErrorBox error={result.error} />;
  if (!result.data) return <Loading />;
  const apps = result.data.applications;

  return (
    <>
      <PageHeader title="Applications" subtitle="Kinds of devices, their versions, and the command schemas of each version." />
      <div className="split">
        <aside className="card list-card" aria-label="Applications list">
          {apps.length === 0 && <Empty title="No applications yet">{operator && 'Name one below, then add a version to it.'}</Empty>}
          {apps.map((app) => (
            <div key={app.id} className="app-group">
              <div className="app-name">
                <span className="strong">{app.name}</span>
                <span className="small muted">since {new Date(app.createdAt).toLocaleDateString()}</span>
              </div>
              <ul className="version-list">
                {app.versions.map((v) => (
                  <li key={v.id}>
                    <Link to={`/applications/${encodeURIComponent(v.name)}`} className={`version-link${v.name === version ? ' active' : ''}`}>
                      <code>{v.name}</code>
                      <span className="small muted">
                        {v.commandSchemas.length} schema{v.commandSchemas.length === 1 ? '' : 's'}
                      </span>
                    </Link>
                  </li>
                ))}
              </ul>
              {operator && <NewVersion application={app.name} onCreate={async (name) => {
                const res = await createVersion({ applicationName: app.name, name });
                if (res.error) toast('error', errorText(res.error));
                else reload();
                return !res.error;
              }} />}
            </div>
          ))}
          {operator && (
            <form
              className="inline-create"
              onSubmit={async (e) => {
                e.preventDefault();
                const res = await createApp({ name: newApp.trim() });
                if (res.error) toast('error', errorText(res.error));
                else {
                  setNewApp('');
                  reload();
                }
              }}
            >
              <input className="input input-small" aria-label="New application name" placeholder="new-application" value={newApp} onChange={(e) => setNewApp(e.target.value)} required />
              <button className="button button-small">Add application</button>
            </form>
          )}
        </aside>
        <div className="grow">
          {version ? (
            <VersionSchemas version={version} onChanged={reload} />
          ) : (
            <div className="card">
              {apps.length === 0 ? (
                <Empty title="Start with an application">
                  An application is a kind of device; its versions hold the command schemas. Devices of a version are
                  created under <Link to="/devices">Devices</Link>.
                </Empty>
              ) : (
                <Empty title="Pick a version">
                  Its command schemas, their history and a preview of the generated forms appear here. Devices of a
                  version are created under <Link to="/devices">Devices</Link>.
                </Empty>
              )}
            </div>
          )}
        </div>
      </div>
    </>
  );
}

function NewVersion({ application, onCreate }: { application: string; onCreate: (name: string) => Promise<boolean> }) {
  const [name, setName] = useState('');
  return (
    <form
      className="inline-create"
      onSubmit={async (e) => {
        e.preventDefault();
        if (await onCreate(name.trim())) setName('');
      }}
    >
      <input className="input input-small" aria-label={`New version of ${application}`} placeholder={`${application}-v2`} value={name} onChange={(e) => setName(e.target.value)} required />
      <button className="button button-small">Add version</button>
    </form>
  );
}
