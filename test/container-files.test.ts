// The image and compose files, checked by rules a linter (hadolint) would apply, since Docker is
// not available where the tests run; and the image's exact CMD run here against the build.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawnSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { buildServer, killGroup, ROOT, SERVER_ENTRY, startServer, tempDir, type Started } from './support/built-server.ts';
import { usingPostgres } from './support/app.ts';

const read = (file: string) => readFileSync(join(ROOT, file), 'utf8');

interface Instruction {
  op: string;
  args: string;
}

/** Dockerfile instructions, continuation lines joined, comments dropped. */
function instructions(text: string): Instruction[] {
  return text
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith('#'))
    .map((l) => {
      const [op, ...rest] = l.split(/\s+/);
      return { op: op!.toUpperCase(), args: rest.join(' ') };
    });
}

const dockerfile = instructions(read('Dockerfile'));
const all = (op: string) => dockerfile.filter((i) => i.op === op);
/** The instructions of the last stage: what the image runs. */
const runtime = dockerfile.slice(dockerfile.map((i) => i.op).lastIndexOf('FROM'));
const cmd = JSON.parse(runtime.find((i) => i.op === 'CMD')!.args) as string[];

describe('Dockerfile', () => {
  it('is multi-stage on pinned Node 22 LTS slim images', () => {
    const froms = all('FROM').map((i) => i.args);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const from of froms) expect(from).toMatch(/^node:22\.\d+\.\d+-\w+-slim\b/);
    expect(froms[0]).toMatch(/ AS build$/i);
    expect(runtime.some((i) => i.op === 'COPY' && i.args.startsWith('--from=build '))).toBe(true);
  });

  it('runs as a non-root user that owns the /data volume', () => {
    const users = runtime.filter((i) => i.op === 'USER').map((i) => i.args);
    expect(users.at(-1)).toBeDefined();
    expect(users.at(-1)).not.toMatch(/^(root|0)(:|$)/);
    expect(runtime.some((i) => i.op === 'RUN' && /chown\s+(-R\s+)?node(:node)?\s+\/data\b/.test(i.args))).toBe(true);
    expect(runtime.find((i) => i.op === 'VOLUME')?.args).toBe('/data');
    expect(runtime.find((i) => i.op === 'ENV')?.args).toMatch(/\bDATA_DIR=\/data\b/);
  });

  it('exposes HTTP and MQTT and checks readiness with node (no curl in slim images)', () => {
    expect(runtime.find((i) => i.op === 'EXPOSE')?.args.split(/\s+/).sort()).toEqual(['1883', '8080']);
    const health = runtime.find((i) => i.op === 'HEALTHCHECK')?.args ?? '';
    expect(health).toMatch(/CMD \["node", "-e", .*\/readyz/);
    expect(health).not.toMatch(/\b(curl|wget)\b/);
  });

  it('holds no secrets, and runs the compiled server with node (npm would not forward signals as PID 1)', () => {
    for (const i of dockerfile.filter((i) => i.op === 'ENV' || i.op === 'ARG')) {
      expect(i.args).not.toMatch(/(PASSWORD|SECRET|TOKEN|API_KEY|DATABASE_URL)\s*=/i);
    }
    expect(cmd).toEqual(['node', SERVER_ENTRY]);
  });

  it('leaves local data, builds and secrets out of the build context', () => {
    const ignored = read('.dockerignore').split('\n');
    for (const entry of ['node_modules', 'dist', 'data', '.env', '.git']) expect(ignored).toContain(entry);
  });
});

