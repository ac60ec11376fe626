// The kp1 request and reply bodies of CEX and DCX: pure, like the grammar (see grammar.ts for
// the sources cited as [kp1 §n], [2/DCP], [11/CEP]). Every parser returns a value or throws a
// Kp1Failure.
import { parseDateTime } from '../../lib/iso-8601.ts';
import { MAX_JSON_DEPTH, isPlainObject, jsonProblem } from '../../lib/json.ts';
import { LATEST_STORABLE_MS } from '../../lib/storable-time.ts';
import { Kp1Failure, describe, quote } from './errors.ts';

/** Longest result reasonPhrase (grammar: [11/CEP] calls it "a short textual description";
 *  details belong in the result payload). */
const MAX_REASON_PHRASE_LENGTH = 1024;
/** Most items in one result or sample batch (grammar: bounds one request's work; the
 *  device can split a batch, so exceeding it is 413, not 400). */
export const MAX_BATCH_ITEMS = 1000;

/** Raw request bytes as a transport hands them over. */
export type Body = Uint8Array | string;

/** A CEX command request [11/CEP command request schema]. */
export interface CommandRequest {
  observe?: boolean;
}

/** One item of a CEX result request [11/CEP result request schema]. */
export interface CommandResult {
  id: number;
  statusCode: number;
  reasonPhrase?: string;
  /** Present when the device sent the key (even as `null`): stored as reported. */
  payload?: unknown;
}

/** One DCX data sample [2/DCP]. */
export interface Sample {
  timestamp: Date;
  /** The sample exactly as sent, `timestamp` field included. */
  data: unknown;
}

/**
 * A CEX command request body [kp1 §2]: a JSON object whose only allowed field is the optional
 * boolean `observe` ([11/CEP] schema has `additionalProperties: false`); anything else is 400.
 *
 * (grammar) An empty body (zero bytes or only whitespace) is taken as `{}`: many MQTT
 * clients publish empty payloads to poll, and `curl -X POST` without data sends none, while
 * `{}` is what Kaa documents; both mean "no options".
 */
export function parseCommandRequest(body: Body): CommandRequest {
  const text = decodeUtf8(body);
  if (text.trim() === '') return {};
  const value = parseJson(text);
  if (!isPlainObject(value)) {
    throw new Kp1Failure(
      400,
      `A command request must be a JSON object such as {} or {"observe":true}, not ${describe(value)}`,
    );
  }
  for (const key of Object.keys(value)) {
    if (key !== 'observe') {
      throw new Kp1Failure(400, `Unknown field ${quote(key)} in command request: only "observe" is allowed`);
    }
  }
  if (!('observe' in value)) return {};
  if (typeof value.observe !== 'boolean') {
    throw new Kp1Failure(400, `"observe" must be true or false, not ${describe(value.observe)}`);
  }
  return { observe: value.observe };
}

const MIN_STATUS_CODE = -(2 ** 31);
const MAX_STATUS_CODE = 2 ** 31 - 1;

const RESULT_FIELDS = new Set(['id', 'statusCode', 'reasonPhrase', 'payload']);

/**
 * A CEX result request body [kp1 §2]: a JSON array of results, or a lone result object taken
 * as a batch of one; `[]` is a valid no-op. Each item:
 * - `id`: a positive safe integer (command ids are positive; beyond 2^53 a JSON number is
 *   not exact, so it could not name a command).
 * - `statusCode`: any 32-bit integer ([11/CEP] `"type": "integer"`, "Based on HTTP status
 *   codes" but not limited to them; stored in an int4 column and shown as sent [kp1 §2]).
 * - `reasonPhrase`: optional string of at most MAX_REASON_PHRASE_LENGTH characters.
 * - `payload`: optional, any JSON value.
 * (grammar) Any other field is 400, as in the [11/CEP] schema (`additionalProperties:
 * false`): a misspelt `reasonphrase` is reported, not silently dropped.
 * (grammar) The same id twice in one batch: the first item stands and later ones are
 * dropped, as for a duplicate result of an already executed command [kp1 §2 (ours)].
 * Whole-body failures: 400 for any bad item (nothing of the batch is applied [kp1 §4]), 413
 * over MAX_BATCH_ITEMS items. An empty body is 400 (send `[]` to report nothing).
 */
export function parseResults(body: Body): CommandResult[] {
  const value = parseJson(decodeUtf8(body));
  const items = Array.isArray(value) ? value : [value];
  checkBatchSize(items.length, 'results');
  const seen = new Set<number>();
  const results: CommandResult[] = [];
  items.forEach((item, index) => {
    const where = Array.isArray(value) ? `Result [${index}]` : 'Result';
    const result = parseResult(item, where);
    if (seen.has(result.id)) return;
    seen.add(result.id);
    results.push(result);
  });
  return results;
}

function parseResult(item: unknown, where: string): CommandResult {
  if (!isPlainObject(item)) {
    throw new Kp1Failure(400, `${where} must be an object like {"id":1,"statusCode":200}, not ${describe(item)}`);
  }
  for (const key of Object.keys(item)) {
    if (!RESULT_FIELDS.has(key)) {
      throw new Kp1Failure(
        400,
        `${where} has unknown field ${quote(key)}: allowed are id, statusCode, reasonPhrase, payload`,
      );
    }
  }
  const { id, statusCode, reasonPhrase } = item;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    throw new Kp1Failure(400, `${where}: "id" must be a positive integer, not ${describe(id)}`);
  }
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < MIN_STATUS_CODE || statusCode > MAX_STATUS_CODE) {
    throw new Kp1Failure(400, `${where}: "statusCode" must be a 32-bit integer, not ${describe(statusCode)}`);
  }
  const result: CommandResult = { id, statusCode };
  if ('reasonPhrase' in item) {
    if (typeof reasonPhrase !== 'string') {
      throw new Kp1Failure(400, `${where}: "reasonPhrase" must be a string, not ${describe(reasonPhrase)}`);
    }
    if (reasonPhrase.length > MAX_REASON_PHRASE_LENGTH) {
      throw new Kp1Failure(400, 
        `${where}: "reasonPhrase" is longer than ${MAX_REASON_PHRASE_LENGTH} characters; put details in "payload"`,
      );
    }
    result.reasonPhrase = reasonPhrase;
  }
  if ('payload' in item) result.payload = item.payload;
  return result;
}

