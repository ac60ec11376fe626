// The kp1 grammar: topics, HTTP paths and JSON bodies of Kaa Protocol v1 (CEX and DCX).
//
// Pure: no I/O, no clock, no state. Every function either returns a value or throws a
// Kp1Failure carrying the kp1 error object the dispatcher sends back to the device.
//
// Sources, cited below as:
//   [kp1 §n]  docs/kp1.md, section n (our contract; "(ours)" marks our decisions)
//   [1/KP]    kaa-rfcs 0001, Kaa Protocol v1
//   [2/DCP]   kaa-rfcs 0002, Data Collection Protocol
//   [11/CEP]  kaa-rfcs 0011, Command Execution Protocol
//   [MQTT-x]  MQTT 3.1.1 conformance statements
// Decisions kp1.md leaves open are marked (grammar), with the reason next to them.

// ---------------------------------------------------------------------------------------------
// Errors

/** The kp1 error payload, everywhere (MQTT `/error` topics and HTTP error bodies) [kp1 §1]. */
export type Kp1Error = { statusCode: number; reasonPhrase: string };

/** A failure the device is told about, with the statusCode of [kp1 §4]. */
export class Kp1Failure extends Error implements Kp1Error {
  readonly statusCode: number;
  readonly reasonPhrase: string;

  constructor(statusCode: number, reasonPhrase: string) {
    super(reasonPhrase);
    this.name = 'Kp1Failure';
    this.statusCode = statusCode;
    this.reasonPhrase = reasonPhrase;
  }

  /** The plain error object, without the Error machinery. */
  get error(): Kp1Error {
    return { statusCode: this.statusCode, reasonPhrase: this.reasonPhrase };
  }
}

// One helper per row of [kp1 §4].
/** 400: body is not JSON, wrong shape, bad request id, bad command type. */
export const badRequest = (reason: string) => new Kp1Failure(400, reason);
/** 401: unknown or revoked endpoint token. */
export const unauthorized = (reason: string) => new Kp1Failure(401, reason);
/** 403: token of an endpoint of another application than the topic's app version. */
export const forbidden = (reason: string) => new Kp1Failure(403, reason);
/** 404: unknown application version, command id, extension or resource. */
export const notFound = (reason: string) => new Kp1Failure(404, reason);
/** 413: payload larger than the configured limit (and, here, batches over MAX_BATCH_ITEMS). */
export const payloadTooLarge = (reason: string) => new Kp1Failure(413, reason);
/** 503: the server cannot store the request now. */
export const unavailable = (reason: string) => new Kp1Failure(503, reason);

/** The error payload as sent on `/error` topics and in HTTP error bodies [kp1 §1]. */
export function formatError(error: Kp1Error): string {
  return JSON.stringify({ statusCode: error.statusCode, reasonPhrase: error.reasonPhrase });
}

// ---------------------------------------------------------------------------------------------
// Limits

/** Longest endpoint token and command type, in UTF-16 code units (grammar: bounds what we
 *  index, log and echo; real tokens and Kaa's command types are far shorter). */
export const MAX_TOKEN_LENGTH = 128;
export const MAX_COMMAND_TYPE_LENGTH = 128;
/** Longest result reasonPhrase (grammar: [11/CEP] calls it "a short textual description";
 *  details belong in the result payload). */
export const MAX_REASON_PHRASE_LENGTH = 1024;
/** Most items in one result or sample batch (grammar: bounds one request's work; the
 *  device can split a batch, so exceeding it is 413, not 400). */
export const MAX_BATCH_ITEMS = 1000;
/** Largest MQTT request id: 2^31-1 [kp1 §1]. */
export const MAX_REQUEST_ID = 2 ** 31 - 1;

// ---------------------------------------------------------------------------------------------
// Topics and paths

export type Extension = 'cex' | 'dcx';

/** What a request asks for, resolved from its resource path. */
export type Kp1Resource =
  | { kind: 'command'; commandType: string } // cex `command/{type}` [11/CEP]
  | { kind: 'result'; commandType: string } // cex `result/{type}` [11/CEP]
  | { kind: 'telemetry' }; // dcx `json` [2/DCP]

/** A request topic (MQTT) or path (HTTP) that names a resource this server serves. */
export interface Kp1Request {
  /** The request topic as received (for HTTP: the path without its leading `/`, levels
   *  percent-decoded). Replies are built from it, see statusTopic / errorTopic. */
  topic: string;
  appVersion: string;
  extension: Extension;
  token: string;
  /** The resource path without the request id, e.g. `command/reboot` [kp1 §1]. */
  resourcePath: string;
  resource: Kp1Resource;
  /** MQTT only [kp1 §1]. */
  requestId?: number;
}

