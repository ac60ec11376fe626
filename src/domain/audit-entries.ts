// The audit entry of each operator action of this service, in one place, so what each entry's
// input holds can be read (and checked for secrets: none) at a glance. docs/api.md lists them.
import type { AuditEntry } from './audit.ts';
import { byKey } from './audit.ts';
import type { NewCommand } from './command-inserts.ts';
import type { MetadataChange } from './metadata.ts';
import type { ApiKey, Application, ApplicationVersion, Command, Endpoint, Invoker, Principal } from './types.ts';

/** One entry per command a group commit created (replays of an idempotency key create none). */
export function commandsCreatedAudit(created: readonly NewCommand[], inserted: readonly Command[]): AuditEntry[] {
  return inserted.map((command, n) => {
    const c = created[n]!;
    return {
      actor: c.invokedBy,
      action: c.rerunOf === null ? 'COMMAND_INVOKED' : 'COMMAND_RERUN',
      target: { type: 'COMMAND', id: String(command.id) },
      input: {
        endpointId: c.endpointId,
        commandType: c.commandType,
        ...(c.rerunOf === null ? { payload: c.payload ?? null } : { rerunOf: String(c.rerunOf) }),
        retentionSeconds: c.retentionSeconds,
        schemaVersion: c.schemaVersion ?? undefined,
        idempotencyKey: c.claim?.key,
      },
    };
  });
}

export function commandCanceledAudit(by: Invoker, command: Command): AuditEntry {
  return {
    actor: by,
    action: 'COMMAND_CANCELED',
    target: { type: 'COMMAND', id: String(command.id) },
    input: { endpointId: command.endpointId, commandType: command.commandType },
  };
}

export function commandSchemaAudit(
  actor: Principal,
  version: ApplicationVersion,
  change: { commandType: string; version: number; schema: Record<string, unknown> | null },
): AuditEntry {
  return {
    actor: byKey(actor),
    action: change.schema ? 'COMMAND_SCHEMA_SET' : 'COMMAND_SCHEMA_REMOVED',
    target: { type: 'APPLICATION_VERSION', id: version.id },
    input: {
      applicationVersion: version.name,
      commandType: change.commandType,
      version: change.version,
      schema: change.schema ?? undefined,
    },
  };
}

export const applicationCreatedAudit =
  (actor: Principal) =>
  (app: Application | null): AuditEntry | null =>
    app && {
      actor: byKey(actor),
      action: 'APPLICATION_CREATED',
      target: { type: 'APPLICATION', id: app.id },
      input: { name: app.name },
    };

export const versionCreatedAudit =
  (actor: Principal, application: Application) =>
  (version: ApplicationVersion | null): AuditEntry | null =>
    version && {
      actor: byKey(actor),
      action: 'APPLICATION_VERSION_CREATED',
      target: { type: 'APPLICATION_VERSION', id: version.id },
      input: { name: version.name, application: application.name, applicationId: application.id },
    };

/** `tokenGiven`: whether the operator chose the token (it is never recorded) or the server generated it. */
export const endpointCreatedAudit =
  (actor: Principal, version: ApplicationVersion, tokenGiven: boolean) =>
  (endpoint: Endpoint | null): AuditEntry | null =>
    endpoint && {
      actor: byKey(actor),
      action: 'ENDPOINT_CREATED',
      target: { type: 'ENDPOINT', id: endpoint.id },
      input: { applicationVersion: version.name, name: endpoint.name, tokenGiven },
    };

export const endpointRenamedAudit =
  (actor: Principal) =>
  (endpoint: Endpoint | null): AuditEntry | null =>
    endpoint && {
      actor: byKey(actor),
      action: 'ENDPOINT_RENAMED',
      target: { type: 'ENDPOINT', id: endpoint.id },
      input: { name: endpoint.name },
    };

/** Token rotation, credentials set or cleared, revocation: the changes to how a device gets in. */
export function endpointAccessAudit(
  actor: Principal,
  action: 'ENDPOINT_TOKEN_ROTATED' | 'ENDPOINT_CREDENTIALS_SET' | 'ENDPOINT_CREDENTIALS_CLEARED' | 'ENDPOINT_REVOKED',
  endpointId: string,
  input: { username?: string; tokenGiven?: boolean } = {},
): AuditEntry {
  return { actor: byKey(actor), action, target: { type: 'ENDPOINT', id: endpointId }, input };
}

export function metadataChangedAudit(actor: Principal, endpointId: string, changes: readonly MetadataChange[]): AuditEntry {
  const input: Record<string, unknown> = {};
  for (const change of changes) {
    if (change.kind === 'delete') input['remove'] = change.keys;
    else {
      input['set'] = change.metadata;
      input['replace'] = change.kind === 'replace';
    }
  }
  return { actor: byKey(actor), action: 'ENDPOINT_METADATA_CHANGED', target: { type: 'ENDPOINT', id: endpointId }, input };
}

/** `actor` null: the server created the first ADMIN key itself. */
export function apiKeyCreatedAudit(actor: Principal | null, key: ApiKey): AuditEntry {
  return {
    actor: actor && byKey(actor),
    action: 'API_KEY_CREATED',
    target: { type: 'API_KEY', id: key.id },
    input: { name: key.name, role: key.role },
  };
}

export function apiKeyRevokedAudit(actor: Principal, keyId: string): AuditEntry {
  return { actor: byKey(actor), action: 'API_KEY_REVOKED', target: { type: 'API_KEY', id: keyId } };
}
