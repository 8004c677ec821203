/**
 * The memory backend: the in-process runner that drives the evaluator (which sends the tasks it
 * schedules, as deployed) and the task runner from the memory store's change stream, with
 * delays on a virtual clock.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { EVALUATOR_SOURCE, TASK_QUEUE } from '../adapters/aws-lambda/wiring.ts';
import { VirtualClock, withinDeadline } from '../core/clock.ts';
import { evaluateSession } from '../core/evaluator.ts';
import type { FaultHook } from '../core/faults.ts';
import { HeldMessages } from '../core/held-messages.ts';
import { type LifecycleEvent, lifecycleEvents } from '../core/lifecycle.ts';
import type { LogSink } from '../core/log.ts';
import type { WorkflowRegistry } from '../core/registry.ts';
import type { TaskMessage } from '../core/task-message.ts';
import { runInstance } from '../core/task-runner.ts';
import { getOwn } from '../engine/kwargs.ts';
import { TIMER_QUEUE } from '../engine/workflow.ts';
import { SettleTimeoutError } from '../errors.ts';
import { type ChangeRecord, MemoryStore } from '../store/memory-store.ts';
import type { TaskHandler } from '../types.ts';
import type { TestBackendFactory } from './backend.ts';

/** Runs background jobs and knows when none is left. */
class Pump {
  private pending = 0;
  private waiters: Array<() => void> = [];
  readonly errors: unknown[] = [];
  closed = false;

  run(job: () => Promise<void>): void {
    if (this.closed) return;
    this.pending += 1;
    setImmediate(() => {
      job()
        .catch((err: unknown) => {
          this.errors.push(err);
        })
        .finally(() => {
          this.pending -= 1;
          if (this.pending === 0) for (const w of this.waiters.splice(0)) w();
        });
    });
  }

  idle(): Promise<void> {
    return this.pending === 0
      ? Promise.resolve()
      : new Promise((resolve) => {
          this.waiters.push(resolve);
        });
  }
}

/** A task message as the memory queue holds it: with the receives it has had so far. */
interface Received {
  message: TaskMessage;
  receiveCount: number;
}

/** Options of a `MemoryRunner`. */
export interface MemoryRunnerOptions {
  /** Test-only crash points. */
  faults?: FaultHook;
  /** Receives the lifecycle events (see `TestBackendOptions.onLifecycle`). */
  onLifecycle?: (events: readonly LifecycleEvent[]) => void | Promise<void>;
}

/** The function timeout the memory backend assumes for task handlers (virtual), in seconds. */
const FUNCTION_TIMEOUT_SECONDS = 30;

/**
 * The in-process event-source runner of the memory backend: the store's change stream drives
 * the evaluator (event inserts), which sends the instances it schedules; task messages are
 * delivered to the task runner. Delays run on a virtual clock.
 *
 * @example
 * const runner = new MemoryRunner(registry, { passThru }, silentSink);
 * await runner.store.putEvent(event);
 * await runner.settle(10_000);
 * runner.close();
 */
export class MemoryRunner {
  readonly store = new MemoryStore();
  readonly clock = new VirtualClock();
  private readonly pump = new Pump();
  private readonly held = new HeldMessages<Received>({
    clock: this.clock,
    release: (d) => this.deliver(d.message, d.receiveCount),
    quiet: async (deadline) => {
      await this.idleBefore(deadline);
      const err = this.pump.errors.shift();
      if (err !== undefined) throw err;
    },
  });
  private readonly evaluating = new Map<string, { again: boolean }>();

  /** Messages that failed `maxReceiveCount` times, with their last error. */
  readonly deadLetters: Array<{ message: TaskMessage; error: unknown }> = [];

  private readonly faults: FaultHook | undefined;
  private readonly onLifecycle: MemoryRunnerOptions['onLifecycle'];

  constructor(
    private readonly registry: WorkflowRegistry,
    private readonly handlers: Readonly<Record<string, TaskHandler>>,
    private readonly log: LogSink,
    opts: MemoryRunnerOptions = {},
  ) {
    this.faults = opts.faults;
    this.onLifecycle = opts.onLifecycle;
    this.store.subscribe((change) => this.onChange(change));
  }

  /** Runs a stream-driven job, retrying it as an event source retries a failed batch. */
  private withRetries(job: () => Promise<void>, attempts: number): () => Promise<void> {
    return async () => {
      for (let attempt = 0; ; attempt++) {
        try {
          await job();
          return;
        } catch (err) {
          if (attempt >= attempts) throw err;
        }
      }
    };
  }

  private onChange(change: ChangeRecord): void {
    if (change.kind === 'event') this.evaluate(change.sessionId);
    else if (this.onLifecycle) this.publishLifecycle(this.onLifecycle, change);
  }

  /** Lifecycle events are published one change at a time, in the store's commit order. */
  private lifecycleChain: Promise<void> = Promise.resolve();

