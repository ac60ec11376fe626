// The kp1 request and reply bodies of CEX and DCX: pure, like the grammar (see grammar.ts for
// the sources cited as [kp1 §n], [2/DCP], [11/CEP]). Every parser returns a value or throws a
// Kp1Failure.
import { parseDateTime } from '../../lib/iso-8601.ts';
import { MAX_JSON_DEPTH, isPlainObject, jsonProblem } from '../../lib/json.ts';
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

const RESULT_FIELDS = new Set(['id', 'statusCode', 'reasonPhrase', 'payload']);

/**
 * A CEX result request body [kp1 §2]: a JSON array of results, or a lone result object taken
 * as a batch of one; `[]` is a valid no-op. Each item:
 * - `id`: a positive safe integer (command ids are positive; beyond 2^53 a JSON number is
 *   not exact, so it could not name a command).
 * - `statusCode`: an integer 100..599 (grammar: [11/CEP] "based on HTTP status codes"; that
 *   is HTTP's range, and any code in it is a valid outcome, non-2xx included [kp1 §2]).
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
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    throw new Kp1Failure(400, `${where}: "statusCode" must be an integer from 100 to 599, not ${describe(statusCode)}`);
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
 * JSON value is one sample (Kaa ≥ 1.3). A sample that is an object with a `timestamp` field
 * is stamped with it, as epoch milliseconds (a finite number; fractions are cut to whole
 * milliseconds, as Date does) or an ISO-8601 date-time string; otherwise with `receivedAt`.
 *
 * (grammar) A `timestamp` that is present but unusable (null, boolean, a date without a time,
 * a time without a UTC offset — its meaning would depend on the server's time zone — or a
 * date out of range) fails the whole body with 400 rather than silently falling back to the
 * receipt time: no bad request changes stored state [kp1 §4].
 * Over MAX_BATCH_ITEMS samples is 413. An empty body is 400: it is not JSON.
 */
export function parseSamples(body: Body, receivedAt: Date): Sample[] {
  const value = parseJson(decodeUtf8(body));
  const items = Array.isArray(value) ? value : [value];
  checkBatchSize(items.length, 'samples');
  return items.map((data, index) => {
    if (!isPlainObject(data) || !('timestamp' in data)) return { timestamp: receivedAt, data };
    const where = Array.isArray(value) ? `Sample [${index}]` : 'Sample';
    return { timestamp: parseTimestamp(data.timestamp, where), data };
  });
}

function parseTimestamp(value: unknown, where: string): Date {
  if (typeof value === 'number') {
    const date = new Date(value); // ToIntegerOrInfinity: fractions cut toward zero
    if (Number.isFinite(value) && !Number.isNaN(date.getTime())) return date;
    throw new Kp1Failure(400, `${where}: "timestamp" ${value} is out of range for epoch milliseconds`);
  }
  if (typeof value === 'string') {
    const date = parseDateTime(value, { variants: true, rollOver: false });
    if (date) return date;
    throw new Kp1Failure(400, 
      `${where}: "timestamp" ${quote(value)} is not an ISO-8601 date-time with a UTC offset, e.g. 2024-05-01T12:00:00Z`,
    );
  }
  throw new Kp1Failure(
    400,
    `${where}: "timestamp" must be epoch milliseconds or an ISO-8601 string, not ${describe(value)}`,
  );
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

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(body: Body): string {
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
function parseJson(text: string): unknown {
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
