// A fleet of simulated kp1 devices over MQTT, in its own process. Each device is one TCP
// connection. Modes:
//   bind 'observe'  — sends command/<type> {"observe":true} (request id 1) and waits for the reply;
//                     pushes are then recorded and, with `answer`, each command is answered at once
//                     with a QoS 1 result (the PUBACK means it is stored: EXECUTED committed).
//   bind 'optout'   — the same with {"observe":false}; the reply lists the outstanding commands,
//                     whose ids `sendResults` later reports at a fixed rate.
//   bind 'subscribe'— SUBSCRIBEs to its push topic (bare-broker baselines).
// Latencies use the `t` (clock.now at invoke) the invoker put into each command payload.
import { MqttConn } from '../lib/mqtt-conn.ts';
import { now, sleep, until } from '../lib/clock.ts';
import { Samples } from '../lib/stats.ts';
import { cpuMs, serveWorker } from '../lib/worker.ts';

interface Device {
  conn: MqttConn;
  token: string;
  pushTopic: string;
  resultTopic: string;
  replyTopic: string;
  /** Outstanding command ids from the bind reply (optout mode). */
  ids: number[];
  waiter?: (payload: Buffer) => void;
}

interface ConnectArgs {
  host: string;
  port: number;
  appVersion: string;
  tokens: string[];
  clientPrefix: string;
  localAddresses: string[];
  concurrency: number;
  bind: 'observe' | 'optout' | 'subscribe' | 'none';
  commandType: string;
  answer: boolean;
}

const devices: Device[] = [];
const answered = new Set<number>();
let answer = false;
let received = 0;
let acked = 0;
let ackErrors = 0;
let errorsSeen = 0;
let firstReceivedAt = 0;
let lastAckAt = 0;
let lastReceivedAt = 0;
const recvLatency = new Samples();
const execLatency = new Samples();
const resultAckLatency = new Samples();
let cpuStart = process.cpuUsage();
let closedUnexpectedly = 0;
let disconnecting = false;
/** Ids of relayed test messages, unique across calls (devices de-duplicate by id). */
let relayIds = 0;

function onPush(device: Device, topic: string, payload: Buffer): void {
  if (topic === device.replyTopic) {
    const waiter = device.waiter;
    device.waiter = undefined;
    waiter?.(payload);
    return;
  }
  if (topic.endsWith('/error')) {
    if (errorsSeen++ < 5) process.stderr.write(`device ${device.token}: ${topic} ${payload.toString()}\n`);
    return;
  }
  if (topic !== device.pushTopic) return;
  const t = now();
  let list: { id: number; payload?: { t?: number } }[];
  try {
    list = JSON.parse(payload.toString());
  } catch {
    return;
  }
  for (const item of list) {
    // Delivery is at-least-once (kp1.md §2): devices de-duplicate by id.
    if (answered.has(item.id)) continue;
    answered.add(item.id);
    received++;
    lastReceivedAt = t;
    if (firstReceivedAt === 0) firstReceivedAt = t;
    const sentAt = item.payload?.t;
    if (typeof sentAt === 'number') recvLatency.add(t - sentAt);
    if (!answer) continue;
    const body = `[{"id":${item.id},"statusCode":200,"reasonPhrase":"OK"}]`;
    device.conn.publish(device.resultTopic, body, 1).then(
      (ackAt) => {
        acked++;
        lastAckAt = Math.max(lastAckAt, ackAt);
        if (typeof sentAt === 'number') execLatency.add(ackAt - sentAt);
      },
      () => ackErrors++,
    );
  }
}

async function connectOne(args: ConnectArgs, token: string, index: number): Promise<Device> {
  const base = `kp1/${args.appVersion}/cex/${token}`;
  const device: Device = {
    conn: new MqttConn({
      host: args.host,
      port: args.port,
      localAddress: args.localAddresses[index % args.localAddresses.length],
      clientId: `${args.clientPrefix}-${index}`,
    }),
    token,
    pushTopic: `${base}/command/${args.commandType}/status`,
    resultTopic: `${base}/result/${args.commandType}`,
    replyTopic: `${base}/command/${args.commandType}/1/status`,
    ids: [],
  };
  device.conn.onPublish = (topic, payload) => onPush(device, topic, payload);
  device.conn.onClose = () => {
    if (!disconnecting) closedUnexpectedly++;
  };
  await device.conn.connect();
  if (args.bind === 'observe' || args.bind === 'optout') {
    const reply = new Promise<Buffer>((resolve, reject) => {
      device.waiter = resolve;
      setTimeout(() => reject(new Error(`no reply to the command request of ${token}`)), 60_000).unref();
    });
    await device.conn.publish(`${base}/command/${args.commandType}/1`, `{"observe":${args.bind === 'observe'}}`, 1);
    const list = JSON.parse((await reply).toString()) as { id: number }[];
    device.ids = list.map((c) => c.id);
  } else if (args.bind === 'subscribe') {
    const granted = await device.conn.subscribe(device.pushTopic, 1);
    if (granted[0] === 128) throw new Error(`subscription refused for ${token}`);
  }
  return device;
}

async function connectAll(args: ConnectArgs) {
  answer = args.answer;
  const started = now();
  let next = 0;
  let failed = 0;
  let firstError: string | undefined;
  const lane = async () => {
    while (next < args.tokens.length) {
      const i = next++;
      try {
        devices.push(await connectOne(args, args.tokens[i]!, i));
      } catch (error) {
        failed++;
        firstError ??= String(error);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, args.concurrency) }, lane));
  return { connected: devices.length, failed, firstError, ms: now() - started, outstanding: devices.reduce((n, d) => n + d.ids.length, 0) };
}