// [1/KP] "All KP resource paths start with `kp1`"; then app version, extension, token.
const PREFIX = 'kp1';

// App version names as our operators may create them (lead's decision, see the brief).
const APP_VERSION_NAME = /^[a-z0-9_-]+$/;
// [kp1 §1] tokens never contain `+ # / .`; whitespace and control characters are refused
// too (grammar: they cannot be typed in a topic reliably and MQTT forbids U+0000
// [MQTT-1.5.3-2]).
const TOKEN = /^[^\s+#/.\p{Cc}]+$/u;
// [kp1 §1] command types; [11/CEP] "non-empty alpha-numeric", widened to Kaa's `-`/`_` examples.
const COMMAND_TYPE = /^[A-Za-z0-9_-]+$/;
// [kp1 §1] a request id is a positive integer without leading zero; range checked apart.
const DIGITS = /^[0-9]+$/;

/**
 * Parses an MQTT topic (`allowRequestId: true`) or a path already split off its leading `/`
 * (`false`) into the request it names, or throws a Kp1Failure:
 *
 * - 400: an empty level (no normalising of doubled, leading or trailing slashes [kp1 §1],
 *   [1/KP] "MQTT is sensitive to trailing/leading slashes"), a malformed app version name,
 *   token or command type, or a request id that is all digits but has a leading zero, is 0
 *   or exceeds 2^31-1 [kp1 §4].
 * - 404: not a kp1 topic, unknown extension, unknown resource [kp1 §4]. That includes a
 *   last level that is not a number where a request id would go (`json/abc`), and any
 *   request id over HTTP (grammar: HTTP has no request ids [kp1 §1], so `…/json/5` names
 *   no resource).
 *
 * Response topics (…/status, …/error) are not requests: callers test isResponseTopic first.
 * Does not check that the app version, token or command exists: that needs storage.
 */
export function parseTopic(topic: string, opts: { allowRequestId: boolean }): Kp1Request {
  const levels = topic.split('/');
  // [kp1 §1] levels are exact: `a//b`, `a/` and `/a` are other topics, and malformed.
  if (levels.some((level) => level === '')) {
    throw badRequest(`Topic ${quote(topic)} has an empty level; kp1 levels are never empty`);
  }
  const [prefix, appVersion, extension, token, ...rest] = levels;
  // [1/KP] kp1 resource paths start with `kp1` and carry app version, extension and token.
  if (prefix !== PREFIX || appVersion === undefined || extension === undefined || token === undefined) {
    throw notFound(`${quote(topic)} is not a kp1 resource: expected kp1/{appVersion}/{extension}/{token}/{resource}`);
  }
  if (!APP_VERSION_NAME.test(appVersion)) {
    throw badRequest(`Malformed application version name ${quote(appVersion)}: expected [a-z0-9_-]+`);
  }
  // [kp1 §1] only the CEX and DCX extensions are served here; others are unknown (404).
  if (extension !== 'cex' && extension !== 'dcx') {
    throw notFound(`Unknown extension ${quote(extension)}: this server serves cex and dcx`);
  }
  checkToken(token);

  // Each resource has a fixed number of levels: cex `command|result/{type}` (2), dcx `json`
  // (1). One level more is the request id slot [kp1 §1]. Resolving by length first keeps a
  // numeric command type (`command/42`) a command type rather than a request id.
  const resourceLength = extension === 'cex' ? 2 : 1;
  let requestId: number | undefined;
  let resourceLevels = rest;
  if (rest.length === resourceLength + 1) {
    const last = rest[resourceLength] as string;
    if (!opts.allowRequestId) {
      throw notFound(`Unknown resource ${quote(rest.join('/'))} for ${extension} (request ids are MQTT-only)`);
    }
    if (!DIGITS.test(last)) {
      throw notFound(`Unknown resource ${quote(rest.join('/'))} for ${extension}`);
    }
    requestId = parseRequestId(last);
    resourceLevels = rest.slice(0, resourceLength);
  } else if (rest.length !== resourceLength) {
    throw notFound(`Unknown resource ${quote(rest.join('/'))} for ${extension}`);
  }

  const resource = resolveResource(extension, resourceLevels);
  const request: Kp1Request = {
    topic,
    appVersion,
    extension,
    token,
    resourcePath: resourceLevels.join('/'),
    resource,
  };
  if (requestId !== undefined) request.requestId = requestId;
  return request;
}

/**
 * Parses an HTTP request path `/kp1/{appVersion}/{extension}/{token}/{resourcePath}` [kp1 §1]
 * (no request id). The query string is not part of the path; if one is still attached it is
 * cut off at the first `?`. Each level is percent-decoded after splitting, so an encoded `/`
 * stays inside its level (and is then refused in a token). Throws like parseTopic, plus 400
 * for bad percent-encoding and 404 for a path that does not start with `/`.
 */
export function parseHttpPath(path: string): Kp1Request {
  const withoutQuery = path.split('?', 1)[0] as string;
  if (!withoutQuery.startsWith('/')) {
    throw notFound(`${quote(withoutQuery)} is not a kp1 path: expected /kp1/…`);
  }
  const levels = withoutQuery.slice(1).split('/').map((level) => {
    try {
      return decodeURIComponent(level);
    } catch {
      throw badRequest(`Malformed percent-encoding in path level ${quote(level)}`);
    }
  });
  // A decoded `/` would add a level if re-joined; the token check refuses it, and the other
  // levels are fixed words or patterns without `/`, so joining is faithful for every path
  // parseTopic accepts.
  if (levels.some((level) => level.includes('/'))) {
    throw badRequest('A path level contains an encoded "/"; kp1 levels never contain "/"');
  }
  return parseTopic(levels.join('/'), { allowRequestId: false });
}

/**
 * Whether a topic is a response rather than a request: its last level is `status` or
 * `error` [1/KP "Responses over MQTT MUST be published to … the request topic" + `/status`;
 * kp1 §1 `/error`] and it does not itself parse as a request. A request takes precedence
 * because `status` and `error` are legal command types (`…/command/status` asks for
 * `status` commands; its reply goes to `…/command/status/status`).
 *
 * (grammar) A device that publishes to a response topic gets no reply and changes nothing:
 * 1/KP lets clients publish responses, but this server never sends a device a request to
 * answer, and replying to a reply could loop between two parties that both answer errors.
 */
export function isResponseTopic(topic: string): boolean {
  const last = topic.slice(topic.lastIndexOf('/') + 1);
  if (last !== 'status' && last !== 'error') return false;
  try {
    parseTopic(topic, { allowRequestId: true });
    return false;
  } catch {
    return true;
  }
}

/**
 * The success reply topic: the request topic plus `/status`, only when the request carried a
 * request id [kp1 §1: "A success response is sent only when the request carried a request
 * id"]; undefined otherwise (send nothing).
 */
export function statusTopic(request: Pick<Kp1Request, 'topic' | 'requestId'>): string | undefined {
  return request.requestId === undefined ? undefined : `${request.topic}/status`;
}

/**
 * The error reply topic: the request topic as received plus `/error`, with or without a
 * request id [kp1 §1 (ours)]. Takes the raw topic because the request may have failed to
 * parse. Never call it for a response topic (see isResponseTopic).
 */
export function errorTopic(requestTopic: string): string {
  return `${requestTopic}/error`;
}

/** Where a command is pushed to a bound connection: no request id, `/status` [kp1 §2 Push]. */
export function pushTopic(appVersion: string, token: string, commandType: string): string {
  return `${PREFIX}/${appVersion}/cex/${token}/command/${commandType}/status`;
}

function checkToken(token: string): void {
  // [kp1 §1] tokens never contain `+ # / .`; length bounded (grammar, see MAX_TOKEN_LENGTH).
  if (token.length > MAX_TOKEN_LENGTH || !TOKEN.test(token)) {
    throw badRequest(
      `Malformed endpoint token ${quote(token)}: at most ${MAX_TOKEN_LENGTH} characters, none of "+#/." or whitespace`,
    );
  }
}

function parseRequestId(level: string): number {
  // [kp1 §1] positive integer 1 … 2^31-1, no leading zero; otherwise 400 [kp1 §4].
  const value = Number(level);
  if (level.startsWith('0') || value < 1 || value > MAX_REQUEST_ID) {
    throw badRequest(`Bad request id ${quote(level)}: expected an integer from 1 to ${MAX_REQUEST_ID} without leading zeros`);
  }
  return value;
}

function resolveResource(extension: Extension, levels: string[]): Kp1Resource {
  if (extension === 'dcx') {
    // [2/DCP] `/<endpoint_token>/json` is the only DCX resource served.
    if (levels[0] === 'json') return { kind: 'telemetry' };
    throw notFound(`Unknown resource ${quote(levels.join('/'))} for dcx: expected json`);
  }
  const [kind, commandType] = levels as [string, string];
  // [11/CEP] `/<endpoint_token>/command/<command_type>` and `/result/<command_type>`.
  if (kind !== 'command' && kind !== 'result') {
    throw notFound(`Unknown resource ${quote(levels.join('/'))} for cex: expected command/{type} or result/{type}`);
  }
  // [kp1 §1] command types `[A-Za-z0-9_-]+`; a bad one is 400 [kp1 §4].
  if (commandType.length > MAX_COMMAND_TYPE_LENGTH || !COMMAND_TYPE.test(commandType)) {
    throw badRequest(
      `Bad command type ${quote(commandType)}: expected 1 to ${MAX_COMMAND_TYPE_LENGTH} of A-Z a-z 0-9 _ -`,
    );
  }
  return { kind, commandType };
}

// ---------------------------------------------------------------------------------------------
// Subscriptions

/** The literal prefix a subscription filter is pinned to. */
export interface SubscriptionPin {
  appVersion: string;
  extension: Extension;
  token: string;
}

/**
 * The one endpoint token a SUBSCRIBE topic filter is pinned to, or null [kp1 §2 Push]: a
 * filter is accepted only as `kp1/{appVersion}/{cex|dcx}/{token}[/…]` with those four
 * levels literal and `+`/`#` only below the token (`kp1/app/cex/tok/#`,
 * `kp1/app/dcx/tok/json/+/status`). Everything else is null: `#`, `kp1/#`,
 * `kp1/+/cex/+/…`, `$SYS/#`, wildcards in the app version or extension, malformed filters
 * [MQTT-4.7.1-2, -3] (callers refuse them with SUBACK 0x80). The caller still checks that the
 * token is the connection's own and that the app version exists.
 */
export function subscriptionPin(filter: string): SubscriptionPin | null {
  if (!isValidFilter(filter)) return null;
  const [prefix, appVersion, extension, token] = filter.split('/');
  if (prefix !== PREFIX || appVersion === undefined || extension === undefined || token === undefined) {
    return null;
  }
  // Literal levels only: the pattern checks exclude `+` and `#` as well as malformed names.
  if (!APP_VERSION_NAME.test(appVersion)) return null;
  if (extension !== 'cex' && extension !== 'dcx') return null;
  if (token.length > MAX_TOKEN_LENGTH || !TOKEN.test(token)) return null;
  return { appVersion, extension, token };
}

/**
 * MQTT 3.1.1 topic filter matching: `+` matches exactly one level (possibly empty), `#` matches
 * the parent level and any number of children [MQTT-4.7.1-2, -3]; a filter starting with a
 * wildcard does not match topics starting with `$` [MQTT-4.7.2-1]. An invalid filter matches
 * nothing.
 */
export function topicMatches(filter: string, topic: string): boolean {
  if (!isValidFilter(filter)) return false;
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true; // `a/#` also matches `a` [MQTT-4.7.1-2]
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

function isValidFilter(filter: string): boolean {
  if (filter === '') return false; // [MQTT-4.7.3-1] at least one character
  const levels = filter.split('/');
  return levels.every((level, i) => {
    // [MQTT-4.7.1-2] `#` alone in its level and last; [MQTT-4.7.1-3] `+` alone in its level.
    if (level === '#') return i === levels.length - 1;
    if (level === '+') return true;
    return !level.includes('#') && !level.includes('+');
  });
}

// ---------------------------------------------------------------------------------------------
// Bodies

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
    throw badRequest(`A command request must be a JSON object such as {} or {"observe":true}, not ${describe(value)}`);
  }
  for (const key of Object.keys(value)) {
    if (key !== 'observe') {
      throw badRequest(`Unknown field ${quote(key)} in command request: only "observe" is allowed`);
    }
  }
  if (!('observe' in value)) return {};
  if (typeof value.observe !== 'boolean') {
    throw badRequest(`"observe" must be true or false, not ${describe(value.observe)}`);
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
    throw badRequest(`${where} must be an object like {"id":1,"statusCode":200}, not ${describe(item)}`);
  }
  for (const key of Object.keys(item)) {
    if (!RESULT_FIELDS.has(key)) {
      throw badRequest(`${where} has unknown field ${quote(key)}: allowed are id, statusCode, reasonPhrase, payload`);
    }
  }
  const { id, statusCode, reasonPhrase } = item;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 1) {
    throw badRequest(`${where}: "id" must be a positive integer, not ${describe(id)}`);
  }
  if (typeof statusCode !== 'number' || !Number.isInteger(statusCode) || statusCode < 100 || statusCode > 599) {
    throw badRequest(`${where}: "statusCode" must be an integer from 100 to 599, not ${describe(statusCode)}`);
  }
  const result: CommandResult = { id, statusCode };
  if ('reasonPhrase' in item) {
    if (typeof reasonPhrase !== 'string') {
      throw badRequest(`${where}: "reasonPhrase" must be a string, not ${describe(reasonPhrase)}`);
    }
    if (reasonPhrase.length > MAX_REASON_PHRASE_LENGTH) {
      throw badRequest(
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

// RFC 3339 profile of ISO-8601 (date, `T`/space, time, offset). Groups: y m d H M S fraction zone.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?([Zz]|[+-]\d{2}:?\d{2})$/;

function parseTimestamp(value: unknown, where: string): Date {
  if (typeof value === 'number') {
    const date = new Date(value); // ToIntegerOrInfinity: fractions cut toward zero
    if (Number.isFinite(value) && !Number.isNaN(date.getTime())) return date;
    throw badRequest(`${where}: "timestamp" ${value} is out of range for epoch milliseconds`);
  }
  if (typeof value === 'string') {
    const date = parseIsoDateTime(value);
    if (date) return date;
    throw badRequest(
      `${where}: "timestamp" ${quote(value)} is not an ISO-8601 date-time with a UTC offset, e.g. 2024-05-01T12:00:00Z`,
    );
  }
  throw badRequest(`${where}: "timestamp" must be epoch milliseconds or an ISO-8601 string, not ${describe(value)}`);
}

function parseIsoDateTime(text: string): Date | undefined {
  const match = DATE_TIME.exec(text);
  if (!match) return undefined;
  const [, y, mo, d, h, mi, s = '0', fraction = '', zone = 'Z'] = match;
  const year = Number(y);
  const month = Number(mo);
  const day = Number(d);
  const hour = Number(h);
  const minute = Number(mi);
  const second = Number(s);
  const ms = Number(fraction.slice(0, 3).padEnd(3, '0'));
  // Date.UTC rolls 2024-02-30 over to March; refuse impossible fields instead. Second 60
  // (a leap second) cannot be represented by Date, so it is refused too.
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month)) return undefined;
  if (hour > 23 || minute > 59 || second > 59) return undefined;
  let offsetMinutes = 0;
  if (zone !== 'Z' && zone !== 'z') {
    const digits = zone.replace(':', '');
    const offsetHours = Number(digits.slice(1, 3));
    const offsetMins = Number(digits.slice(3, 5));
    if (offsetHours > 23 || offsetMins > 59) return undefined;
    offsetMinutes = (zone.startsWith('-') ? -1 : 1) * (offsetHours * 60 + offsetMins);
  }
  // setUTCFullYear, not Date.UTC, which reads years 0–99 as 1900–1999.
  const date = new Date(0);
  date.setUTCFullYear(year, month - 1, day);
  date.setUTCHours(hour, minute, second, ms);
  const time = date.getTime() - offsetMinutes * 60_000;
  return Number.isNaN(time) || Math.abs(time) > MAX_DATE_MS ? undefined : new Date(time);
}

/** The ECMAScript Date range: ±8.64e15 ms around the epoch. */
const MAX_DATE_MS = 8.64e15;

function daysInMonth(year: number, month: number): number {
  if (month === 2) return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0 ? 29 : 28;
  return month === 4 || month === 6 || month === 9 || month === 11 ? 30 : 31;
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

// ---------------------------------------------------------------------------------------------
// Helpers

const utf8 = new TextDecoder('utf-8', { fatal: true });

function decodeUtf8(body: Body): string {
  if (typeof body === 'string') return body;
  // [11/CEP] requests are "UTF-8 encoded JSON"; invalid bytes are refused rather than
  // replaced with U+FFFD, which would store something the device never sent.
  try {
    return utf8.decode(body);
  } catch {
    throw badRequest('Body is not valid UTF-8');
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    const detail = error instanceof SyntaxError ? `: ${error.message}` : '';
    throw badRequest(text.trim() === '' ? 'Body is empty; expected JSON' : `Body is not valid JSON${detail}`);
  }
}

function checkBatchSize(count: number, what: string): void {
  if (count > MAX_BATCH_ITEMS) {
    throw payloadTooLarge(`Too many ${what} in one request: ${count}, at most ${MAX_BATCH_ITEMS}; split the batch`);
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** A JSON value named for a reason phrase: its type, and short scalars themselves. */
function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'object') return 'an object';
  if (typeof value === 'string') return `the string ${quote(value)}`;
  return `${typeof value} ${String(value)}`;
}

/** Device input echoed in a reason phrase: quoted and cut to keep phrases short. */
function quote(text: string): string {
  const max = 64;
  return JSON.stringify(text.length > max ? `${text.slice(0, max)}…` : text);
}
