// The device's Commands tab: Command execution, Command form (when the version has schemas),
// Commands history.
import { lazy, Suspense, useContext, useState, type FormEvent } from 'react';
import { useMutation, useQuery } from 'urql';
import { HistoryQuery, InvokeCommand, type ResultOf } from '../queries.ts';
import type { EndpointQuery } from '../queries.ts';
import { useOnReconnect } from '../live.ts';
import { can, SessionContext } from '../session-context.ts';
import { Loading, errorText } from '../ui/kit.tsx';
import { useToast } from '../ui/toast.tsx';
import { DeliveryFilter, StatusFilter, deliveredArg, type Status } from '../ui/filters.tsx';
import { useCursors } from '../ui/paging.tsx';
import { CommandList } from './CommandList.tsx';
import { useLiveCommands } from './commands-live.ts';

const CommandForm = lazy(() => import('./CommandForm.tsx'));

type Endpoint = NonNullable<ResultOf<typeof EndpointQuery>['endpoint']>;

export function CommandsTab({ endpoint }: { endpoint: Endpoint }) {
  const session = useContext(SessionContext);
  const operator = can(session, 'OPERATOR') && !endpoint.revokedAt;
  const schemas = endpoint.applicationVersion.commandSchemas;
  return (
    <div className="stack">
      {operator && (
        <div className={schemas.length > 0 ? 'grid-2' : undefined}>
          <CommandExecution endpointId={endpoint.id} types={schemas.map((s) => s.commandType)} />
          {schemas.length > 0 && (
            <Suspense fallback={<Loading label="Loading form…" />}>
              <CommandForm endpointId={endpoint.id} schemas={schemas} />
            </Suspense>
          )}
        </div>
      )}
      <CommandsHistory endpointId={endpoint.id} />
    </div>
  );
}

const UNITS = { seconds: 1, minutes: 60, hours: 3600, days: 86400 } as const;

function CommandExecution({ endpointId, types }: { endpointId: string; types: string[] }) {
  const toast = useToast();
  const [type, setType] = useState('');
  const [retention, setRetention] = useState('1');
  const [unit, setUnit] = useState<keyof typeof UNITS>('hours');
  const [body, setBody] = useState('');
  const [bodyError, setBodyError] = useState<string | null>(null);
  const [state, invoke] = useMutation(InvokeCommand);

  async function run(event: FormEvent) {
    event.preventDefault();
    let payload: unknown = null;
    if (body.trim()) {
      try {
        payload = JSON.parse(body);
      } catch (e) {
        setBodyError(`Not valid JSON: ${(e as Error).message}`);
        return;
      }
    }
    setBodyError(null);
    const retentionSeconds = Math.round(Number(retention) * UNITS[unit]);
    const res = await invoke({ input: { endpointId, commandType: type.trim(), payload, retentionSeconds } });
    if (res.error) {
      const issues = res.error.graphQLErrors[0]?.extensions?.['validationErrors'] as { path: string; message: string }[] | undefined;
      if (issues?.length) setBodyError(issues.map((i) => `${i.path || '(body)'}: ${i.message}`).join('\n'));
      toast('error', errorText(res.error));
    } else if (res.data) toast('success', `Command #${res.data.invokeCommand.id} sent.`);
  }

  return (
    <section className="card widget" role="region" aria-label="Command execution">
      <h2>Command execution</h2>
      <form onSubmit={run} className="form">
        <label className="field">
          <span>Command type</span>
          <input className="input" list="command-types" value={type} onChange={(e) => setType(e.target.value)} required placeholder="reboot" />
          <datalist id="command-types">
            {types.map((t) => (
              <option key={t} value={t} />
            ))}
          </datalist>
        </label>
        <div className="field">
          <label htmlFor="retention">Maximum command retention for delivery</label>
          <div className="input-group">
            <input id="retention" className="input" type="number" min="1" step="any" value={retention} onChange={(e) => setRetention(e.target.value)} required />
            <select className="input" aria-label="Retention unit" value={unit} onChange={(e) => setUnit(e.target.value as keyof typeof UNITS)}>
              {Object.keys(UNITS).map((u) => (
                <option key={u}>{u}</option>
              ))}
            </select>
          </div>
        </div>
        <label className="field">
          <span>
            Command body <span className="muted">(JSON, optional)</span>
          </span>
          <textarea
            className="input mono"
            rows={4}
            value={body}
            onChange={(e) => setBody(e.target.value)}
            placeholder='{"delay": 5}'
            aria-invalid={bodyError ? true : undefined}
          />
        </label>
        {bodyError && <pre className="field-error">{bodyError}</pre>}
        <div className="form-actions">
          <button className="button button-primary" disabled={state.fetching || !type.trim()}>
            Run
          </button>
        </div>
      </form>
    </section>
  );
}

const PAGE = 50;

/** The variables of the history's first page, unfiltered: the device page asks for it at once. */
export function firstHistoryPage(endpointId: string) {
  return { endpointId, first: PAGE, after: null, commandTypes: null, statuses: null, delivered: null };
}

function CommandsHistory({ endpointId }: { endpointId: string }) {
  const [type, setType] = useState('');
  const [status, setStatus] = useState('');
  const [delivery, setDelivery] = useState('');
  const cursors = useCursors(`${type}/${status}/${delivery}`);
  const delivered = deliveredArg(delivery);
  const types = type.trim() ? [type.trim()] : [];
  const statuses = status ? [status as Status] : [];
  const [result, refetch] = useQuery({
    query: HistoryQuery,
    variables: {
      endpointId,
      first: PAGE,
      after: cursors.after,
      commandTypes: types.length ? types : null,
      statuses: statuses.length ? statuses : null,
      delivered,
    },
  });
  useOnReconnect(() => refetch({ requestPolicy: 'network-only' }));
  const page = result.data?.commandHistory;
  const rows = useLiveCommands(page?.edges.map((e) => e.node), { types, statuses, endpointId, delivered }, cursors.firstPage);

  return (
    <section className="card widget" role="region" aria-label="Commands history">
      <div className="widget-head">
        <h2>Commands history</h2>
        <div className="toolbar toolbar-tight">
          <input className="input" placeholder="Type" aria-label="Filter by type" value={type} onChange={(e) => setType(e.target.value)} />
          <StatusFilter value={status} onChange={setStatus} />
          <DeliveryFilter value={delivery} onChange={setDelivery} />
        </div>
      </div>
      <CommandList
        error={result.error}
        rows={rows}
        pageInfo={page?.pageInfo}
        cursors={cursors}
        empty={{ title: 'No commands yet', text: 'Run a command above; it appears here as Pending until the device answers.' }}
      />
    </section>
  );
}
