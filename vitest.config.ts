import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    projects: [
      {
        test: {
          name: 'memory',
          include: ['test/**/*.test.ts'],
          exclude: ['test/integration/**', 'test/package/**'],
          // CDK synths and child processes take seconds on a loaded 2-core machine.
          testTimeout: 30_000,
        },
      },
      {
        // The same scenario files again, on DynamoDB Local and the SQS emulator, plus the
        // integration tests. One pair of emulators serves the whole project.
        test: {
          name: 'dynamodb-local',
          include: ['test/scenarios/**/*.test.ts', 'test/integration/**/*.test.ts'],
          env: { TRIGGERS_TEST_BACKEND: 'dynamodb-local' },
          globalSetup: ['test/integration/global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 120_000,
        },
      },
      {
        // The packed tarball, installed in projects outside this repository (npm registry and
        // cache); `npm test` builds dist/ before vitest starts.
        test: {
          name: 'package',
          include: ['test/package/**/*.test.ts'],
          testTimeout: 600_000,
          hookTimeout: 600_000,
        },
      },
    ],
  },
});
