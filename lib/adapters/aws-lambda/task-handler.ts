/**
 * `taskHandler`: an app's task handler wrapped as an SQS-triggered Lambda handler over a given
 * runtime (the store, the workflows, a clock and a log), with partial batch responses.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { type Clock, systemClock } from '../../core/clock.ts';
import { type LogSink, silentSink } from '../../core/log.ts';
import type { WorkflowRegistry } from '../../core/registry.ts';
import type { SendTask } from '../../core/task-message.ts';
import { NotAvailableError } from '../../errors.ts';
import type { SessionStore } from '../../store/port.ts';
import type { TaskHandler } from '../../types.ts';
import { processTaskBatch } from './task-batch.ts';

/** What a task Lambda runs against. */
export interface TaskLambdaRuntime {
  store: SessionStore;
  registry: WorkflowRegistry;
  /** @default - the system clock */
  clock?: Clock;
  /** @default - discarded */
  log?: LogSink;
  /** How long a claim holds. @default 900 */
  leaseSeconds?: number;
  /** Sends a message on, for one that arrived before its `notBefore` (long cooldowns). */
  send?: SendTask;
}

/** Options of `taskHandler`. */
export interface TaskHandlerOptions {
  /** The store and workflows the Lambda works with. */
  runtime?: TaskLambdaRuntime;
}

/**
 * Wraps a task handler as an SQS-triggered Lambda handler with partial batch responses: each
 * message names one scheduled instance, which is claimed, run and recorded exactly once; a
 * duplicate delivery is acknowledged without running the handler again.
 *
 * @example
 * export const handler = taskHandler(async ({ kwargs, logger }) => {
 *   logger.info('scoring');
 *   return { score: 42 };
 * }, { runtime });
 */
export function taskHandler(
  fn: TaskHandler,
  opts: TaskHandlerOptions = {},
): (event: SQSEvent, context: Context) => Promise<SQSBatchResponse> {
  return async (event, context) => {
    const runtime = opts.runtime;
    if (!runtime) {
      throw new NotAvailableError(
        'taskHandler has no runtime: pass { runtime: runtimeFromEnv(app) }, or { runtime: { store, registry } }',
      );
    }
    return processTaskBatch(
      {
        store: runtime.store,
        registry: runtime.registry,
        handlerFor: () => fn,
        clock: runtime.clock ?? systemClock,
        log: runtime.log ?? silentSink,
        ...(runtime.leaseSeconds !== undefined ? { leaseSeconds: runtime.leaseSeconds } : {}),
        ...(runtime.send ? { send: runtime.send } : {}),
      },
      event,
      context,
    );
  };
}
