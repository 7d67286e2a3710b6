import { defineConfig } from 'vitest/config';

const BROWSER_TESTS = 'e2e/test/*.browser.test.ts';
/** Tests that compare answer times: they run alone, after the rest, on a machine nothing else loads. */
const TIMING_TESTS = 'services/auth/test/timing.test.ts';

export default defineConfig({
  test: {
    globalSetup: ['./packages/testing/src/global-setup.ts'],
    setupFiles: ['./packages/http/test/instrument-setup.ts', './packages/http/test/contract-setup.ts'],
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
          exclude: ['**/node_modules/**', BROWSER_TESTS, TIMING_TESTS],
        },
      },
      // Medians within 1 ms need a quiet machine: alone, between the rest and the browser tests.
      {
        extends: true,
        test: { name: 'timing', include: [TIMING_TESTS], sequence: { groupOrder: 1 } },
      },
      // Chromium and a whole system per file take both cores: the browser tests run last, so they
      // do not starve the timing-sensitive tests (lease races, expiry races) of CPU; their files
      // run side by side (each starts its own system; most of their time is waiting).
      {
        extends: true,
        test: { name: 'browser', include: [BROWSER_TESTS], sequence: { groupOrder: 2 } },
      },
    ],
  },
});
