import { defineConfig } from 'vitest/config';

// Integration tests run against PGlite always, and again against a real PostgreSQL server when
// TEST_DATABASE_URL is set (CI sets it). Pure unit tests run once.
const withPostgres = Boolean(process.env['TEST_DATABASE_URL']);
const integration = ['test/*.test.ts'];

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
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'] } },
      { extends: true, test: { name: 'pglite', include: integration, env: { TEST_DB: 'pglite' } } },
      ...(withPostgres
        ? [{ extends: true as const, test: { name: 'postgres', include: integration, env: { TEST_DB: 'postgres' } } }]
        : []),
    ],
  },
});
