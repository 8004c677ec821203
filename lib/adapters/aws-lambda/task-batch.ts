/**
 * The SQS batch adapter of the task runner: each record's body is a task message; failures are
 * reported per record (Powertools' partial batch response).
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { parseTaskMessage } from '../../core/task-message.ts';
import { runInstance, type TaskRunnerDeps } from '../../core/task-runner.ts';

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
      await runInstance(deps, parseTaskMessage(record.body, record.messageId));
    },
    processor,
    { context, throwOnFullBatchFailure: false },
  );
}
