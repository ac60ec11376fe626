// rjsf's ValidatorType over the interpreting validator in json-schema.ts: errors land on their
// field (a missing required property on the property itself), labelled with the field's title.
import { toErrorSchema, type RJSFSchema, type RJSFValidationError, type ValidatorType } from '@rjsf/utils';
import { isValid, validate, type Schema, type SchemaError } from './json-schema.ts';

function titleOf(root: RJSFSchema, instancePath: string, key: string): string | undefined {
  let node: unknown = root;
  for (const part of [...instancePath.split('/').slice(1), key]) {
    const props = (node as { properties?: Record<string, unknown> } | undefined)?.properties;
    node = props?.[part];
  }
  return (node as { title?: string } | undefined)?.title;
}

function toRjsf(error: SchemaError, root: RJSFSchema): RJSFValidationError {
  let property = error.instancePath.replace(/\//g, '.');
  let message = error.message;
  const missing = error.params['missingProperty'] as string | undefined;
  if (missing !== undefined) {
    const title = titleOf(root, error.instancePath, missing);
    if (title) message = message.replace(`'${missing}'`, `'${title}'`);
    property = `${property}.${missing}`;
  }
  return { name: error.keyword, property, message, params: error.params, stack: `${property} ${message}`.trim(), schemaPath: error.schemaPath };
}

export const validator: ValidatorType = {
  validateFormData(formData, schema, customValidate, transformErrors, uiSchema) {
    let errors = validate(schema as Schema, formData ?? {}).map((e) => toRjsf(e, schema));
    if (transformErrors) errors = transformErrors(errors, uiSchema);
    return { errors, errorSchema: toErrorSchema(errors) };
  },
  isValid(schema, formData, rootSchema) {
    return isValid(schema as Schema, formData, rootSchema as Schema);
  },
  rawValidation(schema, formData) {
    return { errors: validate(schema as Schema, formData) as never[] };
  },
};
