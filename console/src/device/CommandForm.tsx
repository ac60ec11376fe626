// The Command form widget: pick a command type that has a schema, fill the generated form, Send.
import { useState } from 'react';
import { useMutation } from 'urql';
import type { RJSFSchema } from '@rjsf/utils';
import { InvokeCommand } from '../queries.ts';
import { SchemaForm, type ServerError } from '../forms/SchemaForm.tsx';
import { errorText } from '../ui/kit.tsx';
import { useToast } from '../ui/toast.tsx';

interface Schema {
  commandType: string;
  version: number;
  schema: unknown;
}

export default function CommandForm({ endpointId, schemas }: { endpointId: string; schemas: readonly Schema[] }) {
  const toast = useToast();
  const [type, setType] = useState(schemas[0]?.commandType ?? '');
  const [formData, setFormData] = useState<unknown>(undefined);
  const [serverErrors, setServerErrors] = useState<ServerError[]>([]);
  const [formKey, setFormKey] = useState(0);
  const [state, invoke] = useMutation(InvokeCommand);
  const current = schemas.find((s) => s.commandType === type);

  async function send(payload: unknown) {
    setServerErrors([]);
    const res = await invoke({ input: { endpointId, commandType: type, payload } });
    if (res.error) {
      const issues = res.error.graphQLErrors[0]?.extensions?.['validationErrors'] as ServerError[] | undefined;
      if (issues?.length) setServerErrors(issues);
      toast('error', errorText(res.error));
    } else if (res.data) {
      toast('success', `Command #${res.data.invokeCommand.id} sent.`);
      setFormData(undefined);
      setFormKey((k) => k + 1);
    }
  }

  return (
    <section className="card widget" role="region" aria-label="Command form">
      <h2>Command form</h2>
      <label className="field">
        <span>Command type</span>
        <select
          className="input"
          value={type}
          onChange={(e) => {
            setType(e.target.value);
            setFormData(undefined);
            setServerErrors([]);
            setFormKey((k) => k + 1);
          }}
        >
          {schemas.map((s) => (
            <option key={s.commandType} value={s.commandType}>
              {s.commandType} (schema v{s.version})
            </option>
          ))}
        </select>
      </label>
      {current && (
        <SchemaForm
          key={`${type}-${formKey}`}
          idPrefix="command"
          schema={current.schema as RJSFSchema}
          formData={formData}
          onChange={setFormData}
          onSubmit={(data) => void send(data)}
          serverErrors={serverErrors}
          submitText="Send"
          disabled={state.fetching}
        />
      )}
    </section>
  );
}
