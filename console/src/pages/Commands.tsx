// Fleet-wide command history across endpoints: filter by application, type and status; live.
import { useState } from 'react';
import { useQuery } from 'urql';
import { FleetCommandsQuery } from '../queries.ts';
import { useDebounced, useQueryParam } from '../router.tsx';
import { useOnReconnect } from '../live.ts';
import { PageHeader } from '../ui/kit.tsx';
import { ApplicationSelect, DeliveryFilter, StatusFilter, deliveredArg, useApplications, type Status } from '../ui/filters.tsx';
import { useCursors } from '../ui/paging.tsx';
import { CommandList } from '../device/CommandList.tsx';
import { useLiveCommands } from '../device/commands-live.ts';

const PAGE = 50;

export function CommandsPage() {
  const [application, setApplication] = useQueryParam('app');
  const [status, setStatus] = useQueryParam('status');
  const [delivery, setDelivery] = useQueryParam('delivery');
  const delivered = deliveredArg(delivery);
  const [typeInput, setTypeInput] = useState('');
  const type = useDebounced(typeInput.trim());
  const cursors = useCursors(`${application}/${status}/${type}/${delivery}`);
  const apps = useApplications();
  const types = type ? [type] : [];
  const statuses = status ? [status as Status] : [];
  const [result, refetch] = useQuery({
    query: FleetCommandsQuery,
    variables: {
      filter: {
        application: application || null,
        commandTypes: types.length ? types : null,
        statuses: statuses.length ? statuses : null,
        delivered,
      },
      first: PAGE,
      after: cursors.after,
    },
  });
  useOnReconnect(() => refetch({ requestPolicy: 'network-only' }));
  const page = result.data?.commands;
  const rows = useLiveCommands(
    page?.edges.map((e) => e.node),
    { types, statuses, application: application || undefined, delivered },
    cursors.firstPage,
  );

  return (
    <>
      <PageHeader title="Commands" subtitle="Every command across the fleet, newest first. Updates live." />
      <div className="toolbar">
        <ApplicationSelect apps={apps} value={application} onChange={setApplication} />
        <input className="input" placeholder="Command type" aria-label="Filter by type" value={typeInput} onChange={(e) => setTypeInput(e.target.value)} />
        <StatusFilter value={status} onChange={setStatus} />
        <DeliveryFilter value={delivery} onChange={setDelivery} />
      </div>
      <section className="card table-card" role="region" aria-label="Fleet commands">
        <CommandList
          error={result.error}
          rows={rows}
          pageInfo={page?.pageInfo}
          cursors={cursors}
          showDevice
          empty={{ title: 'No commands', text: 'Commands invoked on any device show up here as they happen.' }}
        />
      </section>
    </>
  );
}
