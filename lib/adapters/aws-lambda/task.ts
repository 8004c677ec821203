/**
 * A task Lambda: one per task handler, SQS task messages in, partial batch responses out. It
 * only picks the handler; claiming, running and recording live in `lib/core/task-runner.ts`.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { getOwn } from '../../engine/kwargs.ts';
import { NotFoundError } from '../../errors.ts';
import { type LambdaEnv, runtimeFromEnv, type TriggersApp } from './environment.ts';
import { type TaskLambdaRuntime, taskHandler } from './task-handler.ts';

/** A task Lambda's handler. */
export type TaskQueueHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;

/**
 * Creates the task Lambda of the app's handler `handlerName`, over `runtimeFromEnv(app, env)`
 * (or `runtime` when given). Throws `NotFoundError` at cold start when the app has no handler
 * of that name, and `EnvironmentError` when the environment is incomplete.
 *
 * A deployment generates one entry file per handler:
 *
 * @example
 * import app from './app.ts';
 * export const handler = createTaskHandler(app, 'scoreSurvey');
 */
export function createTaskHandler(
  app: TriggersApp,
  handlerName: string,
  env: LambdaEnv = process.env,
  runtime?: TaskLambdaRuntime,
): TaskQueueHandler {
  const fn = app.handlers === undefined ? undefined : getOwn(app.handlers, handlerName);
  if (fn === undefined) {
    const known = Object.keys(app.handlers ?? {}).join(', ') || 'none';
    throw new NotFoundError(`the app has no task handler '${handlerName}' (it has: ${known})`);
  }
  return taskHandler(fn, { runtime: runtime ?? runtimeFromEnv(app, env) });
}
