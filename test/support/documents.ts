// One typed GraphQL document per operation the tests use, checked against schema.graphql by
// `npm run typecheck` (gql.tada): a test that asks for a field the API lacks does not compile.
// Each document selects what any test reads; test/support/api.ts wraps them in one helper each.
import { graphql, type ResultOf } from '../../src/graphql/typed.ts';

/** Everything about a command that tests compare; unmasked, so results carry the fields. */
const CommandFields = graphql(`
  fragment CommandFields on Command @_unmask {
    id
    commandType
    payload
    status
    statusCode
    reasonPhrase
    resultPayload
    schemaVersion
    createdAt
    updatedAt
    expiresAt
    executedAt
    rerunOf { id }
    endpoint { id }
  }
`);
export type Command = ResultOf<typeof CommandFields>;

export const Applications = graphql(`
  query Applications { applications { id name versions { name } } }
`);

export const CreateApplication = graphql(`
  mutation CreateApplication($name: String!) { createApplication(name: $name) { id name } }
`);

export const CreateApplicationVersion = graphql(`
  mutation CreateApplicationVersion($applicationName: String!, $name: String!) {
    createApplicationVersion(applicationName: $applicationName, name: $name) { id name application { name } }
  }
`);

export const CreateEndpoint = graphql(`
  mutation CreateEndpoint($applicationVersion: String!, $name: String, $token: String) {
    createEndpoint(applicationVersion: $applicationVersion, name: $name, token: $token) { endpoint { id } token }
  }
`);

export const EndpointById = graphql(`
  query Endpoint($id: ID!) {
    endpoint(id: $id) {
      id name createdAt revokedAt mqttUsername connected lastSeenAt applicationVersion { name application { name } }
    }
  }
`);

export const Endpoints = graphql(`
  query Endpoints($application: String, $applicationVersion: String, $search: String, $first: Int, $after: String) {
    endpoints(application: $application, applicationVersion: $applicationVersion, search: $search, first: $first, after: $after) {
      edges { cursor node { id name lastSeenAt connected applicationVersion { name } } }
      pageInfo { hasNextPage endCursor }
    }
  }
`);

export const RenameEndpoint = graphql(`
  mutation RenameEndpoint($endpointId: ID!, $name: String) { renameEndpoint(endpointId: $endpointId, name: $name) { id name } }
`);

export const RotateEndpointToken = graphql(`
  mutation RotateEndpointToken($endpointId: ID!, $token: String) {
    rotateEndpointToken(endpointId: $endpointId, token: $token) { endpoint { id } token }
  }
`);

export const RevokeEndpoint = graphql(`
  mutation RevokeEndpoint($endpointId: ID!) { revokeEndpoint(endpointId: $endpointId) { id revokedAt } }
`);

export const SetEndpointCredentials = graphql(`
  mutation SetEndpointCredentials($endpointId: ID!, $username: String!, $password: String!) {
    setEndpointCredentials(endpointId: $endpointId, username: $username, password: $password) { id mqttUsername }
  }
`);

export const ClearEndpointCredentials = graphql(`
  mutation ClearEndpointCredentials($endpointId: ID!) { clearEndpointCredentials(endpointId: $endpointId) { id mqttUsername } }
`);

export const Telemetry = graphql(`
  query Telemetry($id: ID!, $last: Int) {
    endpoint(id: $id) { telemetry(last: $last) { timestamp receivedAt data endpoint { id } } }
  }
`);

export const InvokeCommand = graphql(
  `
  mutation InvokeCommand($input: InvokeCommandInput!) { invokeCommand(input: $input) { ...CommandFields } }
`,
  [CommandFields],
);

export const RerunCommand = graphql(
  `
  mutation RerunCommand($id: ID!, $retentionSeconds: Int) {
    rerunCommand(id: $id, retentionSeconds: $retentionSeconds) { ...CommandFields }
  }
`,
  [CommandFields],
);

export const CommandById = graphql(
  `
  query Command($id: ID!) { command(id: $id) { ...CommandFields } }
`,
  [CommandFields],
);

export const CommandHistory = graphql(
  `
  query CommandHistory($endpointId: ID!, $commandTypes: [String!], $statuses: [CommandStatus!], $first: Int, $after: String) {
    commandHistory(endpointId: $endpointId, commandTypes: $commandTypes, statuses: $statuses, first: $first, after: $after) {
      edges { cursor node { ...CommandFields } }
      pageInfo { hasNextPage endCursor }
    }
  }
`,
  [CommandFields],
);
export type CommandPage = ResultOf<typeof CommandHistory>['commandHistory'];

export const Commands = graphql(
  `
  query Commands($filter: CommandFilter, $first: Int, $after: String) {
    commands(filter: $filter, first: $first, after: $after) {
      edges { cursor node { ...CommandFields } }
      pageInfo { hasNextPage endCursor }
    }
  }
`,
  [CommandFields],
);

export const SetCommandSchema = graphql(`
  mutation SetCommandSchema($applicationVersion: String!, $commandType: String!, $schema: JSON!) {
    setCommandSchema(applicationVersion: $applicationVersion, commandType: $commandType, schema: $schema) {
      commandType version schema updatedAt
    }
  }
`);

export const RemoveCommandSchema = graphql(`
  mutation RemoveCommandSchema($applicationVersion: String!, $commandType: String!) {
    removeCommandSchema(applicationVersion: $applicationVersion, commandType: $commandType)
  }
`);

export const ApplicationVersion = graphql(`
  query ApplicationVersion($name: String!) { applicationVersion(name: $name) { id name application { name createdAt } } }
`);

export const CommandSchemaHistory = graphql(`
  query CommandSchemaHistory($applicationVersion: String!, $commandType: String!) {
    applicationVersion(name: $applicationVersion) {
      commandSchemaHistory(commandType: $commandType) { commandType version schema updatedAt }
    }
  }
`);

export const CommandSchemas = graphql(`
  query CommandSchemas($endpointId: ID!) {
    endpoint(id: $endpointId) {
      applicationVersion {
        commandSchemas {
          commandType version schema
          fields { name type allowedValues default fixed value required requiredWhen minimum maximum }
        }
      }
    }
  }
`);

export const ValidateCommand = graphql(`
  query ValidateCommand($endpointId: ID!, $commandType: String!, $payload: JSON) {
    validateCommand(endpointId: $endpointId, commandType: $commandType, payload: $payload) { valid payload errors { path message } }
  }
`);

export const Viewer = graphql(`
  query Viewer { viewer { id name role } }
`);

export const ApiKeys = graphql(`
  query ApiKeys { apiKeys { id name role createdAt revokedAt } }
`);

export const CreateApiKey = graphql(`
  mutation CreateApiKey($name: String!, $role: ApiKeyRole!) { createApiKey(name: $name, role: $role) { id name role secret } }
`);

export const RevokeApiKey = graphql(`
  mutation RevokeApiKey($id: ID!) { revokeApiKey(id: $id) }
`);

export const CommandStatusChanged = graphql(
  `
  subscription CommandStatusChanged($endpointId: ID, $commandId: ID) {
    commandStatusChanged(endpointId: $endpointId, commandId: $commandId) { ...CommandFields }
  }
`,
  [CommandFields],
);

export const TelemetryReceived = graphql(`
  subscription TelemetryReceived($endpointId: ID!) {
    telemetryReceived(endpointId: $endpointId) { timestamp receivedAt data endpoint { id } }
  }
`);
