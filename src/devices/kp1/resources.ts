// The kp1 resources this server serves, one row each: the topic/path parser (grammar.ts)
// resolves requests against the rows, and the dispatcher parses the body with the row's parser
// and runs the handler of the row's kind. Adding a resource is adding a row (and, for a new kind,
// its handler in dispatch.ts, which does not compile without it).
import { parseCommandRequest, parseResults, parseSamples, type Body } from './bodies.ts';
import { ignoreBody, parseDeleteRequest, parseGetRequest, parseUpdateRequest } from './epmx-bodies.ts';

/** A path level that carries the command type rather than a fixed word [kp1 §1]. */
export const COMMAND_TYPE_LEVEL = '{commandType}';

interface ResourceRow {
  /** The kp1 extension the resource belongs to [kp1 §1]. */
  extension: string;
  /** The resource path after the token: fixed words and parameter levels. */
  path: readonly string[];
  parseBody(body: Body, context: BodyContext): unknown;
}

/** What a body parser may need besides the bytes. */
export interface BodyContext {
  receivedAt: Date;
  /** The DCX sample field read as its timestamp; '' for none [kp1 §3]. */
  timestampField: string;
}

/** Rows keyed by handler kind. */
export const RESOURCES = {
  // [11/CEP] `/<endpoint_token>/command/<command_type>`
  command: { extension: 'cex', path: ['command', COMMAND_TYPE_LEVEL], parseBody: parseCommandRequest },
  // [11/CEP] "The server MAY support subscribing to all command types by accepting requests at
  // `/<endpoint_token>/command` resource path."
  commandAll: { extension: 'cex', path: ['command'], parseBody: parseCommandRequest },
  // [11/CEP] `/<endpoint_token>/result/<command_type>`
  result: { extension: 'cex', path: ['result', COMMAND_TYPE_LEVEL], parseBody: parseResults },
  // [2/DCP] `/<endpoint_token>/json`
  telemetry: {
    extension: 'dcx',
    path: ['json'],
    parseBody: (body: Body, c: BodyContext) => parseSamples(body, c.receivedAt, c.timestampField),
  },
  // [10/EPMP] `/<endpoint_token>/get/keys`, `/get`, `/update`, `/update/keys`, `/delete/keys`
  metadataKeys: { extension: 'epmx', path: ['get', 'keys'], parseBody: ignoreBody },
  metadataGet: { extension: 'epmx', path: ['get'], parseBody: parseGetRequest },
  metadataReplace: { extension: 'epmx', path: ['update'], parseBody: parseUpdateRequest },
  metadataMerge: { extension: 'epmx', path: ['update', 'keys'], parseBody: parseUpdateRequest },
  metadataDelete: { extension: 'epmx', path: ['delete', 'keys'], parseBody: parseDeleteRequest },
} as const satisfies Record<string, ResourceRow>;

type Resources = typeof RESOURCES;
export type ResourceKind = keyof Resources;
export type Extension = Resources[ResourceKind]['extension'];

/** What a request asks for, resolved from its resource path. */
export type Kp1Resource = {
  [K in ResourceKind]: typeof COMMAND_TYPE_LEVEL extends Resources[K]['path'][number]
    ? { kind: K; commandType: string }
    : { kind: K };
}[ResourceKind];

/** The resource of one kind. */
export type ResourceOf<K extends ResourceKind> = Extract<Kp1Resource, { kind: K }>;

/** What the row's body parser returns. */
export type BodyOf<K extends ResourceKind> = ReturnType<Resources[K]['parseBody']>;

export const RESOURCE_KINDS = Object.keys(RESOURCES) as ResourceKind[];

export const EXTENSIONS: ReadonlySet<string> = new Set(RESOURCE_KINDS.map((kind) => RESOURCES[kind].extension));

export function isExtension(value: string): value is Extension {
  return EXTENSIONS.has(value);
}
