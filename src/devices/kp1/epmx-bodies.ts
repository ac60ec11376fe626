// The kp1 request and reply bodies of EPMX, kaa-rfcs 0010 (10/EPMP), cited as [10/EPMP]. Pure,
// like bodies.ts; the rules on keys and values are the domain's (domain/metadata.ts), so a
// device and an operator are held to the same ones.
import { checkKeyList, checkMetadata, type Metadata } from '../../domain/metadata.ts';
import { isPlainObject } from '../../lib/json.ts';
import { decodeUtf8, parseJson, type Body } from './bodies.ts';
import { Kp1Failure, describe, quote } from './errors.ts';

/** [10/EPMP] get metadata keys: "The server MUST ignore payload if any." */
export function ignoreBody(): null {
  return null;
}

/**
 * [10/EPMP] get metadata request: `{"keys"?: [key…]}` with `additionalProperties: false`;
 * "Client MAY send a get metadata request with a zero-byte empty payload. In such event, server
 * MUST process the request as if no metadata key names were specified". Undefined: all keys.
 */
export function parseGetRequest(body: Body): { keys?: string[] } {
  const text = decodeUtf8(body);
  if (text.length === 0) return {};
  const value = parseJson(text);
  if (!isPlainObject(value)) {
    throw new Kp1Failure(400, `A get metadata request must be a JSON object such as {} or {"keys":["name"]}, not ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (key !== 'keys') throw new Kp1Failure(400, `Unknown field ${quote(key)} in get metadata request: only "keys" is allowed`);
  }
  return value['keys'] === undefined ? {} : { keys: checkKeyList(value['keys'], '"keys"', 0) };
}

/** [10/EPMP] update request (`update` and `update/keys`): an object, `minProperties: 1`. */
export function parseUpdateRequest(body: Body): Metadata {
  return checkMetadata(parseJson(decodeUtf8(body)), 'A metadata update', { allowEmpty: false });
}

/**
 * [10/EPMP] delete metadata keys request. The text calls it "a UTF-8 encoded JSON object" but its
 * schema is `"type":"array"` of keys with `minItems: 1`: the schema is followed [kp1 §5].
 */
export function parseDeleteRequest(body: Body): string[] {
  return checkKeyList(parseJson(decodeUtf8(body)), 'A delete metadata keys request', 1);
}

/** [10/EPMP] get metadata response: the key-value pairs asked for, those that exist. */
export function formatMetadata(metadata: Metadata, keys?: readonly string[]): string {
  if (keys === undefined) return JSON.stringify(metadata);
  const picked: Metadata = {};
  for (const key of keys) if (Object.hasOwn(metadata, key)) picked[key] = metadata[key];
  return JSON.stringify(picked);
}
