// One kp1 dispatch for every transport: it turns a parsed request and its body into a reply.
// HTTP and MQTT adapters only translate bytes and sockets; every rule of kp1.md that needs
// storage (token, app version, outstanding commands, results, samples) is applied here.
import type { CommandService } from '../../domain/commands.ts';
import { DomainError } from '../../domain/errors.ts';
import type { RegistryService } from '../../domain/registry.ts';
import type { TelemetryService } from '../../domain/telemetry.ts';
import type { Endpoint } from '../../domain/types.ts';
import type { Logger } from '../../logger.ts';
import {
  Kp1Failure,
  formatCommands,
  parseCommandRequest,
  parseResults,
  parseSamples,
  type Kp1Error,
  type Kp1Request,
} from './grammar.ts';

/** The device a valid token identified, and under which app version it spoke. */
export interface DeviceIdentity {
  endpoint: Endpoint;
  token: string;
  /** The app version named in the request topic (the one replies and pushes use). */
  appVersion: string;
}

export type DispatchOutcome =
  | {
      ok: true;
      identity: DeviceIdentity;
      /** JSON text of the reply, or '' where kp1 sends an empty payload. */
      body: string;
      /** For command requests: the type asked for and the device's observe choice. */
      command?: { commandType: string; observe: boolean | undefined; outstanding: number };
    }
  | { ok: false; error: Kp1Error; identity?: DeviceIdentity };

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
}

export class Kp1Dispatcher {
  constructor(
    private readonly registry: RegistryService,
    private readonly commands: CommandService,
    private readonly telemetry: TelemetryService,
    private readonly limits: DispatchLimits,
    private readonly log: Logger,
    /** Told of every device that proved its token (Endpoint.lastSeenAt); must not block. */
    private readonly presence?: { seenNow(endpointId: string): void },
  ) {}

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
      const endpointId = identity.endpoint.id;
      const resource = request.resource;
      switch (resource.kind) {
        case 'command': {
          const { observe } = parseCommandRequest(body);
          const outstanding = await this.commands.outstanding(endpointId, resource.commandType);
          return {
            ok: true,
            identity,
            body: formatCommands(outstanding),
            command: { commandType: resource.commandType, observe, outstanding: outstanding.length },
          };
        }
        case 'result': {
          const results = parseResults(body);
          await this.commands.recordResults(endpointId, resource.commandType, results);
          return { ok: true, identity, body: '' };
        }
        case 'telemetry': {
          const samples = parseSamples(body, receivedAt);
          await this.telemetry.record(
            endpointId,
            samples.map((s) => ({ ...s, receivedAt })),
          );
          return { ok: true, identity, body: '' };
        }
      }
    } catch (error) {
      return { ok: false, error: this.toKp1Error(error, request), identity };
    }
  }

  private toKp1Error(error: unknown, request: Kp1Request): Kp1Error {
    if (error instanceof Kp1Failure) return error.error;
    if (error instanceof DomainError) {
      if (error.code === 'NOT_FOUND') return { statusCode: 404, reasonPhrase: error.message };
      if (error.code === 'BAD_USER_INPUT') return { statusCode: 400, reasonPhrase: error.message };
    }
    // Anything else is the server's trouble (the database, most likely), never the device's:
    // nothing was stored, and the device may retry.
    this.log.error(
      { err: error, appVersion: request.appVersion, resource: request.resourcePath },
      'kp1 request failed on the server side',
    );
    return { statusCode: 503, reasonPhrase: 'The server cannot store the request now; retry later' };
  }
}
