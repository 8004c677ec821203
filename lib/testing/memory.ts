import { DISPATCHER_SOURCE, EVALUATOR_SOURCE, TASK_QUEUE } from '../adapters/aws-lambda/wiring.ts';
import { advanceInSteps, VirtualClock } from '../core/clock.ts';
import { becameScheduled, dispatchInstance } from '../core/dispatcher.ts';
import { evaluateSession } from '../core/evaluator.ts';
import type { FaultHook } from '../core/faults.ts';
import type { LogSink } from '../core/log.ts';
import type { WorkflowRegistry } from '../core/registry.ts';
import { runInstance, type TaskMessage } from '../core/task-runner.ts';
import { getOwn } from '../engine/kwargs.ts';
import { TIMER_QUEUE } from '../engine/workflow.ts';
import { SettleTimeoutError } from '../errors.ts';
import { type ChangeRecord, MemoryStore } from '../store/memory-store.ts';
import type { TaskHandler } from '../types.ts';

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

interface Delayed {
  message: TaskMessage;
  visibleAt: number;
  receiveCount: number;
  /** A timer's first delivery: only the clock's moving (`advance`) makes it due. */
  timer?: boolean;
}

/** The function timeout the memory backend assumes for task handlers (virtual), in seconds. */
const FUNCTION_TIMEOUT_SECONDS = 30;

/**
 * The in-process event-source runner of the memory backend: the store's change stream drives
 * the evaluator (event inserts) and the dispatcher (instances becoming scheduled); task
 * messages are delivered to the task runner. Delays run on a virtual clock.
 */
export class MemoryRunner {
  readonly store = new MemoryStore();
  readonly clock = new VirtualClock();
  private readonly pump = new Pump();
  private readonly delayed: Delayed[] = [];
  private readonly evaluating = new Map<string, { again: boolean }>();

  /** Messages that failed `maxReceiveCount` times, with their last error. */
  readonly deadLetters: Array<{ message: TaskMessage; error: unknown }> = [];

  constructor(
    private readonly registry: WorkflowRegistry,
    private readonly handlers: Readonly<Record<string, TaskHandler>>,
    private readonly log: LogSink,
    private readonly faults?: FaultHook,
  ) {
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
    if (change.kind === 'event') {
      this.evaluate(change.sessionId);
    } else if (becameScheduled(change.oldStatus, change.record.status)) {
      const record = change.record;
      this.pump.run(
        this.withRetries(
          () =>
            dispatchInstance((q, m, d) => this.send(m, d, q === TIMER_QUEUE), record, this.faults),
          DISPATCHER_SOURCE.retryAttempts,
        ),
      );
    }
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
      ...(this.faults ? { faults: this.faults } : {}),
    };
    this.pump.run(async () => {
      try {
        do {
          marker.again = false;
          await this.withRetries(
            async () => evaluateSession(deps, sessionId, await this.store.pendingEvents(sessionId)),
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
      this.delayed.push({
        message,
        visibleAt: this.clock.now().getTime() + delaySeconds * 1000,
        receiveCount: 1,
        ...(timer ? { timer } : {}),
      });
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
        this.delayed.push({
          message,
          visibleAt:
            this.clock.now().getTime() +
            TASK_QUEUE.visibilityTimeoutSeconds(FUNCTION_TIMEOUT_SECONDS) * 1000,
          receiveCount: receiveCount + 1,
        });
      }
    });
  }

  /** Delivers every delayed message that is due on the virtual clock. */
  private releaseDue(): void {
    const now = this.clock.now().getTime();
    for (let i = this.delayed.length - 1; i >= 0; i--) {
      const d = this.delayed[i] as Delayed;
      if (d.visibleAt <= now) {
        this.delayed.splice(i, 1);
        this.deliver(d.message, d.receiveCount);
      }
    }
  }

  /**
   * Waits until nothing is in flight; when only delayed messages are left, moves the virtual
   * clock to the earliest (a cooldown or a redelivery: never a timer, which only `advance`
   * makes due) and goes on. Rethrows the first error of a background job.
   */
  async settle(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      await this.idleBefore(deadline);
      const err = this.pump.errors.shift();
      if (err !== undefined) throw err;
      const waiting = this.delayed.filter((d) => !d.timer);
      if (waiting.length === 0) return;
      const earliest = Math.min(...waiting.map((d) => d.visibleAt));
      this.clock.advance(earliest - this.clock.now().getTime());
      this.releaseDue();
    }
  }

  /**
   * Moves the virtual clock forward by `seconds`, a due timer or cooldown at a time (each
   * settled before the next), so that what falls due fires in time order; then settles.
   */
  async advance(seconds: number, timeoutMs: number): Promise<void> {
    await advanceInSteps(this.clock, seconds, timeoutMs, {
      nextDue: () => Math.min(...this.delayed.map((d) => d.visibleAt)),
      releaseDue: () => this.releaseDue(),
      settle: (ms) => this.settle(ms),
    });
  }

  private async idleBefore(deadline: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () =>
          reject(
            new SettleTimeoutError(
              'settle() timed out with work still in flight (a handler that never returns?)',
            ),
          ),
        Math.max(0, deadline - Date.now()),
      );
    });
    try {
      await Promise.race([this.pump.idle(), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops taking new work; what is running finishes on its own. */
  close(): void {
    this.pump.closed = true;
    this.delayed.length = 0;
  }
}
