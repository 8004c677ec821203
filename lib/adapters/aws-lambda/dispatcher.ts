/**
 * The dispatcher Lambda (stream dispatch): the session table's stream (instances that became
 * `scheduled`) in, task messages out to their queues. It only translates; the rule lives in
 * `lib/core/dispatcher.ts`.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { type Clock, systemClock } from '../../core/clock.ts';
import type { LogSink } from '../../core/log.ts';
import type { SendTask } from '../../core/task-message.ts';
import { handleDispatcherBatch } from './streams.ts';

/** The dispatcher Lambda's handler. */
export type DispatcherHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;

/** What the dispatcher needs. */
export interface DispatcherDeps {
  /** Sends a task message to its queue. */
  send: SendTask;
  /** Receives an `error` entry for every send that fails. */
  log: LogSink;
  /** Timestamps the log entries. @default - the system clock */
  clock?: Clock;
}

/**
 * Creates the dispatcher Lambda's handler (stream dispatch). A send that fails is logged and
 * reports its record, so the stream retries it (and what follows it).
 *
 * The construct does not deploy it: its evaluator sends what it schedules itself (direct
 * dispatch, one stream hop less). It is for a deployment whose evaluator is created without
 * `send`; the local runner uses it with `persistDir`. Over an app module (the function needs
 * `TRIGGERS_QUEUE_URLS`):
 *
 * @example
 * import app from './app.ts';
 * import { runtimeFromEnv } from 'serverless-triggers';
 * export const handler = createDispatcherHandler(runtimeFromEnv(app));
 */
export function createDispatcherHandler(deps: DispatcherDeps): DispatcherHandler {
  const clock = deps.clock ?? systemClock;
  const onError = (err: unknown) =>
    deps.log({
      level: 'error',
      message: 'sending a task failed; the stream will retry it',
      timestamp: clock.now().toISOString(),
      error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
    });
  return (event) => handleDispatcherBatch(deps.send, event, { onError });
}
