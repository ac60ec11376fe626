// Applications, application versions and endpoints.
import type { Db } from '../storage/db.ts';
import * as store from '../storage/registry-store.ts';
import type { Logger } from '../logger.ts';
import { unstorableText } from '../lib/json.ts';
import { authorize, isUuid } from './auth.ts';
import { badInput, conflict, notFound } from './errors.ts';
import { checkName, checkToken } from './identifiers.ts';
import { hashPassword, hashSecret, randomSecret, verifyPassword } from './secrets.ts';
import type { EventBus } from '../events/bus.ts';
import { isUniqueViolation } from '../storage/db-errors.ts';
import type { Application, ApplicationVersion, Endpoint, Principal } from './types.ts';
import { LookupCache } from './lookup-cache.ts';
import { applyMetadataChanges, checkKeyList, checkMetadata, type Metadata, type MetadataChange } from './metadata.ts';
import { recordAudit, withAudit, type AuditEntry } from './audit.ts';
import * as audit from './audit-entries.ts';

/** How long an endpoint lookup is reused at most (events drop it sooner). */
const LOOKUP_TTL_MS = 2_000;

const MAX_ENDPOINT_NAME = 200;

const tokenInUse = () => conflict('That endpoint token is already in use; choose another or let the server generate one.');

// MQTT usernames: printable, no spaces; passwords: long enough to be worth hashing.
const USERNAME = /^[\x21-\x7e]{1,128}$/;
const MIN_PASSWORD = 8;
const MAX_PASSWORD = 256;

export class RegistryService {
  // Every invoke looks its endpoint up, and every device message its token: cached briefly,
  // dropped when the endpoint's access changes (revocation, credentials) in any process. Misses
  // are not remembered: an endpoint created a moment later, or a token provisioned on a device
  // before its endpoint existed, must be found at once.
  private readonly byId = new LookupCache<string, Endpoint | null>(LOOKUP_TTL_MS, { keepNull: false });
  private readonly byTokenHash = new LookupCache<string, { endpoint: Endpoint; version: ApplicationVersion } | null>(
    LOOKUP_TTL_MS,
    { keepNull: false },
  );

  constructor(
    private readonly db: Db,
    private readonly bus: EventBus,
    private readonly log: Logger,
  ) {
    bus.on('endpointAccessChanged', ({ endpointId }) => this.forget(endpointId));
  }

  async listApplications(actor: Principal | null): Promise<Application[]> {
    authorize(actor, 'VIEWER');
    return store.listApplications(this.db);
  }

  /** Versions of several applications at once, for GraphQL lists. */
  async versionsOf(applicationIds: string[]): Promise<ApplicationVersion[]> {
    return store.listVersionsOfApplications(this.db, applicationIds);
  }

  /** Applications, versions and endpoints by id, several at once (GraphQL's per-request loaders). */
  async applicationsByIds(ids: readonly string[]): Promise<Map<string, Application>> {
    return byId(await store.findApplicationsByIds(this.db, ids.filter(isUuid)));
  }

  async versionsByIds(ids: readonly string[]): Promise<Map<string, ApplicationVersion>> {
    return byId(await store.findVersionsByIds(this.db, ids.filter(isUuid)));
  }

  async endpointsByIds(ids: readonly string[]): Promise<Map<string, Endpoint>> {
    return byId(await store.findEndpointsByIds(this.db, ids.filter(isUuid)));
  }

  async createApplication(actor: Principal | null, name: string): Promise<Application> {
    const by = authorize(actor, 'OPERATOR');
    checkName('Application', name);
    const app = await withAudit(this.db, (tx) => store.insertApplication(tx, name), audit.applicationCreatedAudit(by));
    if (!app) throw conflict(`An application named "${name}" already exists.`);
    this.log.info({ applicationId: app.id, name, by: actor?.keyId }, 'application created');
    return app;
  }

  async createApplicationVersion(
    actor: Principal | null,
    applicationName: string,
    name: string,
  ): Promise<ApplicationVersion> {
    const by = authorize(actor, 'OPERATOR');
    checkName('Application version', name);
    const app = await store.findApplicationByName(this.db, applicationName);
    if (!app) throw notFound(`No application named "${applicationName}".`);
    const version = await withAudit(this.db, (tx) => store.insertApplicationVersion(tx, app.id, name), audit.versionCreatedAudit(by, app));
    if (!version) {
      throw conflict(`An application version named "${name}" already exists (names are unique server-wide).`);
    }
    this.log.info({ applicationVersionId: version.id, name, by: actor?.keyId }, 'application version created');
    return version;
  }

