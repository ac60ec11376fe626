// Drizzle table definitions. Migrations in drizzle/ are generated from this file
// (`npm run db:generate`) and applied at start; never edit a migration after it landed.
import { sql } from 'drizzle-orm';
import {
  type AnyPgColumn,
  bigint,
  check,
  customType,
  index,
  integer,
  jsonb,
  pgEnum,
  pgTable,
  primaryKey,
  text,
  timestamp,
  uniqueIndex,
  uuid,
} from 'drizzle-orm/pg-core';
import { API_KEY_ROLES, COMMAND_STATUSES } from '../domain/types.ts';

const ts = (name: string) => timestamp(name, { withTimezone: true, mode: 'date' });

/**
 * A json column read as the driver parsed it. Both drivers parse json themselves, and drizzle's
 * json column parses a string value once more, so a payload that is a JSON string holding JSON
 * text ("42", "true", "[1]") came back as the number, boolean or array.
 */
const json = customType<{ data: unknown; driverData: unknown }>({
  dataType: () => 'json',
  toDriver: (value) => JSON.stringify(value),
  fromDriver: (value) => value,
});

export const commandStatus = pgEnum('command_status', COMMAND_STATUSES);
export const apiKeyRole = pgEnum('api_key_role', API_KEY_ROLES);

export const applications = pgTable('applications', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull().unique(),
  createdAt: ts('created_at').notNull().defaultNow(),
});

export const applicationVersions = pgTable(
  'application_versions',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    applicationId: uuid('application_id')
      .notNull()
      .references(() => applications.id),
    // Unique server-wide: the name is what devices put in kp1 topics.
    name: text('name').notNull().unique(),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [index('application_versions_application_idx').on(t.applicationId)],
);

export const endpoints = pgTable(
  'endpoints',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    applicationVersionId: uuid('application_version_id')
      .notNull()
      .references(() => applicationVersions.id),
    name: text('name'),
    // SHA-256 of the token, hex. The token itself is shown once and never stored.
    tokenHash: text('token_hash').notNull().unique(),
    // Optional MQTT credentials: when set, the token is only accepted from a connection that
    // authenticated with them. The password is stored as a scrypt hash.
    mqttUsername: text('mqtt_username').unique(),
    mqttPasswordHash: text('mqtt_password_hash'),
    createdAt: ts('created_at').notNull().defaultNow(),
    revokedAt: ts('revoked_at'),
    // Last kp1 request or MQTT binding; written at most every 30 s per endpoint (see presence.ts).
    lastSeenAt: ts('last_seen_at'),
    // 10/EPMP key-value pairs, written by the device (kp1 epmx) and by operators.
    metadata: jsonb('metadata').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [
    index('endpoints_application_version_idx').on(t.applicationVersionId),
    // endpoints(metadata:) filters by containment (@>), which jsonb_path_ops serves.
    index('endpoints_metadata_idx').using('gin', sql`${t.metadata} jsonb_path_ops`),
    // The endpoints page: by name then id, keyset-paged.
    index('endpoints_name_idx').on(t.name, t.id),
  ],
);

export const apiKeys = pgTable('api_keys', {
  id: uuid('id').primaryKey().defaultRandom(),
  name: text('name').notNull(),
  role: apiKeyRole('role').notNull(),
  secretHash: text('secret_hash').notNull().unique(),
  createdAt: ts('created_at').notNull().defaultNow(),
  revokedAt: ts('revoked_at'),
});

