// API keys and roles: ADMIN ⊃ OPERATOR ⊃ VIEWER (docs/api.md, "Authentication").
import type { Db } from '../storage/db.ts';
import * as keys from '../storage/api-key-store.ts';
import type { EventBus } from '../events/bus.ts';
import type { Logger } from '../logger.ts';
import { DomainError, badInput, notFound } from './errors.ts';
import { hashSecret, randomSecret } from './secrets.ts';
import type { ApiKey, ApiKeyRole, Principal } from './types.ts';
import { recordAudit, withAudit } from './audit.ts';
import { apiKeyCreatedAudit, apiKeyRevokedAudit } from './audit-entries.ts';

const RANK: Record<ApiKeyRole, number> = { VIEWER: 1, OPERATOR: 2, ADMIN: 3 };
const KEY_PREFIX = 'cex_';

export function authorize(actor: Principal | null, needed: ApiKeyRole): Principal {
  if (!actor) {
    throw new DomainError('UNAUTHENTICATED', 'Send a valid API key as "Authorization: Bearer <key>".');
  }
  if (RANK[actor.role] < RANK[needed]) {
    throw new DomainError('FORBIDDEN', `This needs the ${needed} role; the key "${actor.name}" has ${actor.role}.`);
  }
  return actor;
}

export class AuthService {
  private readonly adminKeyHash: string | undefined;

  constructor(
    private readonly db: Db,
    private readonly bus: EventBus,
    adminApiKey: string | undefined,
    private readonly log: Logger,
  ) {
    this.adminKeyHash = adminApiKey ? hashSecret(adminApiKey) : undefined;
  }

  /** The principal for an `Authorization` header value (or graphql-ws connection param), or null. */
  async authenticate(authorization: unknown): Promise<Principal | null> {
    if (typeof authorization !== 'string') return null;
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (!match) return null;
    const hash = hashSecret(match[1]!);
    if (hash === this.adminKeyHash) return { keyId: 'env:ADMIN_API_KEY', name: 'ADMIN_API_KEY', role: 'ADMIN' };
    const key = await keys.findActiveApiKeyByHash(this.db, hash);
    return key ? { keyId: key.id, name: key.name, role: key.role } : null;
  }

  async createApiKey(actor: Principal | null, name: string, role: ApiKeyRole): Promise<{ key: ApiKey; secret: string }> {
    const by = authorize(actor, 'ADMIN');
    const trimmed = name.trim();
    if (trimmed.length < 1 || trimmed.length > 100) throw badInput('An API key name must be 1 to 100 characters.');
    const secret = KEY_PREFIX + randomSecret(32);
    const key = await withAudit(
      this.db,
      (tx) => keys.insertApiKey(tx, { name: trimmed, role, secretHash: hashSecret(secret) }),
      (k) => apiKeyCreatedAudit(by, k),
    );
    this.log.info({ keyId: key.id, role, by: actor?.keyId }, 'API key created');
    return { key, secret };
  }

  /** The caller itself (the `viewer` query). */
  viewer(actor: Principal | null): Principal {
    return authorize(actor, 'VIEWER');
  }

  async listApiKeys(actor: Principal | null): Promise<ApiKey[]> {
    authorize(actor, 'ADMIN');
    return keys.listApiKeys(this.db);
  }

  async revokeApiKey(actor: Principal | null, id: string): Promise<boolean> {
    const by = authorize(actor, 'ADMIN');
    const revoked =
      isUuid(id) &&
      (await this.db.transaction(async (tx) => {
        if (!(await keys.revokeApiKey(tx, id))) return false;
        await recordAudit(tx, [apiKeyRevokedAudit(by, id)]);
        await this.bus.publish(tx, 'apiKeyRevoked', { keyId: id });
        return true;
      }));
    if (!revoked) throw notFound(`No active API key with id "${id}".`);
    this.log.info({ keyId: id, by: actor?.keyId }, 'API key revoked');
    return true;
  }

  /**
   * With ADMIN_API_KEY unset and no key stored yet, creates the first admin key and returns its
   * secret so the caller can print it once. Safe when several processes start together.
   */
  async bootstrap(): Promise<string | null> {
    if (this.adminKeyHash) return null;
    return this.db.transaction(async (tx) => {
      await keys.lockApiKeyBootstrap(tx);
      if ((await keys.countApiKeys(tx)) > 0) return null;
      const secret = KEY_PREFIX + randomSecret(32);
      const key = await keys.insertApiKey(tx, { name: 'bootstrap admin', role: 'ADMIN', secretHash: hashSecret(secret) });
      await recordAudit(tx, [apiKeyCreatedAudit(null, key)]);
      return secret;
    });
  }
}

export function isUuid(value: string): boolean {
  return /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);
}
