/**
 * The DynamoDB Streams adapters of the evaluator, the dispatcher and the lifecycle publisher: event inserts and instance
 * changes read off the session table's stream (items as the store's layout has them) in, the
 * core flows run, partial batch responses out.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { Clock } from '../../core/clock.ts';
import { becameScheduled, dispatchInstance } from '../../core/dispatcher.ts';
import { type EvaluatorDeps, evaluateSession } from '../../core/evaluator.ts';
import type { FaultHook } from '../../core/faults.ts';
import {
  type LifecycleChange,
  type LifecycleDeps,
  type LifecycleEvent,
  type LifecycleNote,
  lifecycleEvents,
} from '../../core/lifecycle.ts';
import type { LogSink } from '../../core/log.ts';
import type { SendTask } from '../../core/task-message.ts';
import {
  eventFromItem,
  headAttributes,
  instanceFromItem,
  keys,
  sessionIdOfItem,
  TABLE,
} from '../../store/layout.ts';
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

/**
 * The lifecycle changes of a stream batch, in stream order, each with its sequence number:
 * heads that carry notes, and instance records (with their status before the change).
 */
export function lifecycleChanges(
  records: readonly DynamoDBRecord[],
): Array<{ sequence: string; change: LifecycleChange }> {
  const out: Array<{ sequence: string; change: LifecycleChange }> = [];
  for (const record of records) {
    const sk = sortKey(record);
    const next = image(record, 'NewImage');
    const sequence = record.dynamodb?.SequenceNumber ?? '';
    if (!next || sk === undefined) continue;
    if (sk === keys.head) {
      const notes = next[headAttributes.notes];
      if (typeof notes !== 'string') continue;
      out.push({
        sequence,
        change: {
          kind: 'head',
          sessionId: sessionIdOfItem(next),
          workflow: String(next[headAttributes.workflow]),
          notes: JSON.parse(notes) as LifecycleNote[],
        },
      });
    } else if (sk.startsWith(keys.instancePrefix)) {
      const old = image(record, 'OldImage');
      const instance = instanceFromItem(next);
      out.push({
        sequence,
        change: {
          kind: 'instance',
          sessionId: instance.sessionId,
          oldStatus: old ? instanceFromItem(old).status : undefined,
          record: instance,
        },
      });
    }
  }
  return out;
}

/** What the lifecycle publisher's stream handler needs. */
export interface LifecycleBatchDeps extends LifecycleDeps {
  /** Publishes events in order; throws when any could not be published. */
  publish(events: readonly LifecycleEvent[]): Promise<void>;
  log: LogSink;
  clock: Clock;
}

/**
 * The lifecycle publisher's stream handler: the lifecycle events of each change, published in
 * stream order. A change whose events could not be published reports its record, so the source
 * retries from there (events already published are published again: at least once, with the
 * same ids).
 *
 * @example
 * export const handler = (event: DynamoDBStreamEvent) => handleLifecycleBatch(deps, event);
 */
export async function handleLifecycleBatch(
  deps: LifecycleBatchDeps,
  event: DynamoDBStreamEvent,
): Promise<DynamoDBBatchResponse> {
  for (const { sequence, change } of lifecycleChanges(event.Records)) {
    try {
      const events = await lifecycleEvents(deps, change);
      if (events.length > 0) await deps.publish(events);
    } catch (err) {
      deps.log({
        level: 'error',
        message: 'publishing lifecycle events failed; the stream will retry them',
        timestamp: deps.clock.now().toISOString(),
        sessionId: change.sessionId,
        error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      });
      return firstFailure([sequence]);
    }
  }
  return { batchItemFailures: [] };
}