  /** applicationVersion(name): null when there is none. */
  async findVersion(actor: Principal | null, name: string): Promise<ApplicationVersion | null> {
    authorize(actor, 'VIEWER');
    return store.findVersionByName(this.db, name);
  }

  async versionByName(actor: Principal | null, name: string): Promise<ApplicationVersion> {
    authorize(actor, 'VIEWER');
    const version = await store.findVersionByName(this.db, name);
    if (!version) throw notFound(`No application version named "${name}".`);
    return version;
  }

  /** Creates an endpoint; the token (given or generated) is returned once and stored hashed. */
  async createEndpoint(
    actor: Principal | null,
    input: { applicationVersion: string; name?: string | null; token?: string | null },
  ): Promise<{ endpoint: Endpoint; token: string }> {
    const by = authorize(actor, 'OPERATOR');
    const name = input.name?.trim() || null;
    if (name && name.length > MAX_ENDPOINT_NAME) {
      throw badInput(`An endpoint name must be at most ${MAX_ENDPOINT_NAME} characters.`, { field: 'name' });
    }
    const token = checkToken(input.token ?? randomSecret(24));
    const version = await store.findVersionByName(this.db, input.applicationVersion);
    if (!version) throw notFound(`No application version named "${input.applicationVersion}".`);
    const endpoint = await withAudit(
      this.db,
      (tx) => store.insertEndpoint(tx, { applicationVersionId: version.id, name, tokenHash: hashSecret(token) }),
      audit.endpointCreatedAudit(by, version, input.token != null),
    );
    if (!endpoint) throw tokenInUse();
    this.log.info({ endpointId: endpoint.id, applicationVersionId: version.id, by: actor?.keyId }, 'endpoint created');
    return { endpoint, token };
  }

  async endpoint(actor: Principal | null, id: string): Promise<Endpoint | null> {
    authorize(actor, 'VIEWER');
    return this.endpointById(id);
  }

  async endpointById(id: string): Promise<Endpoint | null> {
    return isUuid(id) ? this.byId.get(id, () => store.findEndpointById(this.db, id)) : null;
  }

  /** A version by name, for device requests (the token, not a role, authorizes them). */
  async versionByNameUnchecked(name: string): Promise<ApplicationVersion | null> {
    return store.findVersionByName(this.db, name);
  }

  /**
   * Requires MQTT (and HTTP Basic) credentials with the endpoint's token from now on. Sessions
   * of the endpoint are disconnected, so they must come back with the credentials.
   */
  async setCredentials(actor: Principal | null, endpointId: string, username: string, password: string): Promise<Endpoint> {
    const by = authorize(actor, 'OPERATOR');
    if (!USERNAME.test(username)) {
      throw badInput('A username must be 1 to 128 printable characters without spaces.', { field: 'username' });
    }
    if (password.length < MIN_PASSWORD || password.length > MAX_PASSWORD) {
      throw badInput(`A password must be ${MIN_PASSWORD} to ${MAX_PASSWORD} characters.`, { field: 'password' });
    }
    await this.activeEndpoint(endpointId);
    const passwordHash = await hashPassword(password);
    const set = audit.endpointAccessAudit(by, 'ENDPOINT_CREDENTIALS_SET', endpointId, { username });
    const endpoint = await this.changeAccess(endpointId, set, async (tx) => {
      try {
        return await store.updateEndpointCredentials(tx, endpointId, { username, passwordHash });
      } catch (error) {
        if (isUniqueViolation(error)) throw conflict(`The username "${username}" is already used by another endpoint.`);
        throw error;
      }
    });
    this.log.info({ endpointId, by: actor?.keyId }, 'endpoint credentials set');
    return endpoint;
  }

