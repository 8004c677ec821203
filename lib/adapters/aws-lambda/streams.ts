/**
 * The DynamoDB Streams adapters of the evaluator and the dispatcher: event inserts and instance
 * changes read off the session table's stream (items as the store's layout has them) in, the
 * core flows run, partial batch responses out.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { becameScheduled, dispatchInstance } from '../../core/dispatcher.ts';
import { type EvaluatorDeps, evaluateSession } from '../../core/evaluator.ts';
import type { FaultHook } from '../../core/faults.ts';
import type { SendTask } from '../../core/task-message.ts';
import { eventFromItem, instanceFromItem, keys, TABLE } from '../../store/layout.ts';
import { compareSequence, type DeliveredEvent } from '../../store/port.ts';

type Image = Record<string, AttributeValue>;

function image(
  record: DynamoDBRecord,
  which: 'NewImage' | 'OldImage',
): Record<string, unknown> | undefined {
  const img = record.dynamodb?.[which] as Image | undefined;
  return img ? unmarshall(img) : undefined;
}

function sortKey(record: DynamoDBRecord): string | undefined {
  const sk = record.dynamodb?.Keys?.[TABLE.sortKey] as { S?: string } | undefined;
  return sk?.S;
}

/**
 * The event inserts of a stream batch, grouped by session, each group in stream order (the
 * order the store accepted them). Each carries its position: the stream and its record's
 * sequence number.
 */
export function eventsBySession(records: readonly DynamoDBRecord[]): Map<string, DeliveredEvent[]> {
  const out = new Map<string, DeliveredEvent[]>();
  for (const record of records) {
    if (record.eventName !== 'INSERT' || !sortKey(record)?.startsWith(keys.eventPrefix)) continue;
    const item = image(record, 'NewImage');
    const sequence = record.dynamodb?.SequenceNumber;
    if (!item || sequence === undefined) continue;
    const event = eventFromItem(item);
    const list = out.get(event.sessionId) ?? [];
    list.push({ ...event, position: { stream: record.eventSourceARN ?? '', sequence } });
    out.set(event.sessionId, list);
  }
  return out;
}

/** The earliest failed record: a stream source resumes there (and re-delivers what follows). */
function firstFailure(failed: string[]): DynamoDBBatchResponse {
  if (failed.length === 0) return { batchItemFailures: [] };
  const first = [...failed].sort(compareSequence)[0] as string;
  return { batchItemFailures: [{ itemIdentifier: first }] };
}

/**
 * The evaluator's stream handler: applies each session's new events in stream order. A session
 * that fails reports its first record, so the source retries from there; sessions evaluated
 * after it are re-delivered and find their events already applied.
 *
 * @example
 * export const handler = (event: DynamoDBStreamEvent) => handleEvaluatorBatch(deps, event);
 */
export async function handleEvaluatorBatch(
  deps: EvaluatorDeps,
  event: DynamoDBStreamEvent,
): Promise<DynamoDBBatchResponse> {
  const failed: string[] = [];
  for (const [sessionId, list] of eventsBySession(event.Records)) {
    try {
      await evaluateSession(deps, sessionId, list);
    } catch (err) {
      deps.log({
        level: 'error',
        message: 'evaluation failed; the stream will retry it',
        timestamp: deps.clock.now().toISOString(),
        sessionId,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
      failed.push((list[0] as DeliveredEvent).position.sequence);
    }
  }
  return firstFailure(failed);
}

/**
 * The dispatcher's stream handler: sends every instance that has just become `scheduled` to its
 * queue. A failed send reports its record, so the source retries it (and what follows).
 *
 * @example
 * export const handler = (event: DynamoDBStreamEvent) => handleDispatcherBatch(send, event);
 */
export async function handleDispatcherBatch(
  send: SendTask,
  event: DynamoDBStreamEvent,
  opts: { onError?: (err: unknown) => void; faults?: FaultHook } = {},
): Promise<DynamoDBBatchResponse> {
  for (const record of event.Records) {
    if (!sortKey(record)?.startsWith(keys.instancePrefix)) continue;
    const next = image(record, 'NewImage');
    if (!next) continue;
    const instance = instanceFromItem(next);
    const old = image(record, 'OldImage');
    const oldStatus = old ? instanceFromItem(old).status : undefined;
    if (!becameScheduled(oldStatus, instance.status)) continue;
    try {
      await dispatchInstance(send, instance, opts.faults);
    } catch (err) {
      opts.onError?.(err);
      return firstFailure([record.dynamodb?.SequenceNumber ?? '']);
    }
  }
  return { batchItemFailures: [] };
}