export const commands = pgTable(
  'commands',
  {
    // The integer id devices see in kp1 and echo back in results.
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => endpoints.id),
    // The endpoint's (which never changes), copied so the fleet history pages by version and
    // application through an index instead of scanning every command.
    applicationVersionId: uuid('application_version_id')
      .notNull()
      .references(() => applicationVersions.id),
    commandType: text('command_type').notNull(),
    // json, not jsonb: the payload is delivered exactly as composed, key order included.
    payload: json('payload'),
    status: commandStatus('status').notNull().default('PENDING'),
    statusCode: integer('status_code'),
    reasonPhrase: text('reason_phrase'),
    resultPayload: json('result_payload'),
    createdAt: ts('created_at').notNull().defaultNow(),
    updatedAt: ts('updated_at').notNull().defaultNow(),
    expiresAt: ts('expires_at').notNull(),
    executedAt: ts('executed_at'),
    rerunOf: bigint('rerun_of', { mode: 'number' }).references((): AnyPgColumn => commands.id),
    // The command schema version the payload was checked against, when the type had one.
    schemaVersion: integer('schema_version'),
    // The API key (text: the ADMIN_API_KEY key has no row) and its name then, and the door.
    invokedByKeyId: text('invoked_by_key_id'),
    invokedByName: text('invoked_by_name'),
    invokedVia: text('invoked_via'),
    canceledAt: ts('canceled_at'),
    canceledByKeyId: text('canceled_by_key_id'),
    canceledByName: text('canceled_by_name'),
    canceledVia: text('canceled_via'),
    // The bulk invoke (invokeCommands) that created it, if any.
    batchId: uuid('batch_id').references((): AnyPgColumn => commandBatches.id),
    // Kept when a late result makes an EXPIRED command EXECUTED, so history shows both facts.
    expiredAt: ts('expired_at'),
    // The delivery timeline: the first proven delivery (an HTTP reply fully written, or the
    // PUBACK of an MQTT push), set once by coalesce; every delivery counts.
    deliveredAt: ts('delivered_at'),
    deliveryCount: integer('delivery_count').notNull().default(0),
    lastDeliveredVia: text('last_delivered_via'),
  },
  (t) => [
    // Indexes for "newest first" are ascending, read backwards: drizzle's .desc() makes
    // DESC NULLS LAST, which cannot serve ORDER BY … DESC (NULLS FIRST), so the planner used
    // to walk the primary key and filter instead.
    // commandHistory: newest first per endpoint.
    index('commands_endpoint_id_idx').on(t.endpointId, t.id),
    // The fleet history filtered by application version (or application: one scan per version).
    index('commands_application_version_id_idx').on(t.applicationVersionId, t.id),
    // Device polls and pushes: outstanding commands of one type for one endpoint.
    index('commands_outstanding_idx')
      .on(t.endpointId, t.commandType, t.id)
      .where(sql`${t.status} = 'PENDING'`),
    // The expiry sweeper.
    index('commands_pending_expiry_idx').on(t.expiresAt).where(sql`${t.status} = 'PENDING'`),
    check(
      'commands_executed_has_code',
      sql`${t.status} <> 'EXECUTED' OR (${t.statusCode} IS NOT NULL AND ${t.executedAt} IS NOT NULL)`,
    ),
    // A late result turns CANCELED into EXECUTED and keeps canceled_at, so only this direction
    // holds. Compared as text: a new enum value cannot be used in the migration that adds it.
    check('commands_canceled_has_time', sql`${t.status}::text <> 'CANCELED' OR ${t.canceledAt} IS NOT NULL`),
    // A batch's commands and their counts (aggregated from the rows, never kept as counters).
    index('commands_batch_idx').on(t.batchId, t.id).where(sql`${t.batchId} IS NOT NULL`),
    // History filtered by delivered / not delivered (PENDING only), per endpoint and per version:
    // the PENDING rows newest first, delivered_at checked on each. No index names delivered_at,
    // so recording a delivery can be a HOT update that writes no index entry.
    index('commands_pending_idx').on(t.endpointId, t.id).where(sql`${t.status} = 'PENDING'`),
    index('commands_version_pending_idx').on(t.applicationVersionId, t.id).where(sql`${t.status} = 'PENDING'`),
    // Whether a batch has anything PENDING left (domain/batch-finish.ts): one probe, not a scan of its rows.
    index('commands_batch_pending_idx').on(t.batchId).where(sql`${t.batchId} IS NOT NULL AND ${t.status} = 'PENDING'`),
  ],
);

export const telemetrySamples = pgTable(
  'telemetry_samples',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => endpoints.id),
    timestamp: ts('timestamp').notNull(),
    receivedAt: ts('received_at').notNull().defaultNow(),
    data: jsonb('data').notNull(),
  },
  // Ascending, read backwards for "latest first" (see the commands indexes).
  (t) => [index('telemetry_endpoint_time_idx').on(t.endpointId, t.timestamp, t.id)],
);

