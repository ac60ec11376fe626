// A form generated from a command schema (rjsf with the same JSON Schema dialect as the server):
// `const` fields shown fixed, defaults prefilled, if/then requirements checked before sending,
// and server errors placed next to their field by JSON pointer. Loaded lazily (rjsf is big).
import Form from '@rjsf/core';
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

/**
 * Fields to fill first (required, then optional), fixed ones last. The stored schema does not keep
 * its author's property order (PostgreSQL jsonb), so the form orders by what matters to people.
 */
function uiFor(schema: RJSFSchema): UiSchema {
  const ui: UiSchema = {};
  const required = new Set(schema.required ?? []);
  const rank = (name: string, prop: unknown) =>
    typeof prop === 'object' && prop !== null && 'const' in prop ? 2 : required.has(name) ? 0 : 1;
  const entries = Object.entries(schema.properties ?? {});
  ui['ui:order'] = entries
    .map(([name, prop], index) => ({ name, key: rank(name, prop) * 10_000 + index }))
    .sort((a, b) => a.key - b.key)
    .map((e) => e.name)
    .concat('*');
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
      // Ajv adds a summary error for a failed if/then on the whole object; the field error says it.
      transformErrors={(errors) => errors.filter((e) => e.name !== 'if')}
      extraErrors={extraErrors}
      experimental_defaultFormStateBehavior={{ constAsDefaults: 'always', emptyObjectFields: 'populateAllDefaults' }}
      onChange={(e) => props.onChange(e.formData)}
      onSubmit={(e) => props.onSubmit(e.formData)}
    >
      {props.children}
    </Form>
  );
}