  /** Stops requiring credentials (the token alone works again); disconnects the endpoint's sessions. */
  async clearCredentials(actor: Principal | null, endpointId: string): Promise<Endpoint> {
    const by = authorize(actor, 'OPERATOR');
    await this.activeEndpoint(endpointId);
    const cleared = audit.endpointAccessAudit(by, 'ENDPOINT_CREDENTIALS_CLEARED', endpointId);
    const endpoint = await this.changeAccess(endpointId, cleared, (tx) => store.updateEndpointCredentials(tx, endpointId, null));
    this.log.info({ endpointId, by: actor?.keyId }, 'endpoint credentials cleared');
    return endpoint;
  }

  /** The token stops working at once, and the endpoint's device sessions are disconnected. */
  async revokeEndpoint(actor: Principal | null, endpointId: string): Promise<Endpoint> {
    const by = authorize(actor, 'OPERATOR');
    await this.activeEndpoint(endpointId);
    const revoked = audit.endpointAccessAudit(by, 'ENDPOINT_REVOKED', endpointId);
    const endpoint = await this.changeAccess(endpointId, revoked, (tx) => store.revokeEndpoint(tx, endpointId));
    this.log.info({ endpointId, by: actor?.keyId }, 'endpoint revoked');
    return endpoint;
  }

  /** Sets or clears (null or blank) the display name; revoked endpoints may be renamed too. */
  async renameEndpoint(actor: Principal | null, endpointId: string, name: string | null | undefined): Promise<Endpoint> {
    const by = authorize(actor, 'OPERATOR');
    const trimmed = name?.trim() || null;
    if (trimmed && trimmed.length > MAX_ENDPOINT_NAME) {
      throw badInput(`An endpoint name must be at most ${MAX_ENDPOINT_NAME} characters.`, { field: 'name' });
    }
    const endpoint = isUuid(endpointId)
      ? await withAudit(this.db, (tx) => store.renameEndpoint(tx, endpointId, trimmed), audit.endpointRenamedAudit(by))
      : null;
    if (!endpoint) throw notFound(`No endpoint with id "${endpointId}".`);
    // Other processes may show the old name until their cached copy expires (LOOKUP_TTL_MS).
    this.byId.delete(endpointId);
    this.log.info({ endpointId, by: actor?.keyId }, 'endpoint renamed');
    return endpoint;
  }

  /**
   * Replaces the token (given or generated; returned once, stored hashed). Like a revocation,
   * the old token stops working at once in every process and the device sessions are closed.
   */
  async rotateToken(
    actor: Principal | null,
    endpointId: string,
    token: string | null | undefined,
  ): Promise<{ endpoint: Endpoint; token: string }> {
    const by = authorize(actor, 'OPERATOR');
    const secret = checkToken(token ?? randomSecret(24));
    await this.activeEndpoint(endpointId);
    const rotated = audit.endpointAccessAudit(by, 'ENDPOINT_TOKEN_ROTATED', endpointId, { tokenGiven: token != null });
    const endpoint = await this.changeAccess(endpointId, rotated, async (tx) => {
      try {
        return await store.replaceEndpointToken(tx, endpointId, hashSecret(secret));
      } catch (error) {
        if (isUniqueViolation(error)) throw tokenInUse();
        throw error;
      }
    });
    this.log.info({ endpointId, by: actor?.keyId }, 'endpoint token rotated');
    return { endpoint, token: secret };
  }

  /** Metadata of several endpoints at once (GraphQL's per-request loader); unknown ids are absent. */
  async metadataByIds(ids: readonly string[]): Promise<Map<string, Metadata>> {
    return store.findMetadata(this.db, ids.filter(isUuid));
  }

  /** One endpoint's metadata, for its device (the token authorized the request). */
  async metadataOf(endpointId: string): Promise<Metadata> {
    return (await this.metadataByIds([endpointId])).get(endpointId) ?? {};
  }

  /**
   * Applies 10/EPMP changes (replace, merge, delete keys) in order, atomically, and announces it
   * (endpointMetadataChanged). `actor` is null for the device itself; an operator needs OPERATOR.
   * The change must already be checked (epmx-bodies.ts, or updateMetadata below).
   */
  async changeMetadata(endpointId: string, changes: MetadataChange[], actor: Principal | null): Promise<Metadata> {
    const metadata = await this.db.transaction(async (tx) => {
      const current = isUuid(endpointId) ? await store.lockMetadata(tx, endpointId) : null;
      if (!current) throw notFound(`No endpoint with id "${endpointId}".`);
      const next = applyMetadataChanges(current, changes);
      await store.writeMetadata(tx, endpointId, next);
      if (actor) await recordAudit(tx, [audit.metadataChangedAudit(actor, endpointId, changes)]);
      await this.bus.publish(tx, 'endpointMetadataChanged', { endpointId });
      return next;
    });
    this.log.debug({ endpointId, changes: changes.map((c) => c.kind), by: actor?.keyId ?? 'device' }, 'endpoint metadata changed');
    return metadata;
  }

