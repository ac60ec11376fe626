// The signed-in shell (sidebar, header with role, live indicator) or the sign-in page.
import { lazy, Suspense, useCallback, useEffect, useMemo, useState } from 'react';
import { Provider } from 'urql';
import { connect, EXPIRED_NOTICE, type Connection, type LiveState } from './client.ts';
import { ViewerQuery } from './queries.ts';
import { Link, navigate, useLocation } from './router.tsx';
import { clearKey, storedKey } from './session.ts';
import { SessionContext, type Session } from './session-context.ts';
import { SignIn } from './pages/SignIn.tsx';
import { DevicesPage } from './pages/Devices.tsx';
import { DevicePage } from './pages/Device.tsx';
import { CommandsPage } from './pages/Commands.tsx';
import { ApiKeysPage } from './pages/ApiKeys.tsx';
import { BatchesPage } from './pages/Batches.tsx';
import { BatchPage } from './pages/Batch.tsx';
import { AuditPage } from './pages/Audit.tsx';
import { WebhooksPage } from './pages/Webhooks.tsx';
import { Loading } from './ui/kit.tsx';
import { ToastProvider } from './ui/toast.tsx';

const ApplicationsPage = lazy(() => import('./pages/Applications.tsx'));

export function App() {
  const [key, setKey] = useState(storedKey);
  const [viewer, setViewer] = useState<Session['viewer']>(null);
  const signOut = useCallback((notice?: string) => {
    clearKey(notice);
    setViewer(null);
    setKey(null);
  }, []);
  const connection = useMemo(() => (key ? connect(key, (notice) => signOut(notice)) : null), [key, signOut]);
  useEffect(() => () => connection?.dispose(), [connection]);
  useEffect(() => {
    if (!connection) return;
    void connection.client
      .query(ViewerQuery, {}, { requestPolicy: 'network-only' })
      .toPromise()
      .then((result) => {
        if (result.data) setViewer(result.data.viewer);
        else if (result.error) signOut(EXPIRED_NOTICE);
      });
  }, [connection, signOut]);
  const session = useMemo<Session>(() => ({ connection, viewer, signOut }), [connection, viewer, signOut]);

  return (
    <ToastProvider>
      {!key || !connection ? (
        <SignIn onSignedIn={(k) => setKey(k)} />
      ) : !viewer ? (
        <div className="center-page">
          <Loading label="Signing in…" />
        </div>
      ) : (
        <SessionContext.Provider value={session}>
          <Provider value={connection.client}>
            <Shell connection={connection} session={session} />
          </Provider>
        </SessionContext.Provider>
      )}
    </ToastProvider>
  );
}

const NAV = [
  { to: '/devices', label: 'Devices', icon: '▣' },
  { to: '/commands', label: 'Commands', icon: '⇄' },
  { to: '/batches', label: 'Batches', icon: '≡' },
  { to: '/applications', label: 'Applications', icon: '◇' },
  { to: '/api-keys', label: 'API keys', icon: '✦', admin: true },
  { to: '/audit', label: 'Audit trail', icon: '☰', admin: true },
  { to: '/webhooks', label: 'Webhooks', icon: '↗', admin: true },
];

function Shell({ connection, session }: { connection: Connection; session: Session }) {
  const { path } = useLocation();
  const live = useLiveState(connection);
  useEffect(() => {
    if (path === '/') navigate('/devices', true);
  }, [path]);
  const viewer = session.viewer!;
  return (
    <div className="shell">
      <aside className="sidebar">
        <div className="brand">
          <span className="brand-mark">cex</span>
          <span className="brand-name">Command execution</span>
        </div>
        <nav aria-label="Main">
          {NAV.filter((item) => !item.admin || viewer.role === 'ADMIN').map((item) => (
            <Link key={item.to} to={item.to} className={`nav-link${path.startsWith(item.to) ? ' active' : ''}`}>
              <span className="nav-icon" aria-hidden>
                {item.icon}
              </span>
              {item.label}
            </Link>
          ))}
        </nav>
        <div className="sidebar-foot">
          <a href="/graphql" className="nav-link small" target="_blank" rel="noreferrer">
            GraphiQL ↗
          </a>
        </div>
      </aside>
      <div className="main">
        <header className="topbar">
          <LiveIndicator state={live} />
          <div className="who">
            <span className="who-name">{viewer.name}</span>
            <span className={`role role-${viewer.role.toLowerCase()}`} data-testid="role">
              {viewer.role}
            </span>
            <button className="button button-quiet" onClick={() => session.signOut()}>
              Sign out
            </button>
          </div>
        </header>
        <main className="content">
          <Suspense fallback={<Loading />}>
            <Route path={path} admin={viewer.role === 'ADMIN'} />
          </Suspense>
        </main>
      </div>
    </div>
  );
}

function Route({ path, admin }: { path: string; admin: boolean }) {
  const device = /^\/devices\/([^/]+)(?:\/(commands|telemetry|settings))?$/.exec(path);
  if (device) return <DevicePage id={decodeURIComponent(device[1]!)} tab={(device[2] as 'commands') ?? 'commands'} />;
  if (path.startsWith('/devices')) return <DevicesPage />;
  if (path.startsWith('/commands')) return <CommandsPage />;
  const batch = /^\/batches\/([^/]+)$/.exec(path);
  if (batch) return <BatchPage id={decodeURIComponent(batch[1]!)} />;
  if (path.startsWith('/batches')) return <BatchesPage />;
  const app = /^\/applications(?:\/([^/]+))?$/.exec(path);
  if (app) return <ApplicationsPage version={app[1] ? decodeURIComponent(app[1]) : null} />;
  if (path.startsWith('/api-keys') && admin) return <ApiKeysPage />;
  if (path.startsWith('/audit') && admin) return <AuditPage />;
  if (path.startsWith('/webhooks') && admin) return <WebhooksPage />;
  return <DevicesPage />;
}

function useLiveState(connection: Connection): LiveState {
  const [state, setState] = useState(connection.live.state);
  useEffect(() => {
    setState(connection.live.state);
    return connection.live.listen((s) => setState(s));
  }, [connection]);
  return state;
}

function LiveIndicator({ state }: { state: LiveState }) {
  const text = state === 'connected' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Live updates disconnected — reconnecting';
  return (
    <div className={`live live-${state}`} role="status" aria-label="Live connection" data-state={state}>
      <span className="live-dot" aria-hidden />
      {text}
    </div>
  );
}
