/**
 * The dispatcher's flow: picks out the instance records that have just become `scheduled` and
 * hands each to its task queue through `SendTask`.
 * May import: base, engine, store, core.
 *
 * @module
 */
import type { InstanceRecord } from '../store/port.ts';
import type { InstanceStatus } from '../types.ts';
import type { FaultHook } from './faults.ts';
import type { SendTask } from './task-message.ts';

/**
 * The dispatcher's filter: an instance record that has just become `scheduled`. The same
 * predicate is the stream filter of the dispatcher's event source.
 */
export function becameScheduled(
  oldStatus: InstanceStatus | undefined,
  newStatus: InstanceStatus,
): boolean {
  return newStatus === 'scheduled' && oldStatus !== 'scheduled';
}

/**
 * Hands a newly scheduled instance to its queue. Called from the store's change stream, which
 * retries until it succeeds, so no crash between the commit and the send loses a task.
 *
 * @example
 * await dispatchInstance(send, record);
 */
export async function dispatchInstance(
  send: SendTask,
  record: InstanceRecord,
  faults?: FaultHook,
): Promise<void> {
  faults?.('dispatcher.beforeSend', { sessionId: record.sessionId, instance: record.name });
  await send(
    record.queue,
    { sessionId: record.sessionId, instance: record.name },
    record.delaySeconds ?? 0,
  );
}
