import { defineConfig } from 'vitest/config';

// Integration tests run against PGlite always, and again against a real PostgreSQL server when
// TEST_DATABASE_URL is set (CI sets it). Pure unit tests run once. Fault-injection tests kill
// servers and restart PostgreSQL: `npm run test:faults` runs them on their own, one file at a time.
const withPostgres = Boolean(process.env['TEST_DATABASE_URL']);
const faults = process.env['CEX_FAULTS'] === '1';
const integration = ['test/*.test.ts'];

const suites = [
  { extends: true as const, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
  { extends: true as const, test: { name: 'pglite', include: integration, env: { TEST_DB: 'pglite' } } },
  ...(withPostgres
    ? [{ extends: true as const, test: { name: 'postgres', include: integration, env: { TEST_DB: 'postgres' } } }]
    : []),
  // The console in a real browser (Debian's chromium); one file at a time, they drive one server each.
  {
    extends: true as const,
    test: {
      name: 'e2e',
      include: ['test/e2e/**/*.test.ts'],
      env: { TEST_DB: 'pglite' },
      globalSetup: ['test/e2e/global-setup.ts'],
      fileParallelism: false,
      testTimeout: 60_000,
    },
  },
];
const faultSuite = {
  extends: true as const,
  test: { name: 'faults', include: ['test/faults/**/*.test.ts'], fileParallelism: false, testTimeout: 180_000 },
};

export default defineConfig({
  resolve: {
    // graphql ships both .mjs and .js; one copy only, or its instanceof checks fail.
    alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }],
  },
  test: {
    // One module graph per worker, so each worker opens one PGlite (it is big) and one schema.
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    projects: faults ? [faultSuite] : suites,
  },
});
