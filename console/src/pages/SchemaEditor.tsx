// One version's command schemas: pick a type, see its version history, edit the JSON with errors
// by path, preview the generated form live, and try a payload through validateCommand.
import { useContext, useEffect, useMemo, useState } from 'react';
import { useClient, useMutation, useQuery } from 'urql';
import { Link } from '../router.tsx';
import type { RJSFSchema } from '@rjsf/utils';
import { EndpointsQuery, RemoveCommandSchema, SchemaHistoryQuery, SetCommandSchema, ValidateCommand, VersionSchemasQuery } from '../queries.ts';
import { SchemaForm, type ServerError } from '../forms/SchemaForm.tsx';
import { lintSchema } from '../forms/schema-lint.ts';
import { can, SessionContext } from '../session-context.ts';
import { Empty, ErrorBox, Loading, errorText, formatTime } from '../ui/kit.tsx';
import { useToast } from '../ui/toast.tsx';

/** Problems with the editor's text: JSON syntax, then structural problems by path. */
function checkSchema(text: string): { schema?: RJSFSchema; errors: ServerError[] } {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    return { errors: [{ path: '', message: `Not valid JSON: ${(e as Error).message}` }] };
  }
  const errors = lintSchema(parsed).map((p) => ({ path: p.instancePath, message: p.message }));
  return { schema: errors.length === 0 ? (parsed as RJSFSchema) : undefined, errors };
}

export function VersionSchemas({ version, onChanged }: { version: string; onChanged: () => void }) {
  const [result, refetch] = useQuery({ query: VersionSchemasQuery, variables: { name: version } });
  const [type, setType] = useState<string | null>(null);
  const [newType, setNewType] = useState('');
  const operator = can(useContext(SessionContext), 'OPERATOR');
  const data = result.data?.applicationVersion;
  useEffect(() => setType(null), [version]);
  if (result.error && !result.data) return <ErrorBox error={result.error} />;
  if (!result.data) return <Loading />;
  if (!data) return <Empty title={`No version "${version}"`} />;
  const selected = type ?? data.commandSchemas[0]?.commandType ?? null;
  const changed = () => {
    refetch({ requestPolicy: 'network-only' });
    onChanged();
  };

  return (
    <div className="stack">
      <div className="card">
        <div className="widget-head">
          <h2>
            {data.application.name} / <code>{data.name}</code>
          </h2>
          {operator && <Link to={`/batches?version=${encodeURIComponent(data.name)}`} className="button button-small">Send a command to all its devices</Link>}
        </div>
        <div className="chips" role="tablist" aria-label="Command types">
          {data.commandSchemas.map((s) => (
            <button key={s.commandType} role="tab" aria-selected={s.commandType === selected} className={`chip${s.commandType === selected ? ' active' : ''}`} onClick={() => setType(s.commandType)}>
              {s.commandType} <span className="muted">v{s.version}</span>
            </button>
          ))}
          {type && !data.commandSchemas.some((s) => s.commandType === type) && <span className="chip active">{type} (new)</span>}
          {operator && (
            <form
              className="inline-create"
              onSubmit={(e) => {
                e.preventDefault();
                if (newType.trim()) setType(newType.trim());
                setNewType('');
              }}
            >
              <input className="input input-small" aria-label="New command type" placeholder="new command type" value={newType} onChange={(e) => setNewType(e.target.value)} />
              <button className="button button-small">Add schema</button>
            </form>
          )}
        </div>
        {data.commandSchemas.length === 0 && !type && <Empty title="No command schemas">Commands of this version accept any JSON body.</Empty>}
      </div>
      {selected && (
        <SchemaWorkbench
          key={`${version}/${selected}`}
          version={version}
          commandType={selected}
          current={data.commandSchemas.find((s) => s.commandType === selected)?.schema}
          onChanged={changed}
        />
      )}
    </div>
  );
}

const STARTER = { type: 'object', properties: {}, additionalProperties: false };

