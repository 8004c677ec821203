/**
 * The `dynamodb-local` backend: `DynamoRunner` over DynamoDB Local and the SQS emulator, loaded
 * only when this backend is asked for, so that the memory backend never loads the emulators.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import type { TestBackendFactory } from './backend.ts';

/**
 * The `dynamodb-local` backend's factory: starts (or finds) the emulators and a `DynamoRunner`
 * that holds cooldowns and timers on its virtual clock. Rejects with `EmulatorsMissingError`
 * when the emulator packages are not installed.
 *
 * @example
 * const backend = await dynamodbLocalBackend({ registry, handlers: { passThru }, log: silentSink });
 * await backend.settle(120_000);
 * await backend.close();
 */
export const dynamodbLocalBackend: TestBackendFactory = async (opts) => {
  // A dynamic import: the runner loads the emulators and the AWS stream client.
  const { DynamoRunner } = await import('../local/runner.ts');
  return DynamoRunner.start(opts.registry, opts.handlers, opts.log, {
    ...(opts.faults ? { faults: opts.faults } : {}),
    ...(opts.meter ? { meter: opts.meter } : {}),
    ...(opts.onLifecycle ? { onLifecycle: opts.onLifecycle } : {}),
  });
};