export const commandSchemas = pgTable(
  'command_schemas',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    applicationVersionId: uuid('application_version_id')
      .notNull()
      .references(() => applicationVersions.id),
    commandType: text('command_type').notNull(),
    version: integer('version').notNull(),
    // null marks a removal: the type accepts any JSON again from this version on. json, not
    // jsonb: the author's key order is kept (editor text, form field order).
    schema: json('schema'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [uniqueIndex('command_schemas_version_idx').on(t.applicationVersionId, t.commandType, t.version)],
);

// Idempotency keys: one row per (API key, key) claims the key for 24 h. The primary key decides
// between concurrent requests; the row is written in the transaction that writes what it names
// (a command now; a batch later gets its own column).
export const idempotencyKeys = pgTable(
  'idempotency_keys',
  {
    apiKeyId: text('api_key_id').notNull(),
    key: text('key').notNull(),
    // SHA-256 of the operation and its normalized input, hex.
    requestHash: text('request_hash').notNull(),
    commandId: bigint('command_id', { mode: 'number' }).references(() => commands.id),
    createdAt: ts('created_at').notNull().defaultNow(),
    batchId: uuid('batch_id').references((): AnyPgColumn => commandBatches.id),
  },
  (t) => [primaryKey({ columns: [t.apiKeyId, t.key] }), index('idempotency_keys_created_idx').on(t.createdAt)],
);

// Presence: which server processes are alive (each refreshes its heartbeat) and which endpoints
// each holds an MQTT session for. An endpoint is connected while a session row of a live
// instance exists; a crashed process's rows go when another process finds its heartbeat stale.
export const serverInstances = pgTable('server_instances', {
  id: uuid('id').primaryKey(),
  startedAt: ts('started_at').notNull().defaultNow(),
  heartbeatAt: ts('heartbeat_at').notNull().defaultNow(),
});

export const endpointSessions = pgTable(
  'endpoint_sessions',
  {
    instanceId: uuid('instance_id')
      .notNull()
      .references(() => serverInstances.id, { onDelete: 'cascade' }),
    endpointId: uuid('endpoint_id')
      .notNull()
      .references(() => endpoints.id, { onDelete: 'cascade' }),
    since: ts('since').notNull().defaultNow(),
  },
  (t) => [primaryKey({ columns: [t.instanceId, t.endpointId] }), index('endpoint_sessions_endpoint_idx').on(t.endpointId)],
);

// Bulk invokes (invokeCommands): one row per batch; its commands point back with batch_id.
export const commandBatches = pgTable(
  'command_batches',
  {
    id: uuid('id').primaryKey().defaultRandom(),
    commandType: text('command_type').notNull(),
    // The payload as the operator gave it; each command holds it as composed for its version.
    payload: json('payload'),
    // { kind, applicationVersion?, application?, search?, requested }
    target: jsonb('target').notNull(),
    createdByKeyId: text('created_by_key_id').notNull(),
    createdByName: text('created_by_name').notNull(),
    createdVia: text('created_via').notNull(),
    // Milliseconds, as JavaScript dates hold them: the list's cursor compares it exactly.
    createdAt: timestamp('created_at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    total: integer('total').notNull(),
    // [{ endpointId, reason }] of the targets that got no command.
    skipped: jsonb('skipped').notNull().default([]),
    // Set once, by the transaction that settles the batch's last PENDING command (domain/batch-finish.ts).
    finishedAt: timestamp('finished_at', { withTimezone: true, mode: 'date', precision: 3 }),
  },
  (t) => [index('command_batches_created_idx').on(t.createdAt, t.id)],
);

// The audit trail (src/domain/audit.ts): one row per operator action, written in the action's
// own transaction. Append-only: a trigger (migration "audit-append-only") refuses UPDATE, DELETE
// and TRUNCATE. Pages are newest first by (at, id); each filter has an index that ends in both.
export const auditLog = pgTable(
  'audit_log',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    // Milliseconds, as a JavaScript Date holds them: a cursor names the row's position exactly.
    at: timestamp('at', { withTimezone: true, mode: 'date', precision: 3 }).notNull().defaultNow(),
    // The API key (text: the ADMIN_API_KEY key has no row), its name then, and the door; all
    // null when the server itself acted.
    actorKeyId: text('actor_key_id'),
    actorName: text('actor_name'),
    actorDoor: text('actor_door'),
    action: text('action').notNull(),
    targetType: text('target_type').notNull(),
    targetId: text('target_id').notNull(),
    input: jsonb('input').$type<Record<string, unknown>>().notNull().default({}),
  },
  (t) => [
    index('audit_log_at_idx').on(t.at, t.id),
    index('audit_log_actor_idx').on(t.actorKeyId, t.at, t.id),
    index('audit_log_action_idx').on(t.action, t.at, t.id),
    index('audit_log_target_idx').on(t.targetType, t.targetId, t.at, t.id),
  ],
);

// Each proven delivery of a command (the DELIVERED events of its timeline), up to the first 100
// per command; commands.delivery_count counts them all.
export const commandDeliveries = pgTable(
  'command_deliveries',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    commandId: bigint('command_id', { mode: 'number' })
      .notNull()
      .references(() => commands.id),
    deliveredAt: ts('delivered_at').notNull().defaultNow(),
    // HTTP or MQTT.
    via: text('via').notNull(),
  },
  (t) => [index('command_deliveries_command_idx').on(t.commandId, t.id)],
);