  /**
   * The lifecycle publisher, as deployed on the stream: the change's events, handed on in the
   * order the store made the changes; `settle` waits for them.
   */
  private publishLifecycle(
    sink: NonNullable<MemoryRunnerOptions['onLifecycle']>,
    change: Exclude<ChangeRecord, { kind: 'event' }>,
  ): void {
    const deps = { registry: this.registry, store: this.store };
    const previous = this.lifecycleChain;
    const next = previous.then(async () => {
      const events = await lifecycleEvents(deps, change);
      if (events.length > 0) await sink(events);
    });
    this.lifecycleChain = next.catch(() => undefined);
    this.pump.run(() => next);
  }

  /** Serializes evaluation per session; a change during a pass asks for one more pass. */
  private evaluate(sessionId: string): void {
    const running = this.evaluating.get(sessionId);
    if (running) {
      running.again = true;
      return;
    }
    const marker = { again: false };
    this.evaluating.set(sessionId, marker);
    const deps = {
      store: this.store,
      registry: this.registry,
      clock: this.clock,
      log: this.log,
      // Direct dispatch, as deployed: the evaluator sends what it scheduled after its commit.
      send: (queue: string, message: TaskMessage, delaySeconds: number) =>
        this.send(message, delaySeconds, queue === TIMER_QUEUE),
      ...(this.onLifecycle ? { lifecycle: true } : {}),
      ...(this.faults ? { faults: this.faults } : {}),
    };
    this.pump.run(async () => {
      try {
        do {
          marker.again = false;
          // A failed batch comes back whole, as a stream source retries it: already applied
          // events included, so an evaluation that died after its commit sends what it owes.
          const delivered = await this.store.pendingEvents(sessionId);
          await this.withRetries(
            () => evaluateSession(deps, sessionId, delivered),
            EVALUATOR_SOURCE.retryAttempts,
          )();
        } while (marker.again);
      } finally {
        this.evaluating.delete(sessionId);
      }
    });
  }

  private async send(message: TaskMessage, delaySeconds: number, timer = false): Promise<void> {
    if (delaySeconds > 0) {
      this.held.hold({ message, receiveCount: 1 }, delaySeconds, timer);
      return;
    }
    this.deliver(message, 1);
  }

  /**
   * Delivers a task message as SQS would: a delivery that fails comes back after the visibility
   * timeout (on the virtual clock), and after `maxReceiveCount` receives goes to the dead letters.
   */
  private deliver(message: TaskMessage, receiveCount: number): void {
    this.pump.run(async () => {
      try {
        await runInstance(
          {
            store: this.store,
            registry: this.registry,
            handlerFor: (name) => getOwn(this.handlers, name),
            clock: this.clock,
            log: this.log,
            leaseSeconds: TASK_QUEUE.leaseSeconds(FUNCTION_TIMEOUT_SECONDS),
            ...(this.faults ? { faults: this.faults } : {}),
          },
          message,
        );
      } catch (error) {
        if (receiveCount >= TASK_QUEUE.maxReceiveCount) {
          this.deadLetters.push({ message, error });
          throw error;
        }
        this.held.hold(
          { message, receiveCount: receiveCount + 1 },
          TASK_QUEUE.visibilityTimeoutSeconds(FUNCTION_TIMEOUT_SECONDS),
          false,
        );
      }
    });
  }

  /**
   * Waits until nothing is in flight; when only held messages are left, moves the virtual clock
   * to the earliest (a cooldown or a redelivery: never a timer, which only `advance` makes due)
   * and goes on. Rethrows the first error of a background job.
   */
  settle(timeoutMs: number): Promise<void> {
    return this.held.settle(timeoutMs);
  }

  /**
   * Moves the virtual clock forward by `seconds`, a due timer or cooldown at a time (each
   * settled before the next), so that what falls due fires in time order; then settles.
   */
  advance(seconds: number, timeoutMs: number): Promise<void> {
    return this.held.advance(seconds, timeoutMs);
  }

  private async idleBefore(deadline: number): Promise<void> {
    await withinDeadline(
      this.pump.idle(),
      deadline - Date.now(),
      () =>
        new SettleTimeoutError(
          'settle() timed out with work still in flight (a handler that never returns?)',
        ),
    );
  }

  /** Stops taking new work; what is running finishes on its own. */
  close(): void {
    this.pump.closed = true;
    this.held.clear();
  }
}

/**
 * The memory backend's factory: a `MemoryRunner` over a fresh memory store.
 *
 * @example
 * const backend = await memoryBackend({ registry, handlers: { passThru }, log: silentSink });
 */
export const memoryBackend: TestBackendFactory = async (opts) =>
  new MemoryRunner(opts.registry, opts.handlers, opts.log, {
    ...(opts.faults ? { faults: opts.faults } : {}),
    ...(opts.onLifecycle ? { onLifecycle: opts.onLifecycle } : {}),
  });
