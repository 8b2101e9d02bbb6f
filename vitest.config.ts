import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/nats.ts'],
    testTimeout: 120_000,
    hookTimeout: 60_000,
    // Integration tests spawn many agent processes on a 2-core machine: run files one or two at a time.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