/**
 * A DCX body [kp1 §3]: a JSON array is a batch of samples (`[]` stores nothing); any other
 * JSON value is one sample (Kaa ≥ 1.3). Each sample is stored as sent, stamped by
 * sampleTimestamp. Over MAX_BATCH_ITEMS samples is 413. An empty body is 400: it is not JSON.
 */
export function parseSamples(body: Body, receivedAt: Date, timestampField = 'timestamp'): Sample[] {
  const value = parseJson(decodeUtf8(body));
  const items = Array.isArray(value) ? value : [value];
  checkBatchSize(items.length, 'samples');
  return items.map((data) => ({ timestamp: sampleTimestamp(data, timestampField, receivedAt), data }));
}

/** Earliest sample instant stored: the database takes years from 0001 (lib/storable-time.ts),
 *  but dates come back through `new Date(text)`, which reads years 0001-0099 as 1901-1999. */
const FIRST_STORED_MS = new Date('0100-01-01T00:00:00Z').getTime();

/**
 * The instant a DCX sample is stamped with [kp1 §3]. [2/DCP] defines no timestamp field, so a
 * sample is never refused for one: an object's `timestampField` (default `timestamp`; '' reads
 * none) is used when it is epoch milliseconds (a finite number; fractions cut, as Date does) or
 * an ISO-8601 date-time with a UTC offset, between 0100-01-01 and 9999-12-31 UTC; anything else
 * (null, a boolean, a date without a time or offset, an impossible or out-of-range date) and a
 * sample without the field are stamped with `receivedAt`. The field stays in the data as sent.
 */
export function sampleTimestamp(data: unknown, timestampField: string, receivedAt: Date): Date {
  if (timestampField === '' || !isPlainObject(data) || !Object.hasOwn(data, timestampField)) return receivedAt;
  const value = data[timestampField];
  let date: Date | undefined;
  if (typeof value === 'number' && Number.isFinite(value)) date = new Date(value);
  else if (typeof value === 'string') date = parseDateTime(value, { variants: true, rollOver: false });
  const ms = date?.getTime();
  return ms !== undefined && ms >= FIRST_STORED_MS && ms <= LATEST_STORABLE_MS ? (date as Date) : receivedAt;
}

/**
 * The command response body [kp1 §2, 11/CEP command response schema]: a JSON array of
 * `{"id", "payload"}` in the order given (callers pass them oldest first), `payload` omitted
 * when the command has none (undefined or null).
 */
export function formatCommands(commands: ReadonlyArray<{ id: number; payload?: unknown }>): string {
  return JSON.stringify(
    commands.map(({ id, payload }) => (payload === undefined || payload === null ? { id } : { id, payload })),
  );
}

/**
 * The all-types command response body [11/CEP "command representation MUST include `type`
 * property that is a string identifying the command type"]: `{"id", "type", "payload"}`, oldest
 * first, `payload` omitted as in formatCommands.
 */
export function formatAllCommands(commands: ReadonlyArray<{ id: number; commandType: string; payload?: unknown }>): string {
  return JSON.stringify(
    commands.map(({ id, commandType: type, payload }) =>
      payload === undefined || payload === null ? { id, type } : { id, type, payload },
    ),
  );
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

export function decodeUtf8(body: Body): string {
  if (typeof body === 'string') return body;
  // [11/CEP] requests are "UTF-8 encoded JSON"; invalid bytes are refused rather than
  // replaced with U+FFFD, which would store something the device never sent.
  try {
    return utf8.decode(body);
  } catch {
    throw new Kp1Failure(400, 'Body is not valid UTF-8');
  }
}

/**
 * (grammar) Valid JSON that PostgreSQL cannot store is the device's fault too, so 400 rather than
 * 503 "retry later": a string or key holding U+0000 or a lone surrogate (`"\ud800"`), and
 * nesting deeper than MAX_JSON_DEPTH levels, anywhere in the body.
 */
export function parseJson(text: string): unknown {
  let value: unknown;
  try {
    value = JSON.parse(text); // iterative in V8: any depth parses
  } catch (error) {
    const detail = error instanceof SyntaxError ? `: ${error.message}` : '';
    throw new Kp1Failure(400, text.trim() === '' ? 'Body is empty; expected JSON' : `Body is not valid JSON${detail}`);
  }
  const problem = jsonProblem(value, MAX_JSON_DEPTH);
  if (problem) {
    const where = problem.path === '' ? 'Body' : `Body at ${quote(problem.path)}`;
    throw new Kp1Failure(400, `${where}: ${problem.message}, which cannot be stored`);
  }
  return value;
}

function checkBatchSize(count: number, what: string): void {
  if (count > MAX_BATCH_ITEMS) {
    throw new Kp1Failure(413, `Too many ${what} in one request: ${count}, at most ${MAX_BATCH_ITEMS}; split the batch`);
  }
}
