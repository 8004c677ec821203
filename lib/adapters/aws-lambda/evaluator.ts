/**
 * The evaluator Lambda: the session table's stream (event inserts) in, partial batch responses
 * out. It only translates; evaluation lives in `lib/runtime/evaluator.ts`.
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
 * fails reports its first record, so the stream retries from there.
 *
 * A deployment's generated entry file creates it once, at cold start:
 *
 * @example
 * import app from './app.ts';
 * import { runtimeFromEnv } from 'serverless-triggers/lib/runtime/lambda-env.ts';
 * export const handler = createEvaluatorHandler(runtimeFromEnv(app));
 */
export function createEvaluatorHandler(deps: EvaluatorDeps): EvaluatorHandler {
  return (event) => handleEvaluatorBatch(deps, event);
}
