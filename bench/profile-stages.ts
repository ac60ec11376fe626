// Where the server's CPU goes by stage of a command's life, from a V8 profile: each sample is
// given to the first stage, in the order below, that any frame of its stack belongs to (the
// stack up to the last await: work resumed after an await counts where it resumes).
// An indicator of what each part costs, not an exact split.
interface Frame {
  functionName: string;
  url: string;
}

const STAGES: [string, RegExp][] = [
  ['events from NOTIFY (decode, route, subscribers)', /\/src\/events\//],
  ['deliveries (timeline writes)', /\/src\/(domain\/deliveries|storage\/delivery-store|devices\/mqtt\/delivery-acks)/],
  ['command writes (invoke, result, expiry; group commit)', /\/src\/(domain\/(commands|command-inserts|group-commit|audit)|storage\/(command-store|audit-store|raw))/],
  ['devices: MQTT broker and kp1 (aedes, mqtt-packet, src/devices)', /\/(src\/devices\/|node_modules\/(aedes|mqtt-packet|aedes-[^/]+|mqemitter|qlobber)\/)/],
  ['operators: GraphQL over HTTP (yoga, envelop, graphql, src/graphql)', /\/(src\/(graphql|http|rest)|node_modules\/(graphql|graphql-yoga|@graphql-[^/]+|@envelop\/[^/]+|@whatwg-node\/[^/]+|@pothos\/[^/]+))/],
  ['drizzle (query building, row mapping), other callers', /\/node_modules\/drizzle-orm\//],
  ['postgres.js protocol and socket I/O, other callers', /\/node_modules\/postgres\//],
];

/** Busy µs by stage; `parent` maps a node id to its caller's, `frame` gives a node's call frame. */
export function byStage(selfUs: Map<number, number>, parent: Map<number, number>, frame: (id: number) => Frame): Map<string, number> {
  const out = new Map<string, number>();
  const memo = new Map<number, string>();
  const stageOf = (id: number): string => {
    const known = memo.get(id);
    if (known) return known;
    const f = frame(id);
    let stage: string | undefined;
    if (f.functionName === '(garbage collector)') stage = 'garbage collection';
    else if (f.functionName === '(program)') stage = 'V8 and native, no JS stack';
    else {
      const mine = STAGES.findIndex(([, re]) => re.test(f.url));
      const up = parent.get(id);
      const above = up === undefined ? undefined : stageOf(up);
      const rank = (s: string | undefined) => {
        const i = STAGES.findIndex(([name]) => name === s);
        return i < 0 ? STAGES.length : i;
      };
      const r = Math.min(mine < 0 ? STAGES.length : mine, rank(above));
      stage = r < STAGES.length ? STAGES[r]![0] : undefined;
    }
    const result = stage ?? 'other (node internals, timers, logs, metrics)';
    memo.set(id, result);
    return result;
  };
  for (const [id, us] of selfUs) {
    if (frame(id).functionName === '(idle)') continue;
    const s = stageOf(id);
    out.set(s, (out.get(s) ?? 0) + us);
  }
  return out;
}
