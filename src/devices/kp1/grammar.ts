// The kp1 grammar: topics and HTTP paths of Kaa Protocol v1 (CEX and DCX); bodies are in
// bodies.ts, the resources served in resources.ts.
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
import {
  COMMAND_TYPE_RULE,
  NAME_RULE,
  TOKEN_RULE,
  isValidCommandType,
  isValidName,
  isValidToken,
} from '../../domain/identifiers.ts';
import { Kp1Failure, quote } from './errors.ts';
import {
  COMMAND_TYPE_LEVEL,
  EXTENSIONS,
  RESOURCES,
  RESOURCE_KINDS,
  isExtension,
  type Extension,
  type Kp1Resource,
  type ResourceKind,
} from './resources.ts';

/** Longest request id, in digits [kp1 §1 (ours)]: 1/KP bounds it nowhere; ten digits hold
 *  every 32-bit id a client counter makes. */
const MAX_REQUEST_ID_DIGITS = 10;

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
  /** Exactly as sent (`007` stays `007`), since replies echo the request topic [kp1 §1]. */
  requestId?: string;
}

// [1/KP] "All KP resource paths start with `kp1`"; then app version, extension, token.
export const PREFIX = 'kp1';

const DIGITS = /^[0-9]+$/;

/**
 * Parses an MQTT topic, or an HTTP path already split off its leading `/`, into the request it
 * names, or throws a Kp1Failure:
 *
 * - 400: an empty level (no normalising of doubled, leading or trailing slashes [kp1 §1],
 *   [1/KP] "MQTT is sensitive to trailing/leading slashes"), a malformed app version name,
 *   token or command type, or a request id of more than 10 digits [kp1 §4].
 * - 404: not a kp1 topic, unknown extension, unknown resource [kp1 §4]. That includes a
 *   last level that is not a number where a request id would go (`json/abc`).
 *
 * [1/KP] "In case the last topic level in an MQTT topic is a positive integer number, it MUST
 * be interpreted as a Request ID." So a numeric last level is the request id whenever the levels
 * before it name a resource (`command/42` is the all-types command resource with request id 42),
 * and part of the resource path only otherwise (`result/42` is command type 42) [kp1 §1].
 * Kaa's HTTP API takes the same optional trailing request id, so HTTP paths parse alike.
 *
 * Response topics (…/status, …/error) are not requests: callers test isResponseTopic first.
 * Does not check that the app version, token or command exists: that needs storage.
 */
