import { defineConfig } from 'vitest/config';

// The vitest configuration Stryker runs (stryker.config.mjs): only the test files it names for
// the module being mutated, on PGlite; STRYKER_DB=postgres (with TEST_DATABASE_URL) runs them on
// PostgreSQL instead, for what only PostgreSQL has (a LISTEN connection that can be cut).
const files = (process.env['CEX_MUTATION_TESTS'] ?? '').split(',').filter(Boolean);
const database = process.env['STRYKER_DB'] === 'postgres' ? 'postgres' : 'pglite';

export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: files,
    env: { TEST_DB: database },
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
