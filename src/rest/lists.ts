// Commands across endpoints: one endpoint's list, an application's pages, and the last command
// of each endpoint and type. Pages are numbered (Spring's page/size); the services page by
// cursor, so page N walks the cursors of the pages before it (bounded by MAX_ROW_OFFSET).
import { MAX_PAGE_SIZE, encodeCursor } from '../domain/commands.ts';
import type { Command } from '../domain/types.ts';
import { isPlainObject } from '../lib/json.ts';
import { writeJson } from '../lib/json-response.ts';
import type { RestContext } from './context.ts';
import { RestError } from './errors.ts';
import { readJsonBody } from './request.ts';
import { commandJson, pageJson } from './shapes.ts';

/** Spring Data's default page size. */
const DEFAULT_SIZE = 20;
/** How deep numbered pages may go: page × size + size. */
export const MAX_ROW_OFFSET = 10_000;
const MAX_LAST_ENDPOINTS = 100;
const MAX_LAST_TYPES = 20;

type Fetch = (first: number, after: string | undefined) => Promise<{ items: Command[]; hasNextPage: boolean }>;

/** GET /endpoints/commands?endpointId=&commandTypes=: one endpoint's commands, newest first. */
export async function listForEndpoint(ctx: RestContext): Promise<void> {
  const endpointId = ctx.query.string('endpointId');
  if (!endpointId) throw new RestError(400, "Missing 'endpointId': the endpoint whose commands to list.");
  const commandTypes = ctx.query.list('commandTypes');
  await sendPage(ctx, async (first, after) => {
    const page = await ctx.services.commands.history(ctx.principal, { endpointId, commandTypes, first, after });
    return { items: page.commands, hasNextPage: page.hasNextPage };
  });
}

/** GET /endpoints/commands/{applicationName}?page=&size=&sort=&commandTypes=. */
export async function listForApplication(ctx: RestContext, application: string): Promise<void> {
  checkSort(ctx.query.string('sort'));
  const commandTypes = ctx.query.list('commandTypes');
  await sendPage(ctx, async (first, after) =>
    ctx.services.fleet.commands(ctx.principal, { application, commandTypes }, first, after),
  );
}

/** POST /endpoints/commands/last with {endpointIds, commandTypes}: the newest command of each pair. */
export async function lastOfEach(ctx: RestContext): Promise<void> {
  const body = await readJsonBody(ctx.req, ctx.options.maxBodyBytes);
  const endpointIds = stringList(body, 'endpointIds', 1, MAX_LAST_ENDPOINTS);
  const commandTypes = stringList(body, 'commandTypes', 0, MAX_LAST_TYPES);
  const found: Command[] = [];
  for (const endpointId of endpointIds) {
    // Without types, the endpoint's newest command of any type.
    for (const types of commandTypes.length > 0 ? commandTypes.map((t) => [t]) : [undefined]) {
      const page = await ctx.services.commands.history(ctx.principal, { endpointId, commandTypes: types, first: 1 });
      if (page.commands[0]) found.push(page.commands[0]);
    }
  }
  writeJson(ctx.res, 200, JSON.stringify(found.map(commandJson)));
}

async function sendPage(ctx: RestContext, fetch: Fetch): Promise<void> {
  const size = ctx.query.integer('size', DEFAULT_SIZE, 1, MAX_PAGE_SIZE);
  const number = ctx.query.integer('page', 0, 0, Math.floor(MAX_ROW_OFFSET / size) - 1);
  let after: string | undefined;
  // Walk past the rows of the pages before this one, a full service page at a time.
  for (let skip = number * size; skip > 0; ) {
    const step = await fetch(Math.min(MAX_PAGE_SIZE, skip), after);
    const last = step.items.at(-1);
    if (!last || !step.hasNextPage) return writeJson(ctx.res, 200, JSON.stringify(pageJson([], number, size, false)));
    after = encodeCursor(last);
    skip -= step.items.length;
  }
  const page = await fetch(size, after);
  writeJson(ctx.res, 200, JSON.stringify(pageJson(page.items, number, size, page.hasNextPage)));
}

/** Newest first is the only order the services keep (ids grow with creation). */
function checkSort(sort: string | undefined): void {
  if (sort === undefined || /^(createdAt|id),desc$/i.test(sort)) return;
  throw new RestError(400, `Invalid 'sort' "${sort}": commands are listed newest first only (sort=createdAt,desc).`);
}

function stringList(body: unknown, name: string, min: number, max: number): string[] {
  const value = isPlainObject(body) ? (body[name] ?? []) : undefined;
  if (!Array.isArray(value) || value.length < min || value.length > max || !value.every((v) => typeof v === 'string')) {
    throw new RestError(400, `The body must be a JSON object whose '${name}' is a list of ${min} to ${max} strings.`);
  }
  return value as string[];
}
