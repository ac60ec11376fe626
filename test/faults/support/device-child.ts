// A device in a process of its own, so a test can freeze it (SIGSTOP) like a device that stops
// reading its socket. Usage: node --import tsx device-child.ts <mqttUrl> <appVersion> <token> <type>
// It reports on stdout, one JSON object a line: connected, bound, received (distinct ids), closed.
import mqtt from 'mqtt';
import './orphan-guard.ts';

const [url, appVersion, token, type] = process.argv.slice(2) as [string, string, string, string];
const emit = (event: Record<string, unknown>) => process.stdout.write(`${JSON.stringify(event)}\n`);
const ids = new Set<number>();
let connections = 0;

const client = mqtt.connect(url, {
  protocolVersion: 4,
  clientId: `child-${token}`,
  reconnectPeriod: 300,
  // Long enough that only the server's write timeout can drop this device while it is frozen.
  keepalive: 120,
  clean: true,
});
client.on('error', () => {});
client.on('connect', () => {
  connections++;
  const connection = connections;
  emit({ event: 'connected', connections, localPort: (client.stream as { localPort?: number }).localPort });
  client.publish(`kp1/${appVersion}/cex/${token}/command/${type}/1`, '{"observe":true}', { qos: 1 }, () =>
    emit({ event: 'bound', connections: connection }),
  );
});
client.on('message', (topic, payload) => {
  if (!topic.includes(`/command/${type}`) || !topic.endsWith('/status')) return;
  try {
    for (const c of JSON.parse(payload.toString('utf8')) as { id: number }[]) ids.add(c.id);
  } catch {
    return;
  }
  emit({ event: 'received', count: ids.size, connections });
});
client.on('close', () => emit({ event: 'closed', connections }));
