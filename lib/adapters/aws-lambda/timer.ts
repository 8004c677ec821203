/**
 * The timer Lambda: the timers queue in, partial batch responses out. It runs the built-in task
 * of every timer; nothing here is the app's code.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { LambdaRuntime } from './environment.ts';
import { taskHandler } from './task-handler.ts';

/** The timer Lambda's handler. */
export type TimerQueueHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * Creates the timer Lambda's handler over a runtime (`runtimeFromEnv`, with the timers queue in
 * `TRIGGERS_QUEUE_URLS`, to send long delays on).
 *
 * A timer is a built-in task whose instance the evaluator schedules with the timer's delay when
 * its `from` trigger first fires; the task runner claims it, finishes it at once, and its
 * cascade fires the timer's trigger, exactly once. Delays over SQS's 15 minutes are sent on
 * until the message's `notBefore`.
 *
 * @example
 * export const handler = createTimerHandler(runtimeFromEnv(app));
 */
export function createTimerHandler(runtime: LambdaRuntime): TimerQueueHandler {
  // The task runner runs a timer's instance with its built-in handler; an instance of any other
  // task on this queue was routed here by mistake and fails with this error.
  return taskHandler(
    (ctx) => {
      throw new Error(`instance '${ctx.instance}' of task '${ctx.task}' is not a timer`);
    },
    { runtime },
  );
}
