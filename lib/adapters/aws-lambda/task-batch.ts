import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { z } from 'zod';
import { runInstance, type TaskMessage, type TaskRunnerDeps } from '../../core/task-runner.ts';
import { instanceSchema, parseInput, sessionIdSchema } from '../../core/validation.ts';
import { ValidationError } from '../../errors.ts';

const taskMessageSchema = z.strictObject({
  sessionId: sessionIdSchema,
  instance: instanceSchema,
  notBefore: z.iso.datetime().optional(),
});

/** Reads a task message from an SQS record; throws `ValidationError` for anything else. */
export function parseTaskMessage(record: SQSRecord): TaskMessage {
  let body: unknown;
  try {
    body = JSON.parse(record.body);
  } catch (err) {
    throw new ValidationError(`message ${record.messageId} is not JSON`, { cause: err });
  }
  return parseInput(taskMessageSchema, body);
}

/**
 * Runs a batch of task messages and reports only the records that failed, so one bad record
 * never retries the whole batch (it is retried alone and, past the queue's receive limit, lands
 * in its dead-letter queue). A handler's own failure is not a record failure: it is recorded on
 * the instance.
 *
 * @example
 * export const handler = (event: SQSEvent, context: Context) => processTaskBatch(deps, event, context);
 */
export async function processTaskBatch(
  deps: TaskRunnerDeps,
  event: SQSEvent,
  context: Context,
): Promise<SQSBatchResponse> {
  const processor = new BatchProcessor(EventType.SQS);
  return processPartialResponse(
    event,
    async (record: SQSRecord) => {
      await runInstance(deps, parseTaskMessage(record));
    },
    processor,
    { context, throwOnFullBatchFailure: false },
  );
}
