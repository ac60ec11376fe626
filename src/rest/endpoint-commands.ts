// One endpoint's commands of one type: invoke (and wait for the result), read one, read the
// last, and DELETE (cancels a PENDING command). Kaa's text for the invoke is
// quoted in docs/kaa-rest.md; roles and rules are GraphQL's (the same service functions).
import { authorize } from '../domain/auth.ts';
import type { Command } from '../domain/types.ts';
import { writeJson } from '../lib/json-response.ts';
import { awaitResult } from './await-result.ts';
import type { RestContext } from './context.ts';
import { RestError } from './errors.ts';
import { readJsonBody } from './request.ts';
import { commandJson, commandLocation } from './shapes.ts';

/** Kaa: "Must not be greater than specified spring.mvc.async.request-timeout value (60 seconds by default)". */
export const MAX_AWAIT_SECONDS = 60;
/** Kaa: "awaitTimeout: optional (integer - default: 5)". */
const DEFAULT_AWAIT_SECONDS = 5;

/**
 * POST /endpoints/{endpointId}/commands/{commandType}. Kaa: "Returns command execution result if
 * the command was executed within the specified 'awaitTimeout'. Otherwise, returns the command
 * result resource URL in the 'Location' header."
 */
export async function invoke(ctx: RestContext, endpointId: string, commandType: string): Promise<void> {
  const actor = authorize(ctx.principal, 'OPERATOR');
  const seconds = ctx.query.integer('awaitTimeout', DEFAULT_AWAIT_SECONDS, 0, MAX_AWAIT_SECONDS, ' of seconds');
  const retentionSeconds = commandTtl(ctx);
  const payload = await readJsonBody(ctx.req, ctx.options.maxBodyBytes);
  ctx.limitInvoke(actor);
  const { commands, bus } = ctx.services;
  const created = await commands.invoke(actor, { endpointId, commandType, payload, retentionSeconds }, 'REST');
  const gone = new Promise<void>((resolve) => ctx.res.once('close', resolve));
  const latest = await awaitResult(bus, commands, created, { seconds, shutdown: ctx.options.shutdown, gone });
  if (ctx.res.destroyed) return;
  const location = { location: commandLocation(created) };
  // Kaa's 200 body is what the device answered ("Media type: application/json, Type: any").
  if (latest.status === 'EXECUTED') return writeJson(ctx.res, 200, JSON.stringify(latest.resultPayload ?? null), location);
  writeJson(ctx.res, 202, JSON.stringify(commandJson(latest)), location);
}

/**
 * Kaa's `commandTtl` is "the time (in milliseconds) that the command invocation will be eligible
 * for the execution by an endpoint": our retention for delivery, in whole seconds rounded up,
 * within GraphQL's bounds. Without it the server's default retention applies.
 */
export function commandTtl(ctx: RestContext): number | undefined {
  if (ctx.query.string('commandTtl') === undefined) return undefined;
  const maxMs = ctx.options.maxRetentionSeconds * 1000;
  return Math.ceil(ctx.query.integer('commandTtl', 0, 1, maxMs, ' of milliseconds') / 1000);
}

/** GET /endpoints/{endpointId}/commands/{commandType}/{commandId}. */
export async function getOne(ctx: RestContext, endpointId: string, commandType: string, commandId: string): Promise<void> {
  writeJson(ctx.res, 200, JSON.stringify(commandJson(await findOne(ctx, endpointId, commandType, commandId))));
}

/** GET /endpoints/{endpointId}/commands/{commandType}/last: the newest command of the type. */
export async function getLast(ctx: RestContext, endpointId: string, commandType: string): Promise<void> {
  const page = await ctx.services.commands.history(ctx.principal, { endpointId, commandTypes: [commandType], first: 1 });
  const last = page.commands[0];
  if (!last) throw new RestError(404, `Endpoint "${endpointId}" has no command of type "${commandType}".`);
  writeJson(ctx.res, 200, JSON.stringify(commandJson(last)));
}

/**
 * DELETE /endpoints/{endpointId}/commands/{commandType}/{commandId}: cancels a PENDING command and
 * answers 200 with it (it stays readable, CANCELED); a finished one is 409 (docs/kaa-rest.md, "DELETE").
 */
export async function deleteOne(ctx: RestContext, endpointId: string, commandType: string, commandId: string): Promise<void> {
  const actor = authorize(ctx.principal, 'OPERATOR');
  const command = await findOne(ctx, endpointId, commandType, commandId);
  const canceled = await ctx.services.commands.cancel(actor, String(command.id), 'REST');
  writeJson(ctx.res, 200, JSON.stringify(commandJson(canceled)));
}

async function findOne(ctx: RestContext, endpointId: string, commandType: string, commandId: string): Promise<Command> {
  const command = await ctx.services.commands.command(ctx.principal, commandId);
  if (!command || command.endpointId !== endpointId.toLowerCase() || command.commandType !== commandType) {
    throw new RestError(404, `No command "${commandId}" of type "${commandType}" for endpoint "${endpointId}".`);
  }
  return command;
}
