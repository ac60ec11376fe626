// The audit entries of the webhook actions (docs/api.md, "Audit trail"). Inputs hold what the
// operator gave (url, events, filters, description, enabled); never the signing secret.
import { byKey, type AuditEntry } from '../domain/audit.ts';
import type { Principal } from '../domain/types.ts';
import type { WebhookChanges, WebhookInput } from './service.ts';

type WebhookAction = Extract<AuditEntry['action'], `WEBHOOK_${string}`>;

/** `actor` null: the server acted (it disables a webhook that failed for 24 h). */
export function webhookAudit(actor: Principal | null, action: WebhookAction, webhookId: string, input?: Record<string, unknown>): AuditEntry {
  return { actor: actor && byKey(actor), action, target: { type: 'WEBHOOK', id: webhookId }, input };
}

/** The settings given, picked one by one so that nothing else (a secret) can slip in. */
export function webhookSettings(given: WebhookInput | WebhookChanges): Record<string, unknown> {
  return {
    url: given.url,
    events: given.events,
    applicationVersion: given.applicationVersion,
    statusCodes: given.statusCodes,
    description: given.description,
    enabled: 'enabled' in given ? (given.enabled ?? undefined) : undefined,
  };
}