export function parseTopic(topic: string): Kp1Request {
  const levels = topic.split('/');
  // [kp1 §1] levels are exact: `a//b`, `a/` and `/a` are other topics, and malformed.
  if (levels.some((level) => level === '')) {
    throw new Kp1Failure(400, `Topic ${quote(topic)} has an empty level; kp1 levels are never empty`);
  }
  const [prefix, appVersion, extension, token, ...rest] = levels;
  // [1/KP] kp1 resource paths start with `kp1` and carry app version, extension and token.
  if (prefix !== PREFIX || appVersion === undefined || extension === undefined || token === undefined) {
    throw new Kp1Failure(
      404,
      `${quote(topic)} is not a kp1 resource: expected kp1/{appVersion}/{extension}/{token}/{resource}`,
    );
  }
  if (!isValidName(appVersion)) {
    throw new Kp1Failure(400, `Malformed application version name ${quote(appVersion)}: expected ${NAME_RULE}`);
  }
  // [kp1 §1] only the extensions of RESOURCES are served here; others are unknown (404).
  if (!isExtension(extension)) {
    throw new Kp1Failure(
      404,
      `Unknown extension ${quote(extension)}: this server serves ${[...EXTENSIONS].join(', ')}`,
    );
  }
  checkToken(token);

  const kinds = RESOURCE_KINDS.filter((kind) => RESOURCES[kind].extension === extension);
  const last = rest[rest.length - 1];
  let requestId: string | undefined;
  let resourceLevels = rest;
  if (last !== undefined && DIGITS.test(last) && matchKind(kinds, rest.slice(0, -1)) !== undefined) {
    if (last.length > MAX_REQUEST_ID_DIGITS) {
      throw new Kp1Failure(400, `Bad request id ${quote(last)}: at most ${MAX_REQUEST_ID_DIGITS} digits`);
    }
    requestId = last;
    resourceLevels = rest.slice(0, -1);
  }

  const resource = resolveResource(extension, kinds, resourceLevels);
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

/** Whether a topic that failed to parse still ends in a request id level (replies go there). */
export function endsWithRequestId(topic: string): boolean {
  return DIGITS.test(topic.slice(topic.lastIndexOf('/') + 1));
}

/**
 * Parses an HTTP request path `/kp1/{appVersion}/{extension}/{token}/{resourcePath}[/{requestId}]`
 * [kp1 §1]. The query string is not part of the path; if one is still attached it is
 * cut off at the first `?`. Each level is percent-decoded after splitting, so an encoded `/`
 * stays inside its level (and is then refused in a token). Throws like parseTopic, plus 400
 * for bad percent-encoding and 404 for a path that does not start with `/`.
 */
export function parseHttpPath(path: string): Kp1Request {
  const withoutQuery = path.split('?', 1)[0] as string;
  if (!withoutQuery.startsWith('/')) {
    throw new Kp1Failure(404, `${quote(withoutQuery)} is not a kp1 path: expected /kp1/…`);
  }
  const levels = withoutQuery.slice(1).split('/').map((level) => {
    try {
      return decodeURIComponent(level);
    } catch {
      throw new Kp1Failure(400, `Malformed percent-encoding in path level ${quote(level)}`);
    }
  });
  // A decoded `/` would add a level if re-joined; the token check refuses it, and the other
  // levels are fixed words or patterns without `/`, so joining is faithful for every path
  // parseTopic accepts.
  if (levels.some((level) => level.includes('/'))) {
    throw new Kp1Failure(400, 'A path level contains an encoded "/"; kp1 levels never contain "/"');
  }
  return parseTopic(levels.join('/'));
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
    parseTopic(topic);
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
 * The error reply topic: the request topic as received plus `/error` [1/KP "Error responses
 * over MQTT MUST be published to the topic constructed by appending `/error` suffix to the
 * request topic"]. Takes the raw topic because the request may have failed to parse. Whether
 * to send at all is the caller's (see requests.ts). Never call it for a response topic.
 */
export function errorTopic(requestTopic: string): string {
  return `${requestTopic}/error`;
}

/** Where a command is pushed to a bound connection: no request id, `/status` [kp1 §2 Push]. */
export function pushTopic(appVersion: string, token: string, commandType: string): string {
  return `${PREFIX}/${appVersion}/cex/${token}/command/${commandType}/status`;
}

/**
 * Where commands of any type are pushed to a connection that observes the all-types resource:
 * its request topic `…/command` plus `/status`, like a reply without request id [kp1 §2 Push].
 */
export function allTypesPushTopic(appVersion: string, token: string): string {
  return `${PREFIX}/${appVersion}/cex/${token}/command/status`;
}

function checkToken(token: string): void {
  if (!isValidToken(token)) {
    throw new Kp1Failure(400, `Malformed endpoint token ${quote(token)}: expected ${TOKEN_RULE}`);
  }
}

function matchKind(kinds: readonly ResourceKind[], levels: readonly string[]): ResourceKind | undefined {
  return kinds.find((k) => {
    const path: readonly string[] = RESOURCES[k].path;
    return path.length === levels.length && path.every((word, i) => word === COMMAND_TYPE_LEVEL || word === levels[i]);
  });
}

function resolveResource(extension: Extension, kinds: readonly ResourceKind[], levels: string[]): Kp1Resource {
  const kind = matchKind(kinds, levels);
  if (kind === undefined) {
    const expected = kinds.map((k) => RESOURCES[k].path.join('/').replace(COMMAND_TYPE_LEVEL, '{type}')).join(', ');
    throw new Kp1Failure(404, `Unknown resource ${quote(levels.join('/'))} for ${extension}: expected ${expected}`);
  }
  const typeLevel = (RESOURCES[kind].path as readonly string[]).indexOf(COMMAND_TYPE_LEVEL);
  if (typeLevel < 0) return { kind } as Kp1Resource;
  const commandType = levels[typeLevel] as string;
  // [kp1 §1] command types `[A-Za-z0-9_-]+`; a bad one is 400 [kp1 §4].
  if (!isValidCommandType(commandType)) {
    throw new Kp1Failure(400, `Bad command type ${quote(commandType)}: expected ${COMMAND_TYPE_RULE}`);
  }
  return { kind, commandType } as Kp1Resource;
}
