import { defineConfig } from 'vitest/config';

// Tests import workspace packages from their TypeScript sources through the
// "source" export condition, so `npm test` needs no prior build of the libraries.
export default defineConfig({
  resolve: { conditions: ['source'] },
  ssr: { resolve: { conditions: ['source'] } },
  test: {
    include: ['packages/*/test/**/*.test.ts', 'deploy/test/**/*.test.ts', 'test/**/*.test.ts'],
    pool: 'forks',
    testTimeout: 120_000,
    hookTimeout: 180_000,
    reporters: ['default', './test-support/summary-reporter.ts'],
  },
});
