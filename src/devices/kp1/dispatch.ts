// One kp1 dispatch for every transport: it turns a parsed request and its body into a reply.
// HTTP and MQTT adapters only translate bytes and sockets; every rule of kp1.md that needs
// storage (token, app version, outstanding commands, results, samples) is applied here.
import type { CommandService } from '../../domain/commands.ts';
import type { RegistryService } from '../../domain/registry.ts';
import type { TelemetryService } from '../../domain/telemetry.ts';
import type { MetadataChange } from '../../domain/metadata.ts';
import type { Endpoint } from '../../domain/types.ts';
import type { Logger } from '../../logger.ts';
import { formatAllCommands, formatCommands } from './bodies.ts';
import { formatMetadata } from './epmx-bodies.ts';
import { Kp1Failure, kp1ErrorOf, type Kp1Error } from './errors.ts';
import type { Kp1Request } from './grammar.ts';
import { RESOURCES, type BodyOf, type ResourceKind, type ResourceOf } from './resources.ts';

/** The device a valid token identified, and under which app version it spoke. */
export interface DeviceIdentity {
  endpoint: Endpoint;
  token: string;
  /** The app version named in the request topic (the one replies and pushes use). */
  appVersion: string;
}

/** What a resource handler answers. */
interface Handled {
  /** JSON text of the reply, or '' where kp1 sends an empty payload. */
  body: string;
  /** For command requests: the type asked for (undefined: all types) and the device's observe choice. */
  command?: { commandType: string | undefined; observe: boolean | undefined; outstanding: number; ids: number[] };
}

export type DispatchOutcome =
  | ({ ok: true; identity: DeviceIdentity } & Handled)
  | { ok: false; error: Kp1Error; identity?: DeviceIdentity };

/** One handler per kind of resources.ts; a kind without one does not compile. */
type Handlers = {
  [K in ResourceKind]: (endpointId: string, resource: ResourceOf<K>, body: BodyOf<K>, receivedAt: Date) => Promise<Handled>;
};

/** What a connection or request proved besides the token (kp1 itself has no other credentials). */
export interface DeviceCredentials {
  /** Endpoints the connection authenticated as (MQTT CONNECT username/password). */
  endpointIds?: ReadonlySet<string>;
  /** HTTP Basic credentials, checked against the endpoint's own. */
  basic?: { username: string; password: string };
}

export interface DispatchLimits {
  /** Largest request body accepted, in bytes (kp1.md §4: 413 above it). */
  maxBodyBytes: number;
  /** The DCX sample field read as its timestamp; '' for none (kp1.md §3). Default `timestamp`. */
  timestampField?: string;
  /** Whether MQTT errors of requests without a request id are published (kp1.md §1). Default `drop`. */
  errorsWithoutRequestId?: 'drop' | 'publish';
}

export class Kp1Dispatcher {
  constructor(
    private readonly registry: RegistryService,
    private readonly commands: CommandService,
    private readonly telemetry: TelemetryService,
    readonly limits: DispatchLimits,
    private readonly log: Logger,
    /** Told of every device that proved its token (Endpoint.lastSeenAt); must not block. */
    private readonly presence?: { seenNow(endpointId: string): void },
  ) {}

  /** Commands a door proved the device received (an HTTP reply written, an MQTT PUBACK). */
  delivered(commandIds: readonly number[], via: 'HTTP' | 'MQTT'): void {
    void this.commands.deliveries.delivered(commandIds, via);
  }

  /** Who a token belongs to, checked against the app version of the request (kp1.md §1, §4). */
  async identify(token: string, appVersion: string, credentials: DeviceCredentials = {}): Promise<DeviceIdentity> {
    const found = await this.registry.endpointByToken(token);
    if (!found) throw new Kp1Failure(401, 'Unknown or revoked endpoint token');
    // An endpoint with credentials accepts its token only together with them.
    const username = found.endpoint.mqttUsername;
    if (username !== null && !credentials.endpointIds?.has(found.endpoint.id)) {
      const basic = credentials.basic;
      const ok =
        basic !== undefined &&
        basic.username === username &&
        (await this.registry.checkCredentials(found.endpoint.id, basic.password));
      if (!ok) throw new Kp1Failure(401, 'This endpoint requires its credentials with the token');
    }
    if (found.version.name !== appVersion) {
      const named = await this.registry.versionByNameUnchecked(appVersion);
      if (!named) throw new Kp1Failure(404, `Unknown application version "${appVersion}"`);
      // A device may move between versions of its own application (a firmware upgrade);
      // another application's version is not its to use.
      if (named.applicationId !== found.version.applicationId) {
        throw new Kp1Failure(403, `The endpoint does not belong to the application of "${appVersion}"`);
      }
    }
    return { endpoint: found.endpoint, token, appVersion };
  }

