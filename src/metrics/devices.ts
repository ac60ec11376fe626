// Device metrics: kp1 requests by transport, resource (a row of kp1/resources.ts) and status
// code; MQTT connections and bindings; how long a command push takes to reach the socket.
import type { ServerResponse } from 'node:http';
import { Counter, Gauge, Histogram } from 'prom-client';
import { parseHttpPath } from '../devices/kp1/grammar.ts';
import type { ResourceKind } from '../devices/kp1/resources.ts';
import type { DeviceSessions } from '../devices/sessions.ts';
import { GaugeSources, registry, secondsSince } from './registry.ts';

export type Transport = 'http' | 'mqtt';
/** A request whose path or topic names no resource of the table. */
export const UNKNOWN_RESOURCE = 'unknown';

const requests = new Counter({
  name: 'cex_device_requests_total',
  help: 'kp1 requests answered, by transport (http, mqtt), resource (a kind of kp1/resources.ts, or unknown) and status code.',
  labelNames: ['transport', 'resource', 'status_code'],
  registers: [registry],
});

type CounterChild = ReturnType<Counter['labels']>;
/** Status codes are the server's own (kp1/errors.ts), a handful: the children stay few. */
const children = new Map<string, CounterChild>();

export function countDeviceRequest(transport: Transport, resource: ResourceKind | typeof UNKNOWN_RESOURCE, statusCode: number): void {
  const key = `${transport} ${resource} ${statusCode}`;
  let child = children.get(key);
  if (!child) children.set(key, (child = requests.labels(transport, resource, String(statusCode))));
  child.inc();
}

/** Counts the kp1 HTTP request when its answer is sent, by the resource the grammar resolves. */
export function countHttpDeviceRequest(path: string, res: ServerResponse): void {
  res.once('finish', () => countDeviceRequest('http', resourceKindOf(path), res.statusCode));
}

function resourceKindOf(path: string): ResourceKind | typeof UNKNOWN_RESOURCE {
  try {
    return parseHttpPath(path).resource.kind;
  } catch {
    return UNKNOWN_RESOURCE;
  }
}

const mqttSources = new GaugeSources<{ sockets: ReadonlySet<unknown>; sessions: DeviceSessions }>();

new Gauge({
  name: 'cex_mqtt_connections',
  help: 'Open MQTT (TCP) connections.',
  registers: [registry],
  collect() {
    this.set(mqttSources.sum((s) => s.sockets.size));
  },
});
new Gauge({
  name: 'cex_mqtt_bound_connections',
  help: 'MQTT connections bound to at least one endpoint (they presented a token).',
  registers: [registry],
  collect() {
    this.set(mqttSources.sum((s) => s.sessions.connectionCount));
  },
});
new Gauge({
  name: 'cex_mqtt_bound_endpoints',
  help: 'Endpoints with at least one MQTT connection bound on this process.',
  registers: [registry],
  collect() {
    this.set(mqttSources.sum((s) => s.sessions.endpointCount));
  },
});

/** Reports a listener's connections and sessions until the returned function is called. */
export function watchMqtt(source: { sockets: ReadonlySet<unknown>; sessions: DeviceSessions }): () => void {
  return mqttSources.add(source);
}

const pushSeconds = new Histogram({
  name: 'cex_mqtt_push_seconds',
  help: "From this process handling a new command's event to its PUBLISH being written to the device's connection.",
  buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
  registers: [registry],
});

/** The callback that observes a push begun at `startMs` (performance.now()) once it is written. */
export function pushWritten(startMs: number): () => void {
  return () => pushSeconds.observe(secondsSince(startMs));
}
