import { defineConfig } from 'vitest/config';
import { scaledMs } from './bus/timeouts.ts';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/setup/nats.ts'],
    // hang detectors only: twice what an idle run needs, times the machine's load when the suite starts
    testTimeout: scaledMs(240_000),
    hookTimeout: scaledMs(120_000),
    // Integration tests spawn many agent processes on a 2-core machine: run files one or two at a time.
    maxWorkers: 2,
    fileParallelism: true,
  },
});
