/**
 * The SQS sender: a `SendTask` that puts task messages on SQS queues, used by the deployed
 * dispatcher and task functions and by the local stack alike.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import { SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import type { Clock } from '../../core/clock.ts';
import { queuedTaskMessage, type SendTask } from '../../core/task-message.ts';

/** What `sqsSendTask` sends with. */
export interface SqsSenderOptions {
  readonly sqs: SQSClient;
  /** The URL of a queue by its name (a task's `using ?? run`); throws when there is none. */
  readonly queueUrl: (queue: string) => string;
  /** Dates `notBefore` when a delay is longer than SQS holds a message. */
  readonly clock: Clock;
}

/**
 * A `SendTask` over SQS: one `SendMessage` per task message, a delay above SQS's 15 minutes
 * split with `splitDelay` (the message then carries `notBefore` and is sent on until due).
 *
 * @example
 * const send = sqsSendTask({ sqs: new SQSClient({}), queueUrl: () => url, clock: systemClock });
 * await send('scoreSurvey', { sessionId: 's1', instance: 't_score#0' }, 0);
 */
export function sqsSendTask(opts: SqsSenderOptions): SendTask {
  return async (queue, message, delaySeconds) => {
    const queueUrl = opts.queueUrl(queue);
    const queued = queuedTaskMessage(message, delaySeconds, opts.clock.now());
    await opts.sqs.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: queued.body,
        ...(queued.delaySeconds > 0 ? { DelaySeconds: queued.delaySeconds } : {}),
      }),
    );
  };
}
