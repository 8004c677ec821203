/**
 * What `createTestRuntime` needs of a backend, and what a backend's factory is given: one file
 * per backend (`memory.ts`, `dynamodb-local.ts`) implements it.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import type { Clock } from '../core/clock.ts';
import type { FaultHook } from '../core/faults.ts';
import type { LifecycleEvent } from '../core/lifecycle.ts';
import type { LogSink } from '../core/log.ts';
import type { WorkflowRegistry } from '../core/registry.ts';
import type { CapacityEntry } from '../store/dynamo-store.ts';
import type { SessionStore } from '../store/port.ts';
import type { TaskHandler } from '../types.ts';

/**
 * A running backend: its store, its virtual clock, and time control (`settle`, `advance`).
 *
 * @example
 * const backend: TestBackend = await memoryBackend({ registry, handlers, log: silentSink });
 * await backend.advance(3600, 30_000);
 * await backend.close();
 */
export interface TestBackend {
  /** Where sessions live. */
  readonly store: SessionStore;
  /** The backend's virtual clock: the runtime reads time from it. */
  readonly clock: Clock;
  /**
   * Resolves once nothing is in flight, moving the clock to held cooldowns and redeliveries
   * (never to a timer); rejects with `SettleTimeoutError` after `timeoutMs`.
   */
  settle(timeoutMs: number): Promise<void>;
  /** Moves the clock forward by `seconds`, what falls due firing in time order; then settles. */
  advance(seconds: number, timeoutMs: number): Promise<void>;
  /** Stops everything the backend started. */
  close(): void | Promise<void>;
}

/**
 * What a backend's factory is given: the workflows, the handlers and the runtime's options.
 *
 * @example
 * const opts: TestBackendOptions = { registry, handlers: { passThru }, log: silentSink };
 */
export interface TestBackendOptions {
  readonly registry: WorkflowRegistry;
  readonly handlers: Readonly<Record<string, TaskHandler>>;
  readonly log: LogSink;
  /** Test-only crash points. */
  readonly faults?: FaultHook;
  /** Receives the capacity every DynamoDB call consumed (backends on DynamoDB only). */
  readonly meter?: (entry: CapacityEntry) => void;
  /**
   * Receives the lifecycle events, in order per session (the runtime's hooks). When given, the
   * evaluator notes what it does and the backend reads the notes back, as the construct's
   * lifecycle publisher does; `settle` waits for it.
   */
  readonly onLifecycle?: (events: readonly LifecycleEvent[]) => void | Promise<void>;
}

/**
 * Starts one kind of backend.
 *
 * @example
 * const start: TestBackendFactory = memoryBackend;
 * const backend = await start({ registry, handlers, log: silentSink });
 */
export type TestBackendFactory = (opts: TestBackendOptions) => Promise<TestBackend>;
