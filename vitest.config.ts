import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// isolated-vm needs --no-node-snapshot on Node 20, so tests run in forked processes started with it.
export default defineConfig({
  // Examples import 'turngym' as a user would; in tests that is the source tree.
  resolve: { alias: { turngym: fileURLToPath(new URL('./src/index.ts', import.meta.url)) } },
  test: {
    include: ['test/**/*.test.ts'],
    // Makes (once, cached in .cache/test-python) the Python that runs the Python examples.
    globalSetup: ['test/setup/python.ts'],
    pool: 'forks',
    execArgv: ['--no-node-snapshot'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    reporters: ['default', 'json'],
    outputFile: { json: '.vitest-report.json' },
  },
});
