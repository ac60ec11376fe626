// Kaa's batch resources over our command batches (docs/kaa-rest.md, "Batch"): a by-endpoints
// invoke is one invokeCommands (one transaction, one batch), and a batch task is the batch with
// its counts. Kaa's by-filter names an endpoint filter of its own registry, which this server has
// not got: it stays 501.
import { authorize } from '../domain/auth.ts';
import type { BatchProgress, CommandBatch } from '../domain/batch-types.ts';
import { encodeBatchCursor } from '../domain/batches.ts';
import { MAX_BATCH_ENDPOINTS } from '../domain/batch-targets.ts';
import { isPlainObject } from '../lib/json.ts';
import { writeJson } from '../lib/json-response.ts';
import type { RestContext } from './context.ts';
import { commandTtl } from './endpoint-commands.ts';
import { RestError } from './errors.ts';
import { readJsonBody } from './request.ts';
import { API_PREFIX } from './shapes.ts';

const MAX_TASKS_PAGE = 100;

/** POST /endpoints/commands/{commandType}/batch/by-endpoints with {endpointIds, payload}. */
export async function invokeByEndpoints(ctx: RestContext, commandType: string): Promise<void> {
  const actor = authorize(ctx.principal, 'OPERATOR');
  const retentionSeconds = commandTtl(ctx);
  const body = await readJsonBody(ctx.req, ctx.options.maxBodyBytes);
  const endpointIds = isPlainObject(body) ? body['endpointIds'] : undefined;
  if (!Array.isArray(endpointIds) || !endpointIds.every((v) => typeof v === 'string')) {
    throw new RestError(400, `The body must be a JSON object with 'endpointIds' (1 to ${MAX_BATCH_ENDPOINTS} strings) and an optional 'payload'.`);
  }
  const header = ctx.req.headers['idempotency-key'];
  ctx.limitInvoke(actor);
  const batch = await ctx.services.batches.invoke(
    actor,
    {
      target: { endpointIds: endpointIds as string[] },
      commandType,
      payload: (body as Record<string, unknown>)['payload'] ?? null,
      retentionSeconds,
      idempotencyKey: typeof header === 'string' ? header : undefined,
    },
    'REST',
  );
  const task = await ctx.services.batches.progressOf(batch);
  writeJson(ctx.res, 201, JSON.stringify(taskJson(task)), { location: taskLocation(batch) });
}

/** GET /endpoints/commands/batch/tasks/{id}. */
export async function getTask(ctx: RestContext, id: string): Promise<void> {
  const batch = await ctx.services.batches.batch(ctx.principal, id);
  if (!batch) throw new RestError(404, `No batch task with id "${id}".`);
  writeJson(ctx.res, 200, JSON.stringify(taskJson(await ctx.services.batches.progressOf(batch))));
}

/** GET /endpoints/commands/batch/tasks?size=&after=: newest first, keyset-paged like GraphQL's. */
export async function listTasks(ctx: RestContext): Promise<void> {
  if (ctx.query.string('appName') !== undefined) {
    throw new RestError(400, "'appName' is not supported: batches are listed across applications here (each task names its target).");
  }
  const size = ctx.query.integer('size', 20, 1, MAX_TASKS_PAGE);
  const page = await ctx.services.batches.list(ctx.principal, size, ctx.query.string('after'));
  const tasks = await Promise.all(page.items.map((b) => ctx.services.batches.progressOf(b)));
  const last = page.items.at(-1);
  writeJson(ctx.res, 200, JSON.stringify({ content: tasks.map(taskJson), size, last: !page.hasNextPage, next: page.hasNextPage && last ? encodeBatchCursor(last) : null }));
}

function taskLocation(batch: CommandBatch): string {
  return `${API_PREFIX}/endpoints/commands/batch/tasks/${batch.id}`;
}

function taskJson({ batch, counts, statusCodes }: BatchProgress) {
  return {
    id: batch.id,
    commandType: batch.commandType,
    payload: batch.payload ?? null,
    target: batch.target,
    createdBy: batch.createdBy,
    createdAt: batch.createdAt.toISOString(),
    total: batch.total,
    skipped: batch.skipped,
    counts,
    statusCodes,
    done: counts.pending === 0,
  };
}
