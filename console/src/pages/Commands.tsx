// Fleet-wide command history across endpoints: filter by application, type and status; live.
import { useEffect, useState } from 'react';
import { useQuery } from 'urql';
import { ApplicationsQuery, FleetCommandsQuery } from '../queries.ts';
import { useDebounced, useQueryParam } from '../router.tsx';
import { useOnReconnect } from '../live.ts';
import { Empty, ErrorBox, Loading, PageHeader } from '../ui/kit.tsx';
import { CommandTable } from '../device/CommandTable.tsx';
import { useLiveCommands } from '../device/commands-live.ts';
import { Pager } from './Devices.tsx';

const PAGE = 50;
const STATUSES = ['PENDING', 'EXECUTED', 'EXPIRED'] as const;

export function CommandsPage() {
  const [application, setApplication] = useQueryParam('app');
  const [status, setStatus] = useQueryParam('status');
  const [typeInput, setTypeInput] = useState('');
  const type = useDebounced(typeInput.trim());
  const [cursors, setCursors] = useState<(string | null)[]>([null]);
  useEffect(() => setCursors([null]), [application, status, type]);
  const [apps] = useQuery({ query: ApplicationsQuery });
  const types = type ? [type] : [];
  const statuses = status ? [status as (typeof STATUSES)[number]] : [];
  const [result, refetch] = useQuery({
    query: FleetCommandsQuery,
    variables: {
      filter: { application: application || null, commandTypes: types.length ? types : null, statuses: statuses.length ? statuses : null },
      first: PAGE,
      after: cursors[cursors.length - 1] ?? null,
    },
  });
  useOnReconnect(() => refetch({ requestPolicy: 'network-only' }));
  const page = result.data?.commands;
  const rows = useLiveCommands(
    page?.edges.map((e) => e.node),
    { types, statuses, application: application || undefined },
    cursors.length === 1,
  );

  return (
    <>
      <PageHeader title="Commands" subtitle="Every command across the fleet, newest first. Updates live." />
      <div className="toolbar">
        <select className="input" aria-label="Application" value={application} onChange={(e) => setApplication(e.target.value)}>
          <option value="">All applications</option>
          {apps.data?.applications.map((a) => (
            <option key={a.id} value={a.name}>
              {a.name}
            </option>
          ))}
        </select>
        <input className="input" placeholder="Command type" aria-label="Filter by type" value={typeInput} onChange={(e) => setTypeInput(e.target.value)} />
        <select className="input" aria-label="Filter by status" value={status} onChange={(e) => setStatus(e.target.value)}>
          <option value="">All statuses</option>
          {STATUSES.map((s) => (
            <option key={s} value={s}>
              {s[0] + s.slice(1).toLowerCase()}
            </option>
          ))}
        </select>
      </div>
      <section className="card table-card" role="region" aria-label="Fleet commands">
        {result.error && !page ? (
          <ErrorBox error={result.error} />
        ) : !rows ? (
          <Loading />
        ) : rows.length === 0 ? (
          <Empty title="No commands">Commands invoked on any device show up here as they happen.</Empty>
        ) : (
          <>
            <div className="table-scroll">
              <CommandTable rows={rows} showDevice />
            </div>
            <Pager
              canBack={cursors.length > 1}
              canForward={Boolean(page?.pageInfo.hasNextPage)}
              page={cursors.length}
              onBack={() => setCursors(cursors.slice(0, -1))}
              onForward={() => setCursors([...cursors, page?.pageInfo.endCursor ?? null])}
            />
          </>
        )}
      </section>
    </>
  );
}