  /**
   * updateEndpointMetadata: `set` merged in (or, with `replace`, the whole metadata), then
   * `remove` deleted. Revoked endpoints may be edited too (like their name).
   */
  async updateMetadata(
    actor: Principal | null,
    endpointId: string,
    input: { set?: unknown; replace?: boolean | null; remove?: unknown },
  ): Promise<Endpoint> {
    authorize(actor, 'OPERATOR');
    const set = input.set == null ? undefined : checkMetadata(input.set, '"set"', { allowEmpty: true });
    const remove = input.remove == null ? [] : checkKeyList(input.remove, '"remove"', 0);
    const endpoint = await this.endpointById(endpointId);
    if (!endpoint) throw notFound(`No endpoint with id "${endpointId}".`);
    const changes: MetadataChange[] = [];
    if (input.replace) changes.push({ kind: 'replace', metadata: set ?? {} });
    else if (set) changes.push({ kind: 'merge', metadata: set });
    if (remove.length > 0) changes.push({ kind: 'delete', keys: remove });
    if (changes.length === 0) return endpoint;
    await this.changeMetadata(endpoint.id, changes, actor);
    this.log.info({ endpointId: endpoint.id, by: actor?.keyId }, 'endpoint metadata updated');
    return endpoint;
  }

  /** Whether the credentials are those of the endpoint (false when it has none). */
  async checkCredentials(endpointId: string, password: string): Promise<boolean> {
    const hash = await store.findEndpointPasswordHash(this.db, endpointId);
    return hash !== null && verifyPassword(password, hash);
  }

  /** The active endpoint whose MQTT credentials these are, or null. */
  async endpointByCredentials(username: string, password: string): Promise<Endpoint | null> {
    if (unstorableText(username)) return null; // no stored username has it; the database refuses NUL
    const found = await store.findActiveEndpointByUsername(this.db, username);
    return found && (await verifyPassword(password, found.passwordHash)) ? found.endpoint : null;
  }

  private async activeEndpoint(id: string): Promise<Endpoint> {
    const endpoint = await this.endpointById(id);
    if (!endpoint) throw notFound(`No endpoint with id "${id}".`);
    if (endpoint.revokedAt) throw badInput(`Endpoint "${id}" is revoked.`);
    return endpoint;
  }

  private async changeAccess(endpointId: string, entry: AuditEntry, change: (tx: Db) => Promise<Endpoint | null>): Promise<Endpoint> {
    const endpoint = await this.db.transaction(async (tx) => {
      const changed = await change(tx);
      // The caller checked that it exists and is active, and endpoints are never deleted: it was
      // revoked in the meantime (the changes apply to active endpoints only).
      if (!changed) throw badInput(`Endpoint "${endpointId}" is revoked.`);
      await recordAudit(tx, [entry]);
      await this.bus.publish(tx, 'endpointAccessChanged', { endpointId });
      return changed;
    });
    // Also dropped by the event, in every process; here at once, after the commit (a lookup
    // during the transaction could have cached the old row).
    this.forget(endpointId);
    return endpoint;
  }

  private forget(endpointId: string): void {
    this.byId.delete(endpointId);
    // Token hashes are not indexed by endpoint here; access changes are rare.
    this.byTokenHash.clear();
  }

  /** The active endpoint behind a device token, with its application version; null when unknown. */
  async endpointByToken(token: string): Promise<{ endpoint: Endpoint; version: ApplicationVersion } | null> {
    const hash = hashSecret(token);
    return this.byTokenHash.get(hash, () => store.findActiveEndpointByTokenHash(this.db, hash));
  }
}

function byId<T extends { id: string }>(rows: T[]): Map<string, T> {
  return new Map(rows.map((row) => [row.id, row]));
}
