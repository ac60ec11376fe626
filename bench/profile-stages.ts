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

const NONE = STAGES.length;
const OTHER = 'other (node internals, timers, logs, metrics)';
const VM = new Map([
  ['(garbage collector)', 'garbage collection'],
  ['(program)', 'V8 and native, no JS stack'],
]);

/** Busy µs by stage; `parent` maps a node id to its caller's, `frame` gives a node's call frame. */
export function byStage(selfUs: Map<number, number>, parent: Map<number, number>, frame: (id: number) => Frame): Map<string, number> {
  // The first stage (lowest index in STAGES) of any frame from this node up to the root.
  const ranks = new Map<number, number>();
  const rankOf = (id: number): number => {
    let rank = ranks.get(id);
    if (rank === undefined) {
      const own = STAGES.findIndex(([, re]) => re.test(frame(id).url));
      const up = parent.get(id);
      rank = Math.min(own < 0 ? NONE : own, up === undefined ? NONE : rankOf(up));
      ranks.set(id, rank);
    }
    return rank;
  };
  const out = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName } = frame(id);
    if (functionName === '(idle)') continue;
    const vm = VM.get(functionName);
    const rank = vm ? NONE : rankOf(id);
    const stage = vm ?? (rank < NONE ? STAGES[rank]![0] : OTHER);
    out.set(stage, (out.get(stage) ?? 0) + us);
  }
  return out;
}
