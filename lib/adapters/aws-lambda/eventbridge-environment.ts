/**
 * What an EventBridge ingestion function runs against, read from its environment: everything
 * `runtimeFromEnv` reads, plus the mapping, the workflow and the dead-letter queue the
 * `Triggers` construct sets for it.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */

import { type MessageAttributeValue, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import {
  compileEventMapping,
  type EventBridgeIngestDeps,
  type EventIngestion,
  type RejectEvent,
} from '../../core/eventbridge.ts';
import { EnvironmentError, EventMappingError } from '../../errors.ts';
import {
  type LambdaEnv,
  type LambdaRuntimeOverrides,
  runtimeFromEnv,
  settingsFromEnv,
  type TriggersApp,
} from './environment.ts';
import { ENV } from './variables.ts';

/** An EventBridge ingestion function's runtime: the ingest deps and its ingestion. */
export interface EventBridgeLambdaRuntime extends EventBridgeIngestDeps {
  ingestion: EventIngestion;
}

/** Keeps the attributes small: the reason fits in far less, and the event is in the body. */
const MAX_ATTRIBUTE_CHARS = 1024;

const text = (value: string): MessageAttributeValue => ({
  DataType: 'String',
  StringValue: value.length > MAX_ATTRIBUTE_CHARS ? value.slice(0, MAX_ATTRIBUTE_CHARS) : value,
});

/**
 * A `RejectEvent` that sends the event, as it arrived, to an SQS queue, with `ERROR_CODE` and
 * `ERROR_MESSAGE` attributes: the shape EventBridge gives the events it dead-letters itself, so
 * every message of the queue can be read, and redriven, the same way.
 *
 * @example
 * const reject = sqsRejectEvent(new SQSClient({}), deadLetterQueueUrl);
 */
export function sqsRejectEvent(sqs: SQSClient, queueUrl: string): RejectEvent {
  return async ({ event, error }) => {
    await sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify(event) ?? 'null',
        MessageAttributes: { ERROR_CODE: text(error.code), ERROR_MESSAGE: text(error.message) },
      }),
    );
  };
}

const mappingSchema = z.strictObject({
  sessionId: z.string(),
  trigger: z.string(),
  kwargs: z.union([z.string(), z.record(z.string(), z.string())]).optional(),
  eventId: z.string().optional(),
});

function read(env: LambdaEnv, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value === '' ? undefined : value;
}

/**
 * The ingestion of an EventBridge function, from its environment. Throws `EnvironmentError`
 * naming a missing or invalid variable (a mapping that is not JSON, or fails
 * `compileEventMapping`; a workflow the app lacks).
 *
 * @example
 * const ingestion = eventIngestionFromEnv(process.env, ['orders']);
 */
export function eventIngestionFromEnv(
  env: LambdaEnv,
  workflows: readonly string[],
): EventIngestion {
  const raw = read(env, ENV.eventMapping);
  if (raw === undefined)
    throw new EnvironmentError(ENV.eventMapping, 'is required: the event mapping');
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch (err) {
    throw new EnvironmentError(ENV.eventMapping, 'must be JSON', { cause: err });
  }
  const parsed = mappingSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new EnvironmentError(
      ENV.eventMapping,
      `is not an event mapping: ${issue?.path.join('.') || 'input'} ${issue?.message ?? ''}`.trim(),
      { cause: parsed.error },
    );
  }
  let mapping: EventIngestion['mapping'];
  try {
    mapping = compileEventMapping(parsed.data);
  } catch (err) {
    if (!(err instanceof EventMappingError)) throw err;
    throw new EnvironmentError(ENV.eventMapping, `is invalid: ${err.message}`, { cause: err });
  }
  const workflow = read(env, ENV.eventWorkflow);
  if (workflow !== undefined && !workflows.includes(workflow)) {
    throw new EnvironmentError(
      ENV.eventWorkflow,
      `names workflow '${workflow}', which the app does not have (it has: ${workflows.join(', ')})`,
    );
  }
  return { mapping, ...(workflow !== undefined ? { workflow } : {}) };
}

/**
 * The runtime of an EventBridge ingestion function, from its environment: `runtimeFromEnv`'s
 * store, registry, clock and log, the ingestion of `TRIGGERS_EVENT_MAPPING` and
 * `TRIGGERS_EVENT_WORKFLOW`, and refusals sent to `TRIGGERS_DEAD_LETTER_QUEUE_URL`. Read once,
 * at cold start, so a misconfigured function fails before it takes any event.
 *
 * | variable | required | meaning |
 * |---|---|---|
 * | `TRIGGERS_EVENT_MAPPING` | yes | the `EventMapping`, as JSON |
 * | `TRIGGERS_EVENT_WORKFLOW` | no | the workflow sessions created by these events get |
 * | `TRIGGERS_DEAD_LETTER_QUEUE_URL` | yes | where events whose mapped fire is invalid go |
 *
 * @example
 * import app from './app.ts';
 * export const handler = createEventBridgeHandler(eventBridgeRuntimeFromEnv(app));
 */
export function eventBridgeRuntimeFromEnv(
  app: TriggersApp,
  env: LambdaEnv = process.env,
  overrides: LambdaRuntimeOverrides = {},
): EventBridgeLambdaRuntime {
  const runtime = runtimeFromEnv(app, env, overrides);
  const ingestion = eventIngestionFromEnv(
    env,
    app.workflows.map((wf) => wf.name),
  );
  const queueUrl = read(env, ENV.deadLetterQueueUrl);
  if (queueUrl === undefined || !z.url().safeParse(queueUrl).success) {
    throw new EnvironmentError(
      ENV.deadLetterQueueUrl,
      queueUrl === undefined ? 'is required: the dead-letter queue URL' : 'must be a queue URL',
    );
  }
  const settings = settingsFromEnv(env);
  const sqs =
    overrides.sqs ??
    new SQSClient({
      ...(settings.AWS_REGION !== undefined ? { region: settings.AWS_REGION } : {}),
      ...(settings.TRIGGERS_SQS_ENDPOINT !== undefined
        ? { endpoint: settings.TRIGGERS_SQS_ENDPOINT }
        : {}),
    });
  return {
    store: runtime.store,
    registry: runtime.registry,
    clock: runtime.clock,
    log: runtime.log,
    reject: sqsRejectEvent(sqs, queueUrl),
    ingestion,
  };
}
