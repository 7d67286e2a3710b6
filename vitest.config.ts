import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['{gateway,services/*,packages/*,e2e,web}/test/**/*.test.ts'],
    globalSetup: ['./packages/testing/src/global-setup.ts'],
    pool: 'forks',
    maxWorkers: 3,
    testTimeout: 30_000,
    hookTimeout: 60_000,
    reporters: ['default'],
  },
});
