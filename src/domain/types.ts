// Domain objects: what services return and GraphQL types are backed by (never table rows).

export const COMMAND_STATUSES = ['PENDING', 'EXECUTED', 'EXPIRED', 'CANCELED'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

export const API_KEY_ROLES = ['ADMIN', 'OPERATOR', 'VIEWER'] as const;
export type ApiKeyRole = (typeof API_KEY_ROLES)[number];

export interface Application {
  id: string;
  name: string;
  createdAt: Date;
}

export interface ApplicationVersion {
  id: string;
  applicationId: string;
  name: string;
  createdAt: Date;
}

export interface Endpoint {
  id: string;
  applicationVersionId: string;
  name: string | null;
  /** Set when the endpoint requires MQTT (or HTTP Basic) credentials with its token. */
  mqttUsername: string | null;
  createdAt: Date;
  revokedAt: Date | null;
}

export interface Command {
  /** The integer id devices see in kp1. */
  id: number;
  endpointId: string;
  commandType: string;
  payload: unknown;
  status: CommandStatus;
  statusCode: number | null;
  reasonPhrase: string | null;
  resultPayload: unknown;
  createdAt: Date;
  updatedAt: Date;
  expiresAt: Date;
  executedAt: Date | null;
  rerunOf: number | null;
  schemaVersion: number | null;
  /** Set when an operator canceled it while PENDING; kept when a late result makes it EXECUTED. */
  canceledAt: Date | null;
  canceledBy: Invoker | null;
  /** Null for commands stored before invokers were recorded. */
  invokedBy: Invoker | null;
  /** The bulk invoke (command batch) that created it, if any. */
  batchId: string | null;
  /** Set when the sweeper expired it; kept when a late result makes it EXECUTED. */
  expiredAt: Date | null;
  /** The first proven delivery to the device (see deliveries.ts); set once. */
  deliveredAt: Date | null;
  deliveryCount: number;
  lastDeliveredVia: string | null;
}

/** The doors an operator's API key comes through. */
export const DOORS = ['GRAPHQL', 'REST'] as const;
export type Door = (typeof DOORS)[number];

/** Who did something to a command, and through which door. */
export interface Invoker {
  door: Door;
  apiKeyId: string;
  name: string;
}

export interface TelemetrySample {
  id: number;
  endpointId: string;
  timestamp: Date;
  receivedAt: Date;
  data: unknown;
}

export interface ApiKey {
  id: string;
  name: string;
  role: ApiKeyRole;
  createdAt: Date;
  revokedAt: Date | null;
}

/** Who is calling an operator operation. */
export interface Principal {
  keyId: string;
  name: string;
  role: ApiKeyRole;
}