  async dispatch(
    request: Kp1Request,
    body: Uint8Array,
    credentials: DeviceCredentials = {},
    receivedAt = new Date(),
  ): Promise<DispatchOutcome> {
    let identity: DeviceIdentity | undefined;
    try {
      identity = await this.identify(request.token, request.appVersion, credentials);
      this.presence?.seenNow(identity.endpoint.id);
      if (body.byteLength > this.limits.maxBodyBytes) {
        throw new Kp1Failure(413, `The payload is ${body.byteLength} bytes; the limit is ${this.limits.maxBodyBytes}`);
      }
      return { ok: true, identity, ...(await this.handle(identity.endpoint.id, request.resource, body, receivedAt)) };
    } catch (error) {
      return { ok: false, error: this.toKp1Error(error, request), identity };
    }
  }

  private readonly handlers: Handlers = {
    command: async (endpointId, { commandType }, { observe }) => {
      const outstanding = await this.commands.outstanding(endpointId, commandType);
      return {
        body: formatCommands(outstanding),
        command: { commandType, observe, outstanding: outstanding.length, ids: outstanding.map((c) => c.id) },
      };
    },
    commandAll: async (endpointId, _resource, { observe }) => {
      const outstanding = await this.commands.outstanding(endpointId);
      return {
        body: formatAllCommands(outstanding),
        command: { commandType: undefined, observe, outstanding: outstanding.length, ids: outstanding.map((c) => c.id) },
      };
    },
    result: async (endpointId, { commandType }, results) => {
      await this.commands.recordResults(endpointId, commandType, results);
      return { body: '' };
    },
    telemetry: async (endpointId, _resource, samples, receivedAt) => {
      await this.telemetry.record(
        endpointId,
        samples.map((s) => ({ ...s, receivedAt })),
      );
      return { body: '' };
    },
    metadataKeys: async (endpointId) => ({ body: JSON.stringify(Object.keys(await this.registry.metadataOf(endpointId))) }),
    metadataGet: async (endpointId, _resource, { keys }) => ({
      body: formatMetadata(await this.registry.metadataOf(endpointId), keys),
    }),
    metadataReplace: (endpointId, _resource, metadata) => this.changeMetadata(endpointId, { kind: 'replace', metadata }),
    metadataMerge: (endpointId, _resource, metadata) => this.changeMetadata(endpointId, { kind: 'merge', metadata }),
    metadataDelete: (endpointId, _resource, keys) => this.changeMetadata(endpointId, { kind: 'delete', keys }),
  };

  private async changeMetadata(endpointId: string, change: MetadataChange): Promise<Handled> {
    await this.registry.changeMetadata(endpointId, [change], null);
    return { body: '' };
  }

  /** Parses the body with the resource's row and runs the handler of its kind. */
  private handle<K extends ResourceKind>(endpointId: string, resource: ResourceOf<K>, body: Uint8Array, receivedAt: Date) {
    const kind: K = resource.kind;
    const timestampField = this.limits.timestampField ?? 'timestamp';
    const parsed = RESOURCES[kind].parseBody(body, { receivedAt, timestampField }) as BodyOf<K>;
    return this.handlers[kind](endpointId, resource, parsed, receivedAt);
  }

  private toKp1Error(error: unknown, request: Kp1Request): Kp1Error {
    const expected = kp1ErrorOf(error);
    if (expected) return expected;
    // Anything else is the server's trouble (the database, most likely), never the device's:
    // nothing was stored, and the device may retry.
    this.log.error(
      { err: error, appVersion: request.appVersion, resource: request.resourcePath },
      'kp1 request failed on the server side',
    );
    return { statusCode: 503, reasonPhrase: 'The server cannot store the request now; retry later' };
  }
}
