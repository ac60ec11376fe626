// A form generated from a command schema (rjsf with the same JSON Schema draft as the server):
// `const` fields shown fixed, defaults prefilled, if/then requirements checked before sending,
// and server errors placed next to their field by JSON pointer. Loaded lazily (rjsf is big).
// Not the package index: it also exports a test registry that imports @rjsf/validator-ajv8 (Ajv).
import Form from '@rjsf/core/lib/components/Form.js';
import type { ErrorSchema, RJSFSchema, UiSchema } from '@rjsf/utils';
import { useMemo, useState, type ReactNode } from 'react';
import { validator } from './validator.ts';

export interface ServerError {
  path: string;
  message: string;
}

/** Server errors by JSON pointer ("/a/0/b") as rjsf's nested error schema. */
export function errorsByPointer(errors: readonly ServerError[]): ErrorSchema {
  const root: Record<string, unknown> = {};
  for (const { path, message } of errors) {
    let node = root;
    for (const raw of path.split('/').slice(1)) {
      const key = raw.replace(/~1/g, '/').replace(/~0/g, '~');
      node = (node[key] ??= {}) as Record<string, unknown>;
    }
    ((node['__errors'] ??= []) as string[]).push(message);
  }
  return root as ErrorSchema;
}

/** Fields in the schema's own property order (rjsf's default); `const` ones shown fixed. */
function uiFor(schema: RJSFSchema): UiSchema {
  const ui: UiSchema = {};
  const entries = Object.entries(schema.properties ?? {});
  for (const [name, prop] of entries) {
    if (typeof prop !== 'object') continue;
    if ('const' in prop) ui[name] = { 'ui:readonly': true, 'ui:help': 'Fixed by the schema' };
    else if (prop.type === 'object') ui[name] = uiFor(prop as RJSFSchema);
  }
  return ui;
}

export function SchemaForm(props: {
  schema: RJSFSchema;
  formData: unknown;
  onChange: (data: unknown) => void;
  onSubmit: (data: unknown) => void;
  serverErrors?: readonly ServerError[];
  submitText: string;
  disabled?: boolean;
  idPrefix?: string;
  children?: ReactNode;
}) {
  const uiSchema = useMemo<UiSchema>(
    () => ({ ...uiFor(props.schema), 'ui:submitButtonOptions': { submitText: props.submitText, props: { disabled: props.disabled, className: 'button button-primary' } } }),
    [props.schema, props.submitText, props.disabled],
  );
  const [tried, setTried] = useState(false);
  const extraErrors = useMemo(() => (props.serverErrors?.length ? errorsByPointer(props.serverErrors) : undefined), [props.serverErrors]);
  return (
    <Form
      className="rjsf-form"
      schema={props.schema}
      uiSchema={uiSchema}
      formData={props.formData}
      validator={validator}
      idPrefix={props.idPrefix}
      noHtml5Validate
      showErrorList={false}
      liveValidate={tried ? 'onChange' : undefined}
      onError={() => setTried(true)}
      extraErrors={extraErrors}
      experimental_defaultFormStateBehavior={{ constAsDefaults: 'always', emptyObjectFields: 'populateAllDefaults' }}
      onChange={(e) => props.onChange(e.formData)}
      onSubmit={(e) => props.onSubmit(e.formData)}
    >
      {props.children}
    </Form>
  );
}
