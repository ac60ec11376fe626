// Reading the audit trail (auditLog, ADMIN only): filtered by actor, action, target and time,
// newest first, keyset-paged by (at, id) so every page costs one short index walk.
import type { Db } from '../storage/db.ts';
import { listAuditRows } from '../storage/audit-store.ts';
import { AUDIT_ACTIONS, AUDIT_TARGET_TYPES, type AuditAction, type AuditRecord, type AuditTargetType } from './audit.ts';
import { authorize } from './auth.ts';
import { MAX_PAGE_SIZE } from './commands.ts';
import { badInput } from './errors.ts';
import type { Page } from './fleet.ts';
import type { Principal } from './types.ts';

export interface AuditLogInput {
  /** An API key id ("env:ADMIN_API_KEY" for the configured key). */
  actor?: string | null;
  action?: AuditAction | null;
  target?: { type: AuditTargetType; id?: string | null } | null;
  /** Inclusive. */
  from?: Date | null;
  /** Exclusive. */
  to?: Date | null;
  first?: number | null;
  after?: string | null;
}

export class AuditLogService {
  constructor(private readonly db: Db) {}

  async list(actor: Principal | null, input: AuditLogInput): Promise<Page<AuditRecord>> {
    authorize(actor, 'ADMIN');
    const first = input.first ?? 50;
    if (!Number.isInteger(first) || first < 0 || first > MAX_PAGE_SIZE) {
      throw badInput(`"first" must be from 0 to ${MAX_PAGE_SIZE}.`, { field: 'first' });
    }
    if (input.action != null && !(input.action in AUDIT_ACTIONS)) throw badInput(`Unknown action "${input.action}".`, { field: 'action' });
    if (input.target && !(input.target.type in AUDIT_TARGET_TYPES)) {
      throw badInput(`Unknown target type "${input.target.type}".`, { field: 'target' });
    }
    const rows = await listAuditRows(this.db, {
      actorKeyId: input.actor ?? undefined,
      action: input.action ?? undefined,
      targetType: input.target?.type,
      // Command ids are shown as strings of integers; a target id is compared as text, so "042" finds nothing.
      targetId: input.target?.id ?? undefined,
      from: input.from ?? undefined,
      to: input.to ?? undefined,
      before: input.after ? decodeAuditCursor(input.after) : undefined,
      limit: first + 1,
    });
    const items = rows.slice(0, first).map(
      (r): AuditRecord => ({
        id: r.id,
        at: r.at,
        actor: r.actor,
        action: r.action as AuditAction,
        target: { type: r.targetType as AuditTargetType, id: r.targetId },
        input: r.input,
      }),
    );
    return { items, hasNextPage: rows.length > first };
  }
}

// Cursors are opaque to clients; inside they name the last entry's position: its time and id.
export function encodeAuditCursor(entry: { at: Date; id: number }): string {
  return Buffer.from(`audit:${entry.at.getTime()}:${entry.id}`).toString('base64url');
}

function decodeAuditCursor(cursor: string): { at: Date; id: number } {
  const match = /^audit:(-?[0-9]{1,16}):([1-9][0-9]{0,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  const at = match ? new Date(Number(match[1])) : undefined;
  if (!match || !at || Number.isNaN(at.getTime())) {
    throw badInput(`"after" is not a cursor this API gave out: "${cursor}".`, { field: 'after' });
  }
  return { at, id: Number(match[2]) };
}
