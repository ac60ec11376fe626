// A device simulator: what a new user runs to see the whole loop.
//
//   npm run device -- --app-version smart-light-v1 --token my-lamp-1
//   npm run device -- --app-version smart-light-v1 --token my-lamp-1 --http
//
// Over MQTT (default) it observes commands, prints each one it gets, and answers each with a
// result; over HTTP (--http) it long-polls instead. Now and then it sends a telemetry sample.
import { parseArgs } from 'node:util';
import mqtt from 'mqtt';

const { values: args } = parseArgs({
  options: {
    'app-version': { type: 'string' },
    token: { type: 'string' },
    http: { type: 'boolean', default: false },
    mqtt: { type: 'string', default: process.env['DEVICE_MQTT_URL'] ?? `mqtt://127.0.0.1:${process.env['MQTT_PORT'] || 1883}` },
    server: { type: 'string', default: process.env['DEVICE_HTTP_URL'] ?? `http://127.0.0.1:${process.env['PORT'] || 8080}` },
    types: { type: 'string', default: 'reboot,switch-light,zero' },
    'status-code': { type: 'string', default: '200' },
    'reason-phrase': { type: 'string', default: 'OK' },
    'telemetry-every': { type: 'string', default: '10' },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (args.help || !args['app-version'] || !args.token) {
  process.stdout.write(`Usage: npm run device -- --app-version <name> --token <token> [options]

  --http                 poll over HTTP instead of MQTT
  --mqtt <url>           MQTT server (default $DEVICE_MQTT_URL, else mqtt://127.0.0.1:$MQTT_PORT,
                         MQTT_PORT defaulting to 1883 like the server's)
  --server <url>         HTTP server (default $DEVICE_HTTP_URL, else http://127.0.0.1:$PORT,
                         PORT defaulting to 8080 like the server's)
  --types <a,b>          command types to observe (default reboot,switch-light,zero)
  --status-code <n>      status code to answer with (default 200)
  --reason-phrase <s>    reason phrase to answer with (default OK)
  --telemetry-every <s>  seconds between telemetry samples, 0 for none (default 10)

A value that starts with '-' needs the --name=value form, e.g. --token=-my-token.
`);
  process.exit(args.help ? 0 : 2);
}

const appVersion = args['app-version'];
const token = args.token;
const types = args.types.split(',').map((t) => t.trim()).filter(Boolean);
const statusCode = Number(args['status-code']);
const reasonPhrase = args['reason-phrase'];
const telemetryEvery = Number(args['telemetry-every']);
const base = `kp1/${appVersion}/cex/${token}`;
const seen = new Set<number>(); // devices de-duplicate by id: delivery is at-least-once

interface Command {
  id: number;
  payload?: unknown;
}

const log = (message: string) => process.stdout.write(`${new Date().toISOString()} ${message}\n`);

function fail(message: string): never {
  process.stderr.write(`${message}\n`);
  process.exit(1);
}

/** "connect ECONNREFUSED 127.0.0.1:1883", not a stack trace (fetch hides the reason in `cause`). */
function describe(error: unknown): string {
  const cause = (error as { cause?: unknown }).cause;
  const e = cause instanceof Error ? cause : error;
  if (e instanceof AggregateError && e.errors[0] instanceof Error) return e.errors[0].message;
  return e instanceof Error ? e.message || e.name : String(e);
}

function sample() {
  return { timestamp: Date.now(), temperature: Math.round((20 + Math.random() * 5) * 10) / 10, uptime: Math.round(process.uptime()) };
}

/** Prints new commands and returns the results to report. */
function execute(type: string, commands: Command[]) {
  const fresh = commands.filter((c) => !seen.has(c.id));
  for (const c of fresh) {
    seen.add(c.id);
    log(`command ${type} #${c.id}${c.payload === undefined ? '' : ` payload ${JSON.stringify(c.payload)}`}`);
  }
  return fresh.map((c) => ({ id: c.id, statusCode, reasonPhrase, payload: { executedBy: 'simulator' } }));
}

async function runMqtt(): Promise<void> {
  // The first connection fails fast with one line; once connected, the client reconnects.
  const client = await mqtt
    .connectAsync(args.mqtt, { protocolVersion: 4, clientId: `sim-${process.pid}`, reconnectPeriod: 0, connectTimeout: 10_000 })
    .catch((error: unknown) => fail(`cannot connect to ${args.mqtt}: ${describe(error)}`));
  client.options.reconnectPeriod = 2000;
  log(`connected to ${args.mqtt} as ${appVersion}`);
  let requestId = 1;
  client.on('message', (topic, payload) => {
    const match = /\/cex\/[^/]+\/command\/([^/]+)(?:\/\d+)?\/status$/.exec(topic);
    if (topic.endsWith('/error')) return log(`error on ${topic.replace(token, '<token>')}: ${payload.toString()}`);
    if (!match) return;
    const type = match[1]!;
    const results = execute(type, JSON.parse(payload.toString()) as Command[]);
    if (results.length > 0) {
      void client.publishAsync(`${base}/result/${type}/${requestId++}`, JSON.stringify(results), { qos: 1 });
      log(`reported ${results.length} result(s) for ${type} with ${statusCode}`);
    }
  });
  client.on('reconnect', () => log('reconnecting...'));
  for (const type of types) {
    await client.publishAsync(`${base}/command/${type}/${requestId++}`, JSON.stringify({ observe: true }), { qos: 1 });
  }
  log(`observing ${types.join(', ')}`);
  if (telemetryEvery > 0) {
    setInterval(() => {
      void client.publishAsync(`kp1/${appVersion}/dcx/${token}/json/${requestId++}`, JSON.stringify(sample()), { qos: 1 });
    }, telemetryEvery * 1000);
  }
  process.on('SIGINT', () => client.end(false, {}, () => process.exit(0)));
}

async function post(path: string, body: unknown, wait = 0): Promise<Response> {
  return fetch(`${args.server}/kp1/${appVersion}/${path}${wait ? `?wait=${wait}` : ''}`, {
    method: 'POST',
    body: JSON.stringify(body),
    headers: { 'content-type': 'application/json' },
  });
}

async function runHttp(): Promise<void> {
  await fetch(args.server, { method: 'HEAD' }).catch((error: unknown) => fail(`cannot connect to ${args.server}: ${describe(error)}`));
  log(`polling ${args.server} as ${appVersion} for ${types.join(', ')}`);
  if (telemetryEvery > 0) {
    setInterval(() => void post(`dcx/${token}/json`, sample()).catch(() => {}), telemetryEvery * 1000);
  }
  for (;;) {
    for (const type of types) {
      try {
        // Long-poll the first type; ask the others without waiting.
        const res = await post(`cex/${token}/command/${type}`, {}, type === types[0] ? 20 : 0);
        if (!res.ok) {
          log(`poll ${type} failed: ${res.status} ${await res.text()}`);
          await new Promise((r) => setTimeout(r, 2000));
          continue;
        }
        const results = execute(type, (await res.json()) as Command[]);
        if (results.length > 0) {
          const reported = await post(`cex/${token}/result/${type}`, results);
          log(`reported ${results.length} result(s) for ${type}: HTTP ${reported.status}`);
        }
      } catch (error) {
        log(`server unreachable (${(error as Error).message}); retrying`);
        await new Promise((r) => setTimeout(r, 2000));
      }
    }
  }
}

await (args.http ? runHttp() : runMqtt());
