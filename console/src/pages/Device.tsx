// One device: header, tabs (Commands, Telemetry, Settings).
import { lazy, Suspense } from 'react';
import { useQuery } from 'urql';
import { EndpointQuery, HistoryQuery } from '../queries.ts';
import { Link } from '../router.tsx';
import { useEvery, useOnReconnect } from '../live.ts';
import { Badge, Empty, ErrorBox, Loading, PageHeader, formatTime, relativeTime } from '../ui/kit.tsx';
import { CommandsTab, firstHistoryPage } from '../device/CommandsTab.tsx';
import { SettingsTab } from '../device/SettingsTab.tsx';

const TelemetryTab = lazy(() => import('../device/TelemetryTab.tsx'));

type Tab = 'commands' | 'telemetry' | 'settings';
const TABS: { id: Tab; label: string }[] = [
  { id: 'commands', label: 'Commands' },
  { id: 'telemetry', label: 'Telemetry' },
  { id: 'settings', label: 'Settings' },
];

export function DevicePage({ id, tab }: { id: string; tab: Tab }) {
  const [result, refetch] = useQuery({ query: EndpointQuery, variables: { id } });
  // Asked for alongside the endpoint, not after it arrives: the history widget then renders from
  // the cache instead of waiting for a second round trip.
  useQuery({ query: HistoryQuery, variables: firstHistoryPage(id), pause: tab !== 'commands' });
  useOnReconnect(() => refetch({ requestPolicy: 'network-only' }));
  useEvery(15_000, () => refetch({ requestPolicy: 'network-only' }));
  if (result.error && !result.data) return <ErrorBox error={result.error} />;
  if (!result.data) return <Loading />;
  const endpoint = result.data.endpoint;
  if (!endpoint)
    return (
      <Empty title="No such device">
        <Link to="/devices">Back to devices</Link>
      </Empty>
    );
  const version = endpoint.applicationVersion;
  return (
    <>
      <div className="breadcrumbs">
        <Link to="/devices">Devices</Link> <span aria-hidden>/</span> {endpoint.name ?? endpoint.id}
      </div>
      <PageHeader
        title={endpoint.name ?? <span className="muted">Unnamed device</span>}
        subtitle={
          <>
            <Link to={`/applications/${encodeURIComponent(version.name)}`}>
              {version.application.name} / <code>{version.name}</code>
            </Link>{' '}
            · id <code>{endpoint.id}</code> · last seen <span title={formatTime(endpoint.lastSeenAt)}>{relativeTime(endpoint.lastSeenAt)}</span>
          </>
        }
        actions={
          <>
            {endpoint.revokedAt && <Badge tone="red">Revoked</Badge>}
            {endpoint.connected ? <Badge tone="green">MQTT connected</Badge> : <Badge tone="grey">Not connected</Badge>}
          </>
        }
      />
      <nav className="tabs" role="tablist" aria-label="Device sections">
        {TABS.map((t) => (
          <Link
            key={t.id}
            to={`/devices/${endpoint.id}/${t.id}`}
            role="tab"
            aria-selected={t.id === tab}
            className={`tab${t.id === tab ? ' active' : ''}`}
          >
            {t.label}
          </Link>
        ))}
      </nav>
      <Suspense fallback={<Loading />}>
        {tab === 'commands' && <CommandsTab endpoint={endpoint} />}
        {tab === 'telemetry' && <TelemetryTab endpointId={endpoint.id} />}
        {tab === 'settings' && <SettingsTab endpoint={endpoint} />}
      </Suspense>
    </>
  );
}
