// Kaa's CEX REST API at /cex/api/v1 (docs/kaa-rest.md): the paths and methods of Kaa's command
// service, served by the same service functions, roles and rules as GraphQL. The API key is
// the bearer token ("Authorization: Bearer <key>"), where Kaa takes an OAuth 2.0 JWT.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Config } from '../config.ts';
import { authorize } from '../domain/auth.ts';
import type { Principal } from '../domain/types.ts';
import { KeyedTokenBuckets } from '../lib/keyed-token-buckets.ts';
import type { Logger } from '../logger.ts';
import type { Services } from '../services.ts';
import type { RestContext, RestOptions } from './context.ts';
import { deleteOne, getLast, getOne, invoke } from './endpoint-commands.ts';
import { RestError, sendError } from './errors.ts';
import { lastOfEach, listForApplication, listForEndpoint } from './lists.ts';
import { getTask, invokeByEndpoints, listTasks } from './batches.ts';
import { Query } from './request.ts';
import { API_PREFIX } from './shapes.ts';

type Handler = (ctx: RestContext, params: string[]) => Promise<void>;

interface Route {
  /** Path segments after /cex/api/v1; `*` matches one segment, which is passed to the handler. */
  pattern: string[];
  methods: Partial<Record<string, Handler>>;
}

const noFilters: Handler = async (ctx) => {
  authorize(ctx.principal, 'OPERATOR');
  throw new RestError(
    501,
    'Endpoint filters do not exist on this server: use batch/by-endpoints, or GraphQL invokeCommands with an application or application version target.',
  );
};

// Order matters where patterns overlap: the fixed segments first.
const ROUTES: Route[] = [
  { pattern: ['endpoints', 'commands'], methods: { GET: (ctx) => listForEndpoint(ctx) } },
  { pattern: ['endpoints', 'commands', 'last'], methods: { POST: (ctx) => lastOfEach(ctx), GET: (ctx) => listForApplication(ctx, 'last') } },
  { pattern: ['endpoints', 'commands', 'batch', 'tasks'], methods: { GET: (ctx) => listTasks(ctx) } },
  { pattern: ['endpoints', 'commands', 'batch', 'tasks', '*'], methods: { GET: (ctx, [id]) => getTask(ctx, id!) } },
  { pattern: ['endpoints', 'commands', '*', 'batch', 'by-endpoints'], methods: { POST: (ctx, [t]) => invokeByEndpoints(ctx, t!) } },
  { pattern: ['endpoints', 'commands', '*', 'batch', 'by-filter'], methods: { POST: noFilters } },
  { pattern: ['endpoints', 'commands', '*'], methods: { GET: (ctx, [app]) => listForApplication(ctx, app!) } },
  { pattern: ['endpoints', '*', 'commands', '*'], methods: { POST: (ctx, [e, t]) => invoke(ctx, e!, t!) } },
  { pattern: ['endpoints', '*', 'commands', '*', 'last'], methods: { GET: (ctx, [e, t]) => getLast(ctx, e!, t!) } },
  {
    pattern: ['endpoints', '*', 'commands', '*', '*'],
    methods: { GET: (ctx, [e, t, id]) => getOne(ctx, e!, t!, id!), DELETE: (ctx, [e, t, id]) => deleteOne(ctx, e!, t!, id!) },
  },
];

type RestConfig = Pick<Config, 'maxRetentionSeconds' | 'graphql'>;

export function createRestHandler(services: Services, config: RestConfig, log: Logger, shutdown?: AbortSignal) {
  const options: RestOptions = {
    // A command payload arrives as a body, as in a GraphQL request: the same limit.
    maxBodyBytes: config.graphql.maxRequestBytes,
    maxRetentionSeconds: config.maxRetentionSeconds,
    invokesPerMinute: config.graphql.mutationsPerMinute,
    shutdown,
  };
  // Shared by the workers of a node (WORKERS); 100,000 keys bound the memory, not the keys.
  const buckets = new KeyedTokenBuckets(options.invokesPerMinute, options.invokesPerMinute / 60, 100_000, 'rest-invokes');
  const limitInvoke = (actor: Principal) => {
    const wait = Math.ceil(buckets.take(actor.keyId));
    if (wait > 0) {
      throw new RestError(429, `Too many invokes for this API key (limit ${options.invokesPerMinute} per minute); retry in ${wait} s.`, {
        'retry-after': String(wait),
      });
    }
  };

  return async function handleRest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const [path = '', search = ''] = (req.url ?? '').split('?', 2);
    try {
      const { route, params } = match(path);
      const handler = route.methods[req.method ?? ''];
      if (!handler) {
        throw new RestError(405, `${req.method} is not supported here; use ${Object.keys(route.methods).join(' or ')}.`, {
          allow: Object.keys(route.methods).join(', '),
        });
      }
      const principal = await services.auth.authenticate(req.headers.authorization);
      // 401 before anything else about the request, as Kaa's OAuth filter does.
      if (!principal) authorize(principal, 'VIEWER');
      await handler({ services, principal, req, res, query: new Query(search), options, limitInvoke }, params);
    } catch (error) {
      sendError(res, path, error, log);
    }
  };
}

function match(path: string): { route: Route; params: string[] } {
  const segments = path.slice(API_PREFIX.length + 1).split('/');
  let decoded: string[];
  try {
    decoded = segments.map((s) => decodeURIComponent(s));
  } catch {
    throw new RestError(400, `The path is not valid percent-encoding: ${path}`);
  }
  const fits = (pattern: string[]) =>
    pattern.length === decoded.length && pattern.every((p, i) => (p === '*' ? decoded[i] !== '' : p === decoded[i]));
  const route = ROUTES.find((r) => fits(r.pattern));
  if (route) return { route, params: decoded.filter((_, i) => route.pattern[i] === '*') };
  throw new RestError(404, `Nothing at ${path}. See docs/kaa-rest.md for the resources of ${API_PREFIX}.`);
}
