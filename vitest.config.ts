import { defineConfig } from 'vitest/config';

const BROWSER_TESTS = 'e2e/test/*.browser.test.ts';

export default defineConfig({
  test: {
    globalSetup: ['./packages/testing/src/global-setup.ts'],
    setupFiles: ['./packages/http/test/contract-setup.ts'],
    pool: 'forks',
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
    projects: [
      {
        extends: true,
        test: {
          name: 'node',
          include: ['{gateway,services/*,packages/*,e2e,web}/test/**/*.test.ts'],
          exclude: ['**/node_modules/**', BROWSER_TESTS],
        },
      },
      // Chromium and a second whole system take both cores: the browser tests run after the rest,
      // so they do not starve the timing-sensitive tests (lease races, expiry races) of CPU, and
      // one file at a time (each starts its own system).
      {
        extends: true,
        test: { name: 'browser', include: [BROWSER_TESTS], sequence: { groupOrder: 1 } },
      },
    ],
  },
});
