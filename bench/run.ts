// `npm run bench`: measures the service the way users load it and, in the same run, the raw
// limits of the parts it stands on (aedes, PostgreSQL through postgres.js, yoga + graphql-ws,
// node:http), and prints both with their ratio. See bench/README.md.
//
// Everything runs on loopback. The server is `node --import tsx src/main.ts` in its own process
// on a real PostgreSQL (a private one started here when DATABASE_URL is unset) or PGlite with
// --embedded. Load generators run in their own processes (bench/workers/*), driven over IPC.
// This file is the runner: the scenarios are bench/scenarios/*, run in the order listed here.
import { writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { now } from './lib/clock.ts';
import { newRun, parseConfig, type BenchConfig, type RunInfo } from './lib/config.ts';
import type { BenchContext, Scenario } from './lib/context.ts';
import { shortfalls } from './lib/fleet.ts';
import { log } from './lib/log.ts';
import { loadAverage, memoryOf } from './lib/proc.ts';
import { formatTable, machine, Report, serverProfiles, versions } from './lib/report.ts';
import { Servers } from './lib/servers.ts';
import { targetRows } from './lib/targets.ts';
import { createEndpoints, detectCapabilities, pipelineOps } from './lib/service-api.ts';
import { WorkerPool } from './lib/worker-pool.ts';
import { e2e } from './scenarios/01-e2e.ts';
import { latency } from './scenarios/02-latency.ts';
import { results } from './scenarios/03-results.ts';
import { subscriptions } from './scenarios/04-subscriptions.ts';
import { connections } from './scenarios/05-connections.ts';
import { polling } from './scenarios/06-polling.ts';
import { fleetPaging } from './scenarios/07-fleet-paging.ts';
import { consoleLoad } from './scenarios/08-console-load.ts';
import { startup } from './scenarios/09-startup.ts';
import { notifyFanout } from './scenarios/10-notify-fanout.ts';
import { workers } from './scenarios/11-workers.ts';
import { bulkInvoke } from './scenarios/12-bulk-invoke.ts';
import { webhooks } from './scenarios/13-webhooks.ts';

const SCENARIOS: readonly Scenario[] = [e2e, latency, results, subscriptions, connections, polling, fleetPaging, consoleLoad, startup, notifyFanout, workers, bulkInvoke, webhooks];

async function main(config: BenchConfig, run: RunInfo, servers: Servers, workers: WorkerPool): Promise<void> {
  const { settings } = config;
  const selected = (name: string) => config.scenarios.includes(name);
  const loadBefore = loadAverage();
  const startedAt = new Date();
  await servers.startJanitor();
  log(`cex bench ${settings.quick ? '(quick) ' : ''}run ${run.id}; load average ${loadBefore.join(' ')}; open files ${run.nofile}`);
  if (run.nofile < settings.connections.count + 100 && selected('connections')) {
    log(`warning: the open-file limit (${run.nofile}) is below ${settings.connections.count + 100}; the connections scenario will fail`);
  }
  const database = await servers.startDatabase();
  const server = await servers.startServer('main');
  const needed = Math.max(settings.devices, settings.results.devices, selected('connections') ? settings.connections.count : 0) + settings.polling.endpoints;
  const endpoints = await createEndpoints(server.url, run, needed);
  const capabilities = await detectCapabilities(server.url, run.adminKey);
  log(`server capabilities: ${JSON.stringify(capabilities)}`);
  const report = new Report();
  const ctx: BenchContext = { run, settings, servers, workers, report, endpoints, pipeline: pipelineOps(capabilities) };

  const failures: string[] = [];
  for (const scenario of SCENARIOS) {
    if (!selected(scenario.name)) continue;
    const t = now();
    try {
      await scenario.run(ctx);
    } catch (error) {
      failures.push(scenario.name);
      log(`scenario ${scenario.name} failed: ${error instanceof Error ? error.stack : String(error)}`);
      report.figures[`${scenario.name}Error`] = String(error);
    }
    log(`scenario ${scenario.name} took ${((now() - t) / 1000).toFixed(1)} s`);
  }
  targetRows(report, settings);
  // In CI (--quick) a scenario that delivered fewer commands or events than it sent fails the run:
  // a broken hot path must not land green as a warning.
  if (settings.quick && shortfalls.length > 0) {
    failures.push('deliveries');
    log(`deliveries fell short: ${shortfalls.join('; ')}`);
  }
  const serverRss = servers.running ? memoryOf(servers.running.pid) : undefined;
  await servers.stopServer();
  const profile = settings.cpuProf ? serverProfiles(run.profDir) : undefined;
  servers.stopDatabase();

  const result = {
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    runId: run.id,
    ok: failures.length === 0,
    failedScenarios: failures,
    machine: machine(loadBefore, run.nofile),
    versions: versions(run.benchDir, report.figures['postgresVersion']),
    settings: { ...settings, database, scenarios: config.scenarios, serverCapabilities: capabilities, pipelineMode: ctx.pipeline.label },
    finalServerMemory: serverRss,
    table: report.rows,
    scenarios: report.figures,
    profile,
  };
  const file = join(run.resultsDir, `${run.stamp}.json`);
  writeFileSync(file, JSON.stringify(result, null, 2));
  process.stdout.write(`\ncex bench ${settings.quick ? '--quick ' : ''}${startedAt.toISOString()} — ${cpus().length} cores, ${result.machine.memoryMiB} MiB, load ${loadBefore.join(' ')} → ${result.machine.loadAverageAfter.join(' ')}; ${settings.embedded ? 'PGlite' : 'PostgreSQL'}\n\n`);
  process.stdout.write(`${formatTable(report.rows)}\n\nAll figures: ${file}\n`);
  if (failures.length) {
    process.stdout.write(`Failed scenarios: ${failures.join(', ')} (see above)\n`);
    process.exitCode = 1;
  }
}

/** Runs the bench; workers, servers and temp directories are cleaned up however it ends. */
function bench(config: BenchConfig): void {
  const run = newRun();
  const workers = new WorkerPool(run.nofile);
  const servers = new Servers(config, run);
  const cleanup = async () => {
    await workers.stopAll();
    await servers.stopAll();
  };
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (interrupted) process.exit(130);
      interrupted = true;
      log(`${signal}: stopping`);
      cleanup().finally(() => process.exit(130));
    });
  }
  main(config, run, servers, workers)
    .catch((error) => {
      log(`bench failed: ${error instanceof Error ? error.stack : String(error)}`);
      process.exitCode = 1;
    })
    .finally(async () => {
      await cleanup();
      // Workers exit with their IPC channel; nothing else should hold the loop.
      setTimeout(() => process.exit(process.exitCode ?? 0), 1000).unref();
    });
}

const config = parseConfig(process.argv.slice(2), SCENARIOS.map((s) => s.name));
if (config) bench(config);
