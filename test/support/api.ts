// One helper per GraphQL operation, as the test admin: it sends the typed document of
// test/support/documents.ts, fails the test on any GraphQL error, and returns the operation's
// result. A test that expects a refusal, or acts with another key, calls gql() with the document.
import { expect } from 'vitest';
import type { App } from '../../src/app.ts';
import type { VariablesOf } from '../../src/graphql/typed.ts';
import { gqlData, unique } from './app.ts';
import * as Doc from './documents.ts';

export type { Command } from './documents.ts';

export interface Fixture {
  application: string;
  appVersion: string;
  endpointId: string;
  token: string;
}

export async function applications(app: App) {
  return (await gqlData(app, Doc.Applications)).applications;
}

export async function createApplication(app: App, name: string) {
  return (await gqlData(app, Doc.CreateApplication, { name })).createApplication;
}

export async function createApplicationVersion(app: App, applicationName: string, name: string) {
  return (await gqlData(app, Doc.CreateApplicationVersion, { applicationName, name })).createApplicationVersion;
}

/** A fresh endpoint, in a fresh application and version unless `appVersion` names one. */
export async function createEndpoint(app: App, opts: { appVersion?: string; name?: string | null; token?: string } = {}): Promise<Fixture> {
  const application = unique('app');
  const appVersion = opts.appVersion ?? unique('v');
  if (!opts.appVersion) {
    await createApplication(app, application);
    await createApplicationVersion(app, application, appVersion);
  }
  const { createEndpoint: created } = await gqlData(app, Doc.CreateEndpoint, {
    applicationVersion: appVersion,
    name: opts.name ?? null,
    token: opts.token ?? null,
  });
  return { application, appVersion, endpointId: created.endpoint.id, token: created.token };
}

/** An endpoint by id (null when there is none). */
export async function endpointById(app: App, id: string) {
  return (await gqlData(app, Doc.EndpointById, { id })).endpoint;
}

/** One page of endpoints, by name then id. */
export async function endpoints(app: App, variables: VariablesOf<typeof Doc.Endpoints> = {}) {
  return (await gqlData(app, Doc.Endpoints, variables)).endpoints;
}

export async function renameEndpoint(app: App, endpointId: string, name: string | null) {
  return (await gqlData(app, Doc.RenameEndpoint, { endpointId, name })).renameEndpoint;
}

/** Replaces an endpoint's token with `token`, or a generated one. */
export async function rotateEndpointToken(app: App, endpointId: string, token: string | null = null) {
  return (await gqlData(app, Doc.RotateEndpointToken, { endpointId, token })).rotateEndpointToken;
}

export async function revokeEndpoint(app: App, endpointId: string) {
  return (await gqlData(app, Doc.RevokeEndpoint, { endpointId })).revokeEndpoint;
}

/** Sets an endpoint's device credentials and checks the answer. */
export async function setEndpointCredentials(app: App, fx: Fixture, username: string, password: string): Promise<void> {
  const data = await gqlData(app, Doc.SetEndpointCredentials, { endpointId: fx.endpointId, username, password });
  expect(data.setEndpointCredentials.mqttUsername).toBe(username);
}

export async function clearEndpointCredentials(app: App, endpointId: string) {
  return (await gqlData(app, Doc.ClearEndpointCredentials, { endpointId })).clearEndpointCredentials;
}

/** An endpoint's latest telemetry samples, newest first. */
export async function telemetry(app: App, endpointId: string, last?: number) {
  const { endpoint } = await gqlData(app, Doc.Telemetry, { id: endpointId, last });
  if (!endpoint) throw new Error(`No endpoint ${endpointId}`);
  return endpoint.telemetry;
}

export async function invokeCommand(app: App, endpointId: string, commandType: string, payload: unknown = null, retentionSeconds?: number) {
  return (await gqlData(app, Doc.InvokeCommand, { input: { endpointId, commandType, payload, retentionSeconds } })).invokeCommand;
}

export async function rerunCommand(app: App, id: string, retentionSeconds?: number) {
  return (await gqlData(app, Doc.RerunCommand, { id, retentionSeconds })).rerunCommand;
}

/** A command by id; fails the test when there is none. */
export async function commandById(app: App, id: string | number) {
  const { command } = await gqlData(app, Doc.CommandById, { id: String(id) });
  if (!command) throw new Error(`No command ${id}`);
  return command;
}

export type HistoryFilter = Omit<VariablesOf<typeof Doc.CommandHistory>, 'endpointId'>;

/** One page of an endpoint's commands, newest first. */
export async function commandHistory(app: App, endpointId: string, filter: HistoryFilter = {}) {
  return (await gqlData(app, Doc.CommandHistory, { endpointId, ...filter })).commandHistory;
}

/** One page of the fleet's commands, newest first. */
export async function commands(app: App, variables: VariablesOf<typeof Doc.Commands> = {}) {
  return (await gqlData(app, Doc.Commands, variables)).commands;
}

/** An application version by name (null when there is none). */
export async function applicationVersion(app: App, name: string) {
  return (await gqlData(app, Doc.ApplicationVersion, { name })).applicationVersion;
}

/** Every stored schema of a command type, newest first; fails the test when the version does not exist. */
export async function commandSchemaHistory(app: App, applicationVersion: string, commandType: string) {
  const { applicationVersion: version } = await gqlData(app, Doc.CommandSchemaHistory, { applicationVersion, commandType });
  if (!version) throw new Error(`No application version ${applicationVersion}`);
  return version.commandSchemaHistory;
}

export async function setCommandSchema(app: App, applicationVersion: string, commandType: string, schema: unknown) {
  return (await gqlData(app, Doc.SetCommandSchema, { applicationVersion, commandType, schema })).setCommandSchema;
}

export async function removeCommandSchema(app: App, applicationVersion: string, commandType: string) {
  return (await gqlData(app, Doc.RemoveCommandSchema, { applicationVersion, commandType })).removeCommandSchema;
}

/** The current command schemas of an endpoint's application version. */
export async function commandSchemas(app: App, endpointId: string) {
  const { endpoint } = await gqlData(app, Doc.CommandSchemas, { endpointId });
  if (!endpoint) throw new Error(`No endpoint ${endpointId}`);
  return endpoint.applicationVersion.commandSchemas;
}

export async function validateCommand(app: App, endpointId: string, commandType: string, payload: unknown) {
  return (await gqlData(app, Doc.ValidateCommand, { endpointId, commandType, payload })).validateCommand;
}

/** Who the test admin's key is. */
export async function viewer(app: App) {
  return (await gqlData(app, Doc.Viewer)).viewer;
}

/** Every API key, newest first. */
export async function apiKeys(app: App) {
  return (await gqlData(app, Doc.ApiKeys)).apiKeys;
}

/** Creates an API key with the given role and returns it with its secret. */
export async function createApiKey(app: App, role: 'ADMIN' | 'OPERATOR' | 'VIEWER', name: string = unique(role.toLowerCase())) {
  return (await gqlData(app, Doc.CreateApiKey, { name, role })).createApiKey;
}

export async function revokeApiKey(app: App, id: string) {
  return (await gqlData(app, Doc.RevokeApiKey, { id })).revokeApiKey;
}
