// Mutation testing (`npm run test:mutation`, not in CI: hours on two cores). One module at a
// time, each against only the test files that exercise it, so a surviving mutant costs minutes,
// not the whole suite: `STRYKER_MODULE=auth npm run test:mutation` runs one; without it, the
// package.json script runs them all in turn. Reports: reports/mutation/<module>.html.
const modules = {
  auth: {
    mutate: ['src/domain/auth.ts'],
    tests: ['test/auth.test.ts', 'test/auth-header.test.ts', 'test/subscription-revocation.test.ts', 'test/security-graphql-ws.test.ts', 'test/audit.test.ts'],
  },
  'mqtt-authorization': {
    mutate: ['src/devices/mqtt/authorize-publish.ts', 'src/devices/mqtt/authorize-subscribe.ts', 'src/devices/mqtt/limits.ts'],
    // security-mqtt-flood: the per-token and per-address budgets; mqtt-request-order: the
    // per-connection request queue.
    tests: [
      'test/security-mqtt-acl.test.ts',
      'test/security-mqtt-limits.test.ts',
      'test/devices-mqtt.test.ts',
      'test/security-mqtt-flood.test.ts',
      'test/mqtt-request-order.test.ts',
    ],
  },
  // The grammar is pure: its unit tests alone, in seconds per mutant.
  'kp1-grammar': {
    mutate: ['src/devices/kp1/grammar.ts'],
    tests: ['test/unit/kp1-topics.test.ts', 'test/unit/kp1-grammar-refusals.test.ts', 'test/unit/kp1-reply-topics.test.ts'],
  },
  'kp1-dispatch': {
    mutate: ['src/devices/kp1/dispatch.ts'],
    tests: [
      'test/devices-http.test.ts', 'test/devices-misuse.test.ts', 'test/devices-mqtt.test.ts',
      // Endpoint credentials, the all-types resource, epmx, the 503 of a failing database, DCX_TIMESTAMP_FIELD.
      'test/security-mqtt-credentials.test.ts', 'test/kp1-compat.test.ts', 'test/epmx.test.ts', 'test/input-validation-devices.test.ts', 'test/telemetry.test.ts',
    ],
  },
  commands: {
    mutate: ['src/domain/commands.ts', 'src/domain/expiry.ts', 'src/domain/first-report-wins.ts'],
    tests: [
      'test/unit/first-report-wins.test.ts', 'test/commands-invoke.test.ts', 'test/commands-outcome.test.ts', 'test/devices-http.test.ts',
      'test/commands-cancel.test.ts', 'test/commands-cancel-expired.test.ts', 'test/subscriptions.test.ts',
      // An empty result batch, a batch's event order, a sweep of several batches.
      'test/commands-results-batch.test.ts',
      // Invoke, re-run and history checks; idempotency keys (replay); the sweeper's log through failures.
      'test/commands-checks.test.ts', 'test/commands-history.test.ts', 'test/commands-idempotency.test.ts', 'test/expiry-sweeper.test.ts',
      // The history filter by delivery; the roles each operation needs; a cancel's audit record.
      'test/command-delivery.test.ts', 'test/auth.test.ts', 'test/audit.test.ts',
    ],
  },
  'event-stream': {
    mutate: ['src/events/stream.ts'],
    tests: [
      'test/subscriptions.test.ts', 'test/subscription-routing.test.ts', 'test/subscription-revocation.test.ts', 'test/subscription-slow.test.ts',
      // PostgreSQL only (STRYKER_DB=postgres): the event feed lost.
      'test/event-feed-lost.test.ts',
    ],
  },
};

const name = process.env.STRYKER_MODULE ?? 'auth';
const module = modules[name];
if (!module) throw new Error(`STRYKER_MODULE must be one of ${Object.keys(modules).join(', ')}`);
// Read by stryker.vitest.config.ts in the test-runner processes, which inherit this environment.
process.env.CEX_MUTATION_TESTS = module.tests.join(',');

/** @type {import('@stryker-mutator/api/core').PartialStrykerOptions} */
export default {
  testRunner: 'vitest',
  plugins: ['@stryker-mutator/vitest-runner'],
  vitest: { configFile: 'stryker.vitest.config.ts', related: false },
  // STRYKER_MUTATE=file.ts:10-40,… narrows a module to line ranges (a run that would take too long).
  mutate: process.env.STRYKER_MUTATE?.split(',') ?? module.mutate,
  coverageAnalysis: 'perTest',
  // Two cores shared with other work: one runner, and the servers inside tests are slow to start.
  concurrency: 1,
  timeoutMS: 5_000,
  reporters: ['clear-text', 'progress', 'html', 'json'],
  htmlReporter: { fileName: `reports/mutation/${name}.html` },
  jsonReporter: { fileName: `reports/mutation/${name}.json` },
  // One directory per module, none copied into another's sandbox: modules can run side by side.
  tempDirName: `.stryker-tmp/${name}`,
  ignorePatterns: ['.stryker-tmp'],
  cleanTempDir: true,
};