/** Reports results for the outstanding ids at `rate` per second (open loop); PUBLISH→PUBACK latency. */
async function sendResults(args: { rate: number; durationMs: number; commandType: string; synthetic?: boolean }) {
  const total = Math.floor((args.rate * args.durationMs) / 1000);
  const queue: { device: Device; id: number }[] = [];
  // Interleave devices so consecutive results come from different connections.
  for (let round = 0; queue.length < total; round++) {
    let added = false;
    for (const device of devices) {
      const id = args.synthetic ? 1_000_000 + queue.length : device.ids[round];
      if (id === undefined) continue;
      queue.push({ device, id });
      added = true;
      if (queue.length >= total) break;
    }
    if (!added) break;
  }
  const lag = new Samples();
  let sent = 0;
  let done = 0;
  let failed = 0;
  const start = now() + 5;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const t = now();
      const due = t < start ? 0 : Math.min(queue.length, Math.floor(((t - start) * args.rate) / 1000) + 1);
      while (sent < due) {
        const { device, id } = queue[sent]!;
        const scheduled = start + (sent * 1000) / args.rate;
        sent++;
        const sentAt = now();
        lag.add(sentAt - scheduled);
        device.conn
          .publish(device.resultTopic, `[{"id":${id},"statusCode":200,"reasonPhrase":"OK","payload":{"ok":true}}]`, 1)
          .then(
            (ackAt) => resultAckLatency.add(ackAt - sentAt),
            () => failed++,
          )
          .finally(() => {
            done++;
            if (sent >= queue.length && done >= queue.length) resolve();
          });
      }
      if (sent < queue.length) setTimeout(tick, 1);
      else if (queue.length === 0) resolve();
    };
    setTimeout(tick, 5);
  });
  const elapsed = now() - start;
  return { planned: total, sent, failed, elapsedMs: elapsed, achievedRate: sent / (elapsed / 1000), lag: lag.take(), latency: resultAckLatency.take() };
}

/** Bare-broker baseline: publishes `total` pushes round-robin to `topics`, QoS 1, `window` in flight or at `rate`/s. */
async function relayPublish(args: {
  host: string;
  port: number;
  localAddress?: string;
  topics: string[];
  total: number;
  window?: number;
  rate?: number;
  pad: string;
}) {
  const conn = new MqttConn({ host: args.host, port: args.port, localAddress: args.localAddress, clientId: `relay-pub-${process.pid}` });
  await conn.connect();
  let sent = 0;
  let acked = 0;
  const ackLatency = new Samples();
  const started = now();
  const sendOne = () => {
    const i = sent++;
    const t = now();
    const body = `[{"id":${++relayIds},"payload":{"t":${t},"pad":"${args.pad}"}}]`;
    return conn.publish(args.topics[i % args.topics.length]!, body, 1).then((ackAt) => {
      acked++;
      ackLatency.add(ackAt - t);
    });
  };
  if (args.rate) {
    const rate = args.rate;
    await new Promise<void>((resolve, reject) => {
      const tick = () => {
        const due = Math.min(args.total, Math.floor(((now() - started) * rate) / 1000) + 1);
        while (sent < due) sendOne().catch(reject);
        if (sent < args.total) setTimeout(tick, 1);
        else until(() => acked >= args.total, 60_000, 'relay acks').then(resolve, reject);
      };
      tick();
    });
  } else {
    const window = args.window ?? 100;
    const lane = async () => {
      while (sent < args.total) await sendOne();
    };
    await Promise.all(Array.from({ length: window }, lane));
  }
  const endedAt = now();
  conn.end();
  return { startedAt: started, endedAt, sent, acked, ackLatency: ackLatency.take() };
}

serveWorker(
  {
    connect: connectAll,
    setAnswer: (args: { answer: boolean }) => {
      answer = args.answer;
    },
    stats: (args: { reset?: boolean }) => {
      const out = {
        devices: devices.length,
        received,
        acked,
        ackErrors,
        errors: errorsSeen,
        closedUnexpectedly,
        firstReceivedAt,
        lastReceivedAt,
        lastAckAt,
        cpuMs: cpuMs(cpuStart),
        recv: args.reset ? recvLatency.take() : [...recvLatency.peek()],
        exec: args.reset ? execLatency.take() : [...execLatency.peek()],
      };
      if (args.reset) {
        received = acked = ackErrors = errorsSeen = 0;
        firstReceivedAt = lastAckAt = lastReceivedAt = 0;
        cpuStart = process.cpuUsage();
      }
      return out;
    },
    /** Only counts, no samples: cheap to poll. */
    counts: () => ({ received, acked, lastAckAt, lastReceivedAt, closedUnexpectedly }),
    sendResults,
    relayPublish,
    disconnect: async () => {
      disconnecting = true;
      for (const d of devices) d.conn.end();
      await until(() => devices.every((d) => d.conn.closed), 20_000, 'devices to close').catch(() => {
        for (const d of devices) d.conn.destroy();
      });
      const n = devices.length;
      devices.length = 0;
      answered.clear();
      await sleep(10);
      disconnecting = false;
      closedUnexpectedly = 0;
      return { closed: n };
    },
  },
  () => {
    for (const d of devices) d.conn.destroy();
  },
);