// Webhooks (README, "Integrations"). The secret is a Standard Webhooks signing key (whsec_…):
// the server signs every delivery with it, so unlike API keys it is kept, not hashed.
export const webhooks = pgTable('webhooks', {
  id: uuid('id').primaryKey().defaultRandom(),
  url: text('url').notNull(),
  events: text('events').array().notNull(),
  applicationVersionId: uuid('application_version_id').references(() => applicationVersions.id),
  // [{ from, to }] with to null for "and above"; null: every status code.
  statusCodes: jsonb('status_codes').$type<{ from: number; to: number | null }[]>(),
  description: text('description').notNull().default(''),
  secret: text('secret').notNull(),
  createdAt: ts('created_at').notNull().defaultNow(),
  updatedAt: ts('updated_at').notNull().defaultNow(),
  disabledAt: ts('disabled_at'),
  disabledReason: text('disabled_reason'),
  // First failed attempt since the last success: 24 h of failures disable the webhook.
  failingSince: ts('failing_since'),
});

// The outbox: one row per (webhook, event), written in the transaction of the change it reports.
// Rows of one lane (the endpoint, or '' when there is none) of one webhook go out in id order.
export const webhookEvents = pgTable(
  'webhook_events',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    webhookId: uuid('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    type: text('type').notNull(),
    lane: text('lane').notNull(),
    // The exact body sent on every attempt.
    body: text('body').notNull(),
    state: text('state').notNull().default('PENDING'),
    attempts: integer('attempts').notNull().default(0),
    nextAttemptAt: ts('next_attempt_at').notNull().defaultNow(),
    firstAttemptAt: ts('first_attempt_at'),
    // A process delivering the row holds it until then; a crashed one's lease runs out.
    leasedUntil: ts('leased_until'),
    leasedBy: text('leased_by'),
    createdAt: ts('created_at').notNull().defaultNow(),
  },
  (t) => [
    index('webhook_events_lane_idx').on(t.webhookId, t.lane, t.id).where(sql`${t.state} = 'PENDING'`),
    index('webhook_events_due_idx').on(t.nextAttemptAt).where(sql`${t.state} = 'PENDING'`),
  ],
);

export const webhookAttempts = pgTable(
  'webhook_attempts',
  {
    id: bigint('id', { mode: 'number' }).primaryKey().generatedAlwaysAsIdentity(),
    eventId: bigint('event_id', { mode: 'number' })
      .notNull()
      .references(() => webhookEvents.id, { onDelete: 'cascade' }),
    webhookId: uuid('webhook_id')
      .notNull()
      .references(() => webhooks.id, { onDelete: 'cascade' }),
    attempt: integer('attempt').notNull(),
    attemptedAt: ts('attempted_at').notNull(),
    durationMs: integer('duration_ms').notNull(),
    responseStatus: integer('response_status'),
    error: text('error'),
    // SUCCEEDED, RETRYING or FAILED.
    outcome: text('outcome').notNull(),
    nextAttemptAt: ts('next_attempt_at'),
  },
  (t) => [index('webhook_attempts_webhook_idx').on(t.webhookId, t.id), index('webhook_attempts_event_idx').on(t.eventId)],
);