describe('docker-compose.yml', () => {
  const compose = read('docker-compose.yml');

  it('takes the database password from an env file, not from the file itself', () => {
    expect(compose).toMatch(/POSTGRES_PASSWORD: \$\{POSTGRES_PASSWORD:\?/);
    expect(compose).toMatch(/DATABASE_URL: postgres:\/\/cex:\$\{POSTGRES_PASSWORD[^}]*\}@postgres:5432\/cex/);
    expect(compose).not.toMatch(/(PASSWORD|ADMIN_API_KEY): (?!\$\{)\S/);
    expect(read('.env.example')).toMatch(/^POSTGRES_PASSWORD=/m);
    expect(read('.gitignore').split('\n')).toContain('.env');
  });

  it('turns GraphiQL and anonymous introspection off, uses an init, and starts after PostgreSQL is healthy', () => {
    expect(compose).toMatch(/GRAPHIQL: "false"/);
    expect(compose).toMatch(/ANONYMOUS_INTROSPECTION: "false"/);
    expect(compose).toMatch(/init: true/);
    expect(compose).toMatch(/depends_on:\s+postgres:\s+condition: service_healthy/);
    expect(compose).toMatch(/healthcheck:\s+test: \["CMD-SHELL", "pg_isready/);
    expect(compose).toMatch(/image: postgres:15\.\d+/);
  });
});

interface ComposeService {
  profiles?: string[];
  image?: string;
  build?: string;
  init?: boolean;
  depends_on?: Record<string, { condition: string }> | string[];
  environment?: Record<string, string>;
  ports?: string[];
  expose?: string[];
  volumes?: string[];
  stop_grace_period?: string;
}

/** HAProxy's sections (`backend cex_http` → its lines), comments and blank lines dropped. */
function haproxySections(text: string): Map<string, string[]> {
  const sections = new Map<string, string[]>();
  let current: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.replace(/#.*$/, '').trim();
    if (!line) continue;
    if (/^\S/.test(raw)) sections.set(line, (current = []));
    else current.push(line);
  }
  return sections;
}

describe('docker-compose.yml, profile "cluster": two nodes behind HAProxy', () => {
  const services = (parseYaml(read('docker-compose.yml')) as { services: Record<string, ComposeService> }).services;
  const nodes = ['cex-1', 'cex-2'];
  const haproxy = haproxySections(read('deploy/haproxy.cfg'));

  it('adds the nodes and HAProxy under the profile, leaving the default services as they were', () => {
    for (const name of [...nodes, 'haproxy']) expect(services[name]?.profiles, name).toEqual(['cluster']);
    expect(services['postgres']?.profiles).toBeUndefined();
    expect(services['cex']?.profiles).toBeUndefined();
  });

  it('runs each node like the single server, on the same PostgreSQL, reachable only through HAProxy', () => {
    for (const name of nodes) {
      const node = services[name]!;
      expect(node.build).toBe('.');
      expect(node.init).toBe(true);
      expect(node.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
      expect(node.environment?.['DATABASE_URL']).toBe(services['cex']!.environment!['DATABASE_URL']);
      expect(node.environment).toMatchObject({ GRAPHIQL: 'false', ANONYMOUS_INTROSPECTION: 'false' });
      expect(node.ports).toBeUndefined();
      expect(node.expose?.sort()).toEqual(['1883', '8080']);
      expect(parseInt(node.stop_grace_period ?? '0')).toBeGreaterThanOrEqual(15);
      // Behind a proxy every connection comes from its address (README, Security).
      for (const cap of ['MQTT_MAX_CONNECTIONS_PER_ADDRESS', 'MQTT_MAX_PUBLISHES_PER_ADDRESS_PER_SECOND', 'HTTP_MAX_CONNECTIONS_PER_ADDRESS']) {
        expect(Number(node.environment?.[cap]), `${name} ${cap}`).toBeGreaterThanOrEqual(1_000_000);
      }
    }
  });

  it('publishes HAProxy with deploy/haproxy.cfg, after both nodes', () => {
    const lb = services['haproxy']!;
    expect(lb.image).toMatch(/^haproxy:\d+\.\d+/);
    expect(lb.volumes).toContain('./deploy/haproxy.cfg:/usr/local/etc/haproxy/haproxy.cfg:ro');
    expect(lb.depends_on).toEqual(nodes);
    const published = (lb.ports ?? []).map((p) => p.split(':').at(-1));
    expect(published).toEqual(expect.arrayContaining(['8080', '1883']));
  });

  it('balances HTTP and MQTT (TCP mode) over both nodes, each checked on GET /readyz', () => {
    const frontends = [...haproxy].filter(([name]) => name.startsWith('frontend '));
    expect(frontends.map(([, lines]) => lines.find((l) => l.startsWith('bind '))).sort()).toEqual(['bind :1883', 'bind :8080']);
    for (const [backend, port] of [['backend cex_http', '8080'], ['backend cex_mqtt', '1883']] as const) {
      const lines = haproxy.get(backend)!;
      expect(lines, backend).toBeDefined();
      expect(lines.filter((l) => l.startsWith('server ')), backend).toEqual(nodes.map((n) => `server ${n} ${n}:${port}`));
      expect(lines).toContain('option httpchk');
      expect(lines).toContain('http-check send meth GET uri /readyz');
      expect(lines).toContain('http-check expect status 200');
    }
    expect(haproxy.get('backend cex_mqtt')).toContain('mode tcp');
    expect(haproxy.get('frontend mqtt')).toContain('mode tcp');
    // The MQTT port has no /readyz: its check goes to the node's HTTP port.
    expect(haproxy.get('backend cex_mqtt')!.find((l) => l.startsWith('default-server '))).toMatch(/\bport 8080\b/);
    expect(haproxy.get('defaults')!.find((l) => l.startsWith('default-server '))).toMatch(/\bcheck\b/);
  });

  it.skipIf(!existsSync('/usr/sbin/haproxy'))('is a configuration HAProxy accepts (haproxy -c)', () => {
    const check = spawnSync('/usr/sbin/haproxy', ['-c', '-f', join(ROOT, 'deploy/haproxy.cfg')], { encoding: 'utf8' });
    expect(check.status, check.stdout + check.stderr).toBe(0);
  });
});

describe("the image's command line", () => {
  let server: Started | undefined;
  beforeAll(() => buildServer());
  afterAll(() => server && killGroup(server.child));

  it('serves, passes the HEALTHCHECK and drains on SIGTERM (exit 0)', async () => {
    const database = usingPostgres ? { DATABASE_URL: process.env['TEST_DATABASE_URL'] } : { DATA_DIR: tempDir('cex-image-') };
    server = startServer({ ...database, NODE_ENV: 'production', ADMIN_API_KEY: 'image-admin-key-0123456789' }, cmd.map((a) => (a === 'node' ? process.execPath : a)));
    const { url } = await server.ready();
    expect((await fetch(`${url}/livez`)).status).toBe(200);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    const health = JSON.parse(/CMD (\[.*\])$/.exec(runtime.find((i) => i.op === 'HEALTHCHECK')!.args)![1]!) as string[];
    const probe = spawnSync(process.execPath, health.slice(1), { env: { ...process.env, PORT: new URL(url).port }, timeout: 10_000 });
    expect(probe.status).toBe(0);
    server.child.kill('SIGTERM');
    expect((await server.exited).code).toBe(0);
  }, 150_000);
});
