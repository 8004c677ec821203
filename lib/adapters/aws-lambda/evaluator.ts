/**
 * The evaluator Lambda: the session table's stream (event inserts) in, task messages and partial
 * batch responses out. It only translates; evaluation lives in `lib/core/evaluator.ts`.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import type { DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import type { EvaluatorDeps } from '../../core/evaluator.ts';
import { handleEvaluatorBatch } from './streams.ts';

/** The evaluator Lambda's handler. */
export type EvaluatorHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse>;

/**
 * Creates the evaluator Lambda's handler over a store, registry, clock and log. A session that
 * fails reports its first record, so the stream retries from there. With `send` (as
 * `runtimeFromEnv` gives it, over `TRIGGERS_QUEUE_URLS`) it sends each instance it scheduled to
 * its queue right after the commit; a re-delivered batch sends what the commit still owes.
 *
 * The pre-bundled function (`functions/evaluator.ts`) creates it once, at cold start, over the
 * deployment's workflows; over an app module:
 *
 * @example
 * import app from './app.ts';
 * import { runtimeFromEnv } from 'serverless-triggers';
 * export const handler = createEvaluatorHandler(runtimeFromEnv(app));
 */
export function createEvaluatorHandler(deps: EvaluatorDeps): EvaluatorHandler {
  return (event) => handleEvaluatorBatch(deps, event);
}
