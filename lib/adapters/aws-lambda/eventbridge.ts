/**
 * The EventBridge ingestion Lambda: an EventBridge event in (an asynchronous invocation by a
 * rule), one fire into its session out. It only translates; the mapping, validation and
 * dead-lettering live in `lib/core/eventbridge.ts`.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import type { Context } from 'aws-lambda';
import {
  type EventBridgeIngestDeps,
  type EventBridgeOutcome,
  type EventIngestion,
  ingestEventBridgeEvent,
} from '../../core/eventbridge.ts';

/** The EventBridge ingestion Lambda's handler. */
export type EventBridgeHandler = (event: unknown, context?: Context) => Promise<EventBridgeOutcome>;

/**
 * Creates the EventBridge ingestion Lambda's handler over a runtime and its ingestion. An event
 * whose mapped fire is invalid is dead-lettered and answered, never thrown; a storage error is
 * thrown, so Lambda retries the invocation and dead-letters it when the retries are spent.
 *
 * The pre-bundled function (`functions/eventbridge.ts`) creates it once, at cold start, over
 * the deployment's workflows; over an app module:
 *
 * @example
 * import app from './app.ts';
 * import { eventBridgeRuntimeFromEnv } from 'serverless-triggers/lib/adapters/aws-lambda/eventbridge-environment.ts';
 * export const handler = createEventBridgeHandler(eventBridgeRuntimeFromEnv(app));
 */
export function createEventBridgeHandler(
  runtime: EventBridgeIngestDeps & { ingestion: EventIngestion },
): EventBridgeHandler {
  return (event) => ingestEventBridgeEvent(runtime, runtime.ingestion, event);
}
