// Every GraphQL document the console sends, typed from schema.graphql by gql.tada.
import { graphql, type ResultOf, type VariablesOf } from '../../src/graphql/typed.ts';

export const ViewerQuery = graphql(`query Viewer { viewer { id name role } }`);

export const EndpointsQuery = graphql(`
  query Endpoints($application: String, $applicationVersion: String, $search: String, $first: Int, $after: String) {
    endpoints(application: $application, applicationVersion: $applicationVersion, search: $search, first: $first, after: $after) {
      edges { cursor node { id name createdAt revokedAt lastSeenAt connected applicationVersion { id name application { id name } } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const ApplicationsQuery = graphql(`
  query Applications {
    applications { id name createdAt versions { id name commandSchemas { commandType version updatedAt } } }
  }
`);

export const EndpointQuery = graphql(`
  query Endpoint($id: ID!) {
    endpoint(id: $id) {
      id name createdAt revokedAt lastSeenAt connected mqttUsername metadata
      applicationVersion { id name application { id name } commandSchemas { commandType version schema } }
    }
  }
`);

/** What every command list shows (history, fleet page, live events): one selection for all three. */
export const CommandRowFields = graphql(`
  fragment CommandRowFields on Command @_unmask {
    id commandType payload status statusCode reasonPhrase resultPayload createdAt updatedAt expiresAt executedAt
    canceledAt canceledBy { name } invokedBy { name door }
    deliveredAt deliveryCount lastDeliveredVia
    rerunOf { id } endpoint { id name applicationVersion { name application { name } } }
  }
`);

export const HistoryQuery = graphql(`
  query History($endpointId: ID!, $first: Int, $after: String, $commandTypes: [String!], $statuses: [CommandStatus!], $delivered: Boolean) {
    commandHistory(endpointId: $endpointId, first: $first, after: $after, commandTypes: $commandTypes, statuses: $statuses, delivered: $delivered) {
      edges { node { ...CommandRowFields } }
      pageInfo { hasNextPage endCursor }
    }
  }
`,
  [CommandRowFields],
);

export const FleetCommandsQuery = graphql(`
  query FleetCommands($filter: CommandFilter, $first: Int, $after: String) {
    commands(filter: $filter, first: $first, after: $after) {
      edges { node { ...CommandRowFields } }
      pageInfo { hasNextPage endCursor }
    }
  }
`,
  [CommandRowFields],
);

export const CommandChanged = graphql(`
  subscription CommandChanged($endpointId: ID) {
    commandStatusChanged(endpointId: $endpointId) { ...CommandRowFields }
  }
`,
  [CommandRowFields],
);

export const TelemetryQuery = graphql(`
  query Telemetry($id: ID!, $last: Int) { endpoint(id: $id) { id telemetry(last: $last) { timestamp receivedAt data } } }
`);

export const TelemetryReceived = graphql(`
  subscription TelemetryReceived($endpointId: ID!) { telemetryReceived(endpointId: $endpointId) { timestamp receivedAt data } }
`);

export const InvokeCommand = graphql(`
  mutation InvokeCommand($input: InvokeCommandInput!) { invokeCommand(input: $input) { id status } }
`);

export const RerunCommand = graphql(`
  mutation RerunCommand($id: ID!) { rerunCommand(id: $id) { id status rerunOf { id } } }
`);

export const CancelCommand = graphql(`
  mutation CancelCommand($id: ID!) { cancelCommand(id: $id) { id status canceledAt canceledBy { name } } }
`);

export const ValidateCommand = graphql(`
  query ValidateCommand($endpointId: ID!, $commandType: String!, $payload: JSON) {
    validateCommand(endpointId: $endpointId, commandType: $commandType, payload: $payload) { valid payload errors { path message } }
  }
`);

export const RenameEndpoint = graphql(`
  mutation RenameEndpoint($endpointId: ID!, $name: String) { renameEndpoint(endpointId: $endpointId, name: $name) { id name } }
`);

export const UpdateEndpointMetadata = graphql(`
  mutation UpdateEndpointMetadata($endpointId: ID!, $set: JSON, $replace: Boolean) {
    updateEndpointMetadata(endpointId: $endpointId, set: $set, replace: $replace) { id metadata }
  }
`);

export const RotateToken = graphql(`
  mutation RotateToken($endpointId: ID!) { rotateEndpointToken(endpointId: $endpointId) { token endpoint { id } } }
`);

export const SetCredentials = graphql(`
  mutation SetCredentials($endpointId: ID!, $username: String!, $password: String!) {
    setEndpointCredentials(endpointId: $endpointId, username: $username, password: $password) { id mqttUsername }
  }
`);

export const ClearCredentials = graphql(`
  mutation ClearCredentials($endpointId: ID!) { clearEndpointCredentials(endpointId: $endpointId) { id mqttUsername } }
`);

export const RevokeEndpoint = graphql(`
  mutation RevokeEndpoint($endpointId: ID!) { revokeEndpoint(endpointId: $endpointId) { id revokedAt } }
`);

export const CreateEndpoint = graphql(`
  mutation CreateEndpoint($applicationVersion: String!, $name: String, $token: String) {
    createEndpoint(applicationVersion: $applicationVersion, name: $name, token: $token) { token endpoint { id } }
  }
`);

export const VersionSchemasQuery = graphql(`
  query VersionSchemas($name: String!) {
    applicationVersion(name: $name) { id name application { name } commandSchemas { commandType version schema updatedAt } }
  }
`);

export const SchemaHistoryQuery = graphql(`
  query SchemaHistory($name: String!, $commandType: String!) {
    applicationVersion(name: $name) { id commandSchemaHistory(commandType: $commandType) { version schema updatedAt } }
  }
`);

export const SetCommandSchema = graphql(`
  mutation SetCommandSchema($applicationVersion: String!, $commandType: String!, $schema: JSON!) {
    setCommandSchema(applicationVersion: $applicationVersion, commandType: $commandType, schema: $schema) { commandType version }
  }
`);

export const RemoveCommandSchema = graphql(`
  mutation RemoveCommandSchema($applicationVersion: String!, $commandType: String!) {
    removeCommandSchema(applicationVersion: $applicationVersion, commandType: $commandType)
  }
`);

export const CreateApplication = graphql(`mutation CreateApplication($name: String!) { createApplication(name: $name) { id } }`);

export const CreateVersion = graphql(`
  mutation CreateVersion($applicationName: String!, $name: String!) { createApplicationVersion(applicationName: $applicationName, name: $name) { id } }
`);

export const ApiKeysQuery = graphql(`query ApiKeys { apiKeys { id name role createdAt revokedAt } }`);

export const CreateApiKey = graphql(`
  mutation CreateApiKey($name: String!, $role: ApiKeyRole!) { createApiKey(name: $name, role: $role) { id secret } }
`);

export const RevokeApiKey = graphql(`mutation RevokeApiKey($id: ID!) { revokeApiKey(id: $id) }`);

export type CommandRow = ResultOf<typeof CommandRowFields>;

/** A command's timeline, for its detail row. */
export const CommandTimelineQuery = graphql(`
  query CommandTimeline($id: ID!) {
    command(id: $id) {
      id status deliveredAt deliveryCount lastDeliveredVia expiredAt
      events { type at cause { kind via invoker { name door } endpoint { id name } } }
    }
  }
`);
export type Role = ResultOf<typeof ViewerQuery>['viewer']['role'];
export type { ResultOf };

export const AuditLogQuery = graphql(`
  query AuditLog($actor: String, $action: AuditAction, $target: AuditTargetInput, $from: DateTime, $to: DateTime, $first: Int, $after: String) {
    auditLog(actor: $actor, action: $action, target: $target, from: $from, to: $to, first: $first, after: $after) {
      edges { node { id at action actor { apiKeyId name door } target { type id } input } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export type AuditAction = NonNullable<VariablesOf<typeof AuditLogQuery>['action']>;
export type AuditTargetType = NonNullable<VariablesOf<typeof AuditLogQuery>['target']>['type'];
