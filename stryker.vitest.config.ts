import { defineConfig } from 'vitest/config';

// The vitest configuration Stryker runs (stryker.config.mjs): PGlite only, and only the test
// files it names for the module being mutated.
const files = (process.env['CEX_MUTATION_TESTS'] ?? '').split(',').filter(Boolean);

export default defineConfig({
  resolve: { alias: [{ find: /^graphql$/, replacement: 'graphql/index.js' }] },
  test: {
    include: files,
    env: { TEST_DB: 'pglite' },
    isolate: false,
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
