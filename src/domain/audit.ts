// The audit trail: who did what to which thing, with what input. Every operator action records
// one entry with `recordAudit(tx, entries)` in the transaction that performs it, so an action
// never commits without its entry and a failed action leaves none (docs/api.md, "Audit trail").
// Services that do one write and had no transaction use `withAudit`. Reading: audit-log.ts.
import { createHash } from 'node:crypto';
import type { Db } from '../storage/db.ts';
import { unstorableText } from '../lib/json.ts';
import { insertAuditRows } from '../storage/audit-store.ts';
import type { Door, Invoker, Principal } from './types.ts';

/** Every action the trail records, with what it means (also the GraphQL enum's descriptions). */
export const AUDIT_ACTIONS = {
  COMMAND_INVOKED: 'A command was invoked (invokeCommand, or POST on the REST API).',
  COMMAND_RERUN: 'A command was re-run (rerunCommand).',
  COMMAND_CANCELED: 'A PENDING command was canceled (cancelCommand, or DELETE on the REST API).',
  COMMAND_SCHEMA_SET: "A command type's schema was set: a new schema version (setCommandSchema).",
  COMMAND_SCHEMA_REMOVED: "A command type's schema was removed (removeCommandSchema).",
  APPLICATION_CREATED: 'An application was created.',
  APPLICATION_VERSION_CREATED: 'An application version was created.',
  ENDPOINT_CREATED: 'An endpoint was created (its token is never recorded).',
  ENDPOINT_RENAMED: "An endpoint's display name was set or cleared.",
  ENDPOINT_TOKEN_ROTATED: "An endpoint's token was replaced (the token is never recorded).",
  ENDPOINT_CREDENTIALS_SET: "An endpoint's MQTT credentials were set (the username; never the password).",
  ENDPOINT_CREDENTIALS_CLEARED: "An endpoint's MQTT credentials were cleared.",
  ENDPOINT_REVOKED: 'An endpoint was revoked.',
  ENDPOINT_METADATA_CHANGED: "An operator changed an endpoint's metadata (devices' own changes are not recorded).",
  API_KEY_CREATED: 'An API key was created (never its secret); by the server itself for the first ADMIN key.',
  API_KEY_REVOKED: 'An API key was revoked.',
  BATCH_INVOKED: 'A batch of commands was invoked.',
  BATCH_CANCELED: "A batch's pending commands were canceled.",
  WEBHOOK_CREATED: 'A webhook was created (never its secret).',
  WEBHOOK_UPDATED: 'A webhook was changed.',
  WEBHOOK_DELETED: 'A webhook was deleted.',
  WEBHOOK_SECRET_ROTATED: "A webhook's signing secret was replaced (never the secret).",
  WEBHOOK_TESTED: 'A webhook was sent a test ping.',
  WEBHOOK_EVENT_REDELIVERED: 'A webhook event was queued for delivery again.',
  WEBHOOK_DISABLED: 'A webhook was disabled by the server after failing for its whole retry window (WEBHOOK_RETRY_FOR_MS, 24 hours by default).',
} as const;
export type AuditAction = keyof typeof AUDIT_ACTIONS;

export const AUDIT_TARGET_TYPES = {
  COMMAND: 'A command; the id is its integer id ("42").',
  APPLICATION: 'An application.',
  APPLICATION_VERSION: 'An application version (also the target of its command schema changes).',
  ENDPOINT: 'An endpoint.',
  API_KEY: 'An API key.',
  BATCH: 'A batch of commands.',
  WEBHOOK: 'A webhook.',
} as const;
export type AuditTargetType = keyof typeof AUDIT_TARGET_TYPES;

export interface AuditTarget {
  type: AuditTargetType;
  id: string;
}

export interface AuditEntry {
  /** The API key and door; null when the server itself acted (the first ADMIN key, a webhook it disabled). */
  actor: Invoker | null;
  action: AuditAction;
  target: AuditTarget;
  /**
   * What the action was given that matters to a reader, as JSON: never secrets, tokens,
   * passwords or key material. Values over MAX_INPUT_VALUE_BYTES are replaced (boundInput).
   */
  input?: Record<string, unknown>;
}

/** An entry as stored. */
export interface AuditRecord extends Omit<AuditEntry, 'input'> {
  id: number;
  at: Date;
  input: Record<string, unknown>;
}

/** The actor of an operator's request: its API key (id and name now) and the door it came through. */
export function byKey(principal: Principal, door: Door = 'GRAPHQL'): Invoker {
  return { door, apiKeyId: principal.keyId, name: principal.name };
}

/**
 * Appends entries in the caller's transaction, in one statement however many there are. Call it
 * with the transaction that performs the action, after the action's own writes succeeded.
 */
export async function recordAudit(tx: Db, entries: readonly AuditEntry[]): Promise<void> {
  await insertAuditRows(
    tx,
    entries.map((e) => ({
      actor: e.actor,
      action: e.action,
      targetType: e.target.type,
      targetId: e.target.id,
      input: boundInput(e.input ?? {}),
    })),
  );
}

/**
 * Runs a write and its audit entry in one transaction, for actions that had none: `entry` gets
 * the write's result and returns null when nothing happened (e.g. a name already taken).
 */
export async function withAudit<T>(db: Db, write: (tx: Db) => Promise<T>, entry: (result: T) => AuditEntry | null): Promise<T> {
  return db.transaction(async (tx) => {
    const result = await write(tx);
    const e = entry(result);
    if (e) await recordAudit(tx, [e]);
    return result;
  });
}

/** Largest input value kept as given, in bytes of JSON (a payload, a schema, metadata). */
export const MAX_INPUT_VALUE_BYTES = 8 * 1024;

// Callers never pass these; refusing them here too keeps a future mistake out of the trail.
const SECRET_KEYS = new Set(['token', 'secret', 'password', 'tokenHash', 'secretHash', 'passwordHash', 'apiKey']);

/**
 * The input as stored: top-level values over MAX_INPUT_VALUE_BYTES of JSON, and values jsonb
 * cannot hold (U+0000 or a lone surrogate, which a REST payload may carry into a json column),
 * become `{ truncated: true, bytes, sha256 }` (the hash of the JSON text, to match it to a copy);
 * keys that name a secret are dropped.
 */
export function boundInput(input: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    if (value === undefined || SECRET_KEYS.has(key)) continue;
    if (typeof value === 'string') {
      out[key] = value.length > MAX_INPUT_VALUE_BYTES / 3 || unstorableText(value) ? summary(JSON.stringify(value), value) : value;
    } else if (value === null || typeof value !== 'object') {
      out[key] = value;
    } else {
      const json = JSON.stringify(value);
      // A character is at most 3 bytes of UTF-8 (a surrogate pair, 2 characters, is 4).
      out[key] = json.length > MAX_INPUT_VALUE_BYTES / 3 || UNSTORABLE_ESCAPE.test(json) ? summary(json, value) : value;
    }
  }
  return out;
}

// How JSON.stringify writes U+0000 and lone surrogates (paired ones it writes as they are).
const UNSTORABLE_ESCAPE = /\\u(?:0000|d[89a-f][0-9a-f]{2})/;

/** The value itself when it fits after all (a cheap length check came first), else its summary. */
function summary(json: string, value: unknown): unknown {
  const bytes = Buffer.byteLength(json);
  if (bytes <= MAX_INPUT_VALUE_BYTES && !UNSTORABLE_ESCAPE.test(json)) return value;
  return { truncated: true, bytes, sha256: createHash('sha256').update(json).digest('hex') };
}
