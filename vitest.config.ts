import { defineConfig } from 'vitest/config';

export default defineConfig({
  // Nest DI needs legacy decorators and emitted metadata in the test files too.
  oxc: {
    decorator: { legacy: true, emitDecoratorMetadata: true },
  } as never,
  test: {
    include: ['test/**/*.spec.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // e2e suites start real processes on free ports: keep files apart on a 2-core machine.
    fileParallelism: false,
    pool: 'forks',
    reporters: ['default', 'json'],
    outputFile: { json: 'test-results/vitest.json' },
  },
});