function SchemaWorkbench(props: { version: string; commandType: string; current: unknown; onChanged: () => void }) {
  const toast = useToast();
  const client = useClient();
  const operator = can(useContext(SessionContext), 'OPERATOR');
  const [text, setText] = useState(() => JSON.stringify(props.current ?? STARTER, null, 2));
  const [serverErrors, setServerErrors] = useState<ServerError[]>([]);
  const [preview, setPreview] = useState<unknown>(undefined);
  const [trial, setTrial] = useState<{ valid: boolean; payload: unknown; errors: ServerError[] } | null>(null);
  const [history, refetchHistory] = useQuery({ query: SchemaHistoryQuery, variables: { name: props.version, commandType: props.commandType } });
  const [devices] = useQuery({ query: EndpointsQuery, variables: { applicationVersion: props.version, first: 1 } });
  const [, save] = useMutation(SetCommandSchema);
  const [, remove] = useMutation(RemoveCommandSchema);
  const checked = useMemo(() => checkSchema(text), [text]);
  const errors = [...checked.errors, ...serverErrors];
  const device = devices.data?.endpoints.edges[0]?.node;

  async function onSave() {
    setServerErrors([]);
    const res = await save({ applicationVersion: props.version, commandType: props.commandType, schema: JSON.parse(text) });
    if (res.error) {
      setServerErrors((res.error.graphQLErrors[0]?.extensions?.['validationErrors'] as ServerError[] | undefined) ?? [{ path: '', message: errorText(res.error) }]);
      toast('error', errorText(res.error));
    } else {
      toast('success', `Saved ${props.commandType} schema v${res.data?.setCommandSchema.version}.`);
      refetchHistory({ requestPolicy: 'network-only' });
      props.onChanged();
    }
  }

  async function onTry(payload: unknown) {
    if (!device) return;
    const res = await client.query(ValidateCommand, { endpointId: device.id, commandType: props.commandType, payload }, { requestPolicy: 'network-only' }).toPromise();
    if (res.error) toast('error', errorText(res.error));
    else if (res.data) setTrial(res.data.validateCommand);
  }

  return (
    <div className="grid-2">
      <section className="card widget" aria-label="Schema editor">
        <div className="widget-head">
          <h2>
            <code>{props.commandType}</code> schema
          </h2>
          {operator && (
            <div className="toolbar toolbar-tight">
              <button className="button button-primary" disabled={checked.errors.length > 0} onClick={() => void onSave()}>
                Save new version
              </button>
              {props.current !== undefined && (
                <button
                  className="button button-danger"
                  onClick={async () => {
                    if (!confirm(`Remove the ${props.commandType} schema? Commands of this type then accept any JSON.`)) return;
                    const res = await remove({ applicationVersion: props.version, commandType: props.commandType });
                    if (res.error) toast('error', errorText(res.error));
                    else props.onChanged();
                  }}
                >
                  Remove
                </button>
              )}
            </div>
          )}
        </div>
        <textarea className="input mono editor" aria-label="Schema JSON" spellCheck={false} value={text} readOnly={!operator} onChange={(e) => setText(e.target.value)} rows={22} />
        {errors.length > 0 && (
          <ul className="path-errors" aria-label="Schema errors">
            {errors.map((e, i) => (
              <li key={i}>
                <code>{e.path || '/'}</code> {e.message}
              </li>
            ))}
          </ul>
        )}
        <h3>Version history</h3>
        {!history.data ? (
          <Loading />
        ) : (history.data.applicationVersion?.commandSchemaHistory ?? []).length === 0 ? (
          <p className="muted">Not saved yet.</p>
        ) : (
          <ul className="history-list">
            {history.data.applicationVersion!.commandSchemaHistory.map((h) => (
              <li key={h.version}>
                <span className="strong">v{h.version}</span> <span className="muted small">{formatTime(h.updatedAt)}</span>
                <button className="button button-small button-quiet" onClick={() => setText(JSON.stringify(h.schema, null, 2))}>
                  Load into editor
                </button>
              </li>
            ))}
          </ul>
        )}
      </section>
      <section className="card widget" aria-label="Form preview">
        <h2>Form preview</h2>
        {checked.schema ? (
          <SchemaForm schema={checked.schema} formData={preview} onChange={setPreview} onSubmit={(d) => void onTry(d)} submitText="Try it" disabled={!device} idPrefix="preview" serverErrors={trial?.errors} />
        ) : (
          <p className="muted">Fix the schema to see its form.</p>
        )}
        {!device && <p className="hint">"Try it" checks a payload through validateCommand against the saved schema; it needs a device of this version.</p>}
        {trial && (
          <div className={`trial ${trial.valid ? 'trial-ok' : 'trial-bad'}`} role="status">
            {trial.valid ? (
              <>
                <strong>Valid.</strong> The device would receive:
                <pre>{JSON.stringify(trial.payload, null, 2)}</pre>
              </>
            ) : (
              <>
                <strong>Refused:</strong>
                <ul>
                  {trial.errors.map((e, i) => (
                    <li key={i}>
                      <code>{e.path || '/'}</code> {e.message}
                    </li>
                  ))}
                </ul>
              </>
            )}
          </div>
        )}
      </section>
    </div>
  );
}
