/**
 * When a local stack has gone quiet: its queues hold no message (waiting, in flight or
 * delayed) and nothing it counts moved for a few checks in a row. The local runner and the
 * template mode both settle on it.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { GetQueueAttributesCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { SettleTimeoutError } from '../errors.ts';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The counts that together say whether a queue holds anything. */
const QUEUE_COUNTS = [
  'ApproximateNumberOfMessages',
  'ApproximateNumberOfMessagesNotVisible',
  'ApproximateNumberOfMessagesDelayed',
] as const;

/**
 * True when none of the queues holds a message, visible, in flight or delayed.
 *
 * @example
 * if (await queuesEmpty(sqs, [taskQueueUrl])) console.log('nothing queued');
 */
export async function queuesEmpty(sqs: SQSClient, queueUrls: Iterable<string>): Promise<boolean> {
  for (const url of queueUrls) {
    const res = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: url, AttributeNames: [...QUEUE_COUNTS] }),
    );
    const a = res.Attributes ?? {};
    if (QUEUE_COUNTS.some((count) => Number(a[count] ?? 0) > 0)) return false;
  }
  return true;
}

/** What `waitUntilQuiet` watches. */
export interface QuietWatch {
  /** A count that grows with every delivery or send: quiet means it stood still. */
  readonly activity: () => number;
  /** True when nothing is in hand right now (no invocation, no batch, no queued message). */
  readonly idle: () => Promise<boolean>;
  /** Checked before every wait: throws to stop waiting (a stack that can never settle). */
  readonly check?: () => void;
  /** What the `SettleTimeoutError` says when `deadline` passes. */
  readonly timedOut: () => string;
}

/**
 * Resolves once the stack was idle and its activity stood still for three checks in a row,
 * 40 ms apart; rejects with `SettleTimeoutError` once `deadline` (epoch ms) passes.
 *
 * @example
 * await waitUntilQuiet(Date.now() + 30_000, { activity, idle, timedOut: () => 'still busy' });
 */
export async function waitUntilQuiet(deadline: number, watch: QuietWatch): Promise<void> {
  let stable = 0;
  let last = -1;
  while (stable < 3) {
    watch.check?.();
    if (Date.now() > deadline) throw new SettleTimeoutError(watch.timedOut());
    await sleep(40);
    const now = watch.activity();
    stable = (await watch.idle()) && now === last ? stable + 1 : 0;
    last = now;
  }
}
