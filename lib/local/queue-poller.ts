/**
 * The local SQS event source: long-polls a task queue and hands its messages to a Lambda
 * handler in batches, with the event shape and the failure handling of Lambda's SQS source.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import {
  DeleteMessageBatchCommand,
  type Message,
  ReceiveMessageCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import type { LogSink } from '../core/log.ts';
import { PollingLoop } from './polling-loop.ts';

/** Options of a `QueuePoller`. */
export interface QueuePollerOptions {
  client: SQSClient;
  queueUrl: string;
  queueArn: string;
  /** Messages per invocation (the wiring's `TASK_QUEUE.batchSize`). */
  batchSize: number;
  /** Long-poll wait per receive, in seconds. @default 1 */
  waitTimeSeconds?: number;
  /** The Lambda handler, invoked with the same event shape as AWS. */
  handler: (event: SQSEvent) => Promise<SQSBatchResponse>;
  log: LogSink;
  region?: string;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** An SQS message as the SDK returns it, in the shape Lambda hands to a function. */
export function toSqsRecord(m: Message, queueArn: string, region: string): SQSRecord {
  const a = m.Attributes ?? {};
  return {
    messageId: m.MessageId ?? '',
    receiptHandle: m.ReceiptHandle ?? '',
    body: m.Body ?? '',
    attributes: {
      ApproximateReceiveCount: a.ApproximateReceiveCount ?? '1',
      SentTimestamp: a.SentTimestamp ?? String(Date.now()),
      SenderId: a.SenderId ?? 'local',
      ApproximateFirstReceiveTimestamp: a.ApproximateFirstReceiveTimestamp ?? String(Date.now()),
    },
    messageAttributes: {},
    md5OfBody: m.MD5OfBody ?? '',
    eventSource: 'aws:sqs',
    eventSourceARN: queueArn,
    awsRegion: region,
  };
}

/**
 * The local stand-in for a Lambda SQS event source: long-polls the queue, hands batches to the
 * handler, deletes what succeeded and leaves the reported failures (or the whole batch, when the
 * handler throws) to come back after the visibility timeout, and so, past the queue's receive
 * limit, to its dead-letter queue.
 */
export class QueuePoller extends PollingLoop {
  constructor(private readonly opts: QueuePollerOptions) {
    super();
  }

  /**
   * True when no batch is in hand. Whether messages wait in the queue is the queue's to say
   * (its approximate counts): a message being received already counts there as in flight.
   */
  get idle(): boolean {
    return !this.busy;
  }

  protected async run(): Promise<void> {
    while (this.running) {
      try {
        const res = await this.opts.client.send(
          new ReceiveMessageCommand({
            QueueUrl: this.opts.queueUrl,
            MaxNumberOfMessages: Math.min(10, this.opts.batchSize),
            WaitTimeSeconds: this.opts.waitTimeSeconds ?? 1,
            MessageSystemAttributeNames: ['All'],
          }),
          { abortSignal: this.abort.signal },
        );
        const messages = res.Messages ?? [];
        if (messages.length > 0) await this.deliver(messages);
      } catch (err) {
        if (!this.running) return;
        this.opts.log({
          level: 'error',
          message: 'queue poll failed; retrying',
          timestamp: new Date().toISOString(),
          queueUrl: this.opts.queueUrl,
          error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        });
        await sleep(200);
      }
    }
  }

  private async deliver(messages: Message[]): Promise<void> {
    this.busy = true;
    try {
      const records = messages.map((m) =>
        toSqsRecord(m, this.opts.queueArn, this.opts.region ?? 'us-east-1'),
      );
      let failed: Set<string>;
      try {
        const res: SQSBatchResponse | undefined = await this.opts.handler({ Records: records });
        const ids = new Set(records.map((r) => r.messageId));
        const named = (res?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
        // As on AWS: an identifier that names no message of the batch fails the whole batch;
        // no response at all is a success.
        failed = named.every((id) => ids.has(id)) ? new Set(named) : ids;
      } catch (err) {
        this.opts.log({
          level: 'error',
          message: 'task batch failed; its messages return after the visibility timeout',
          timestamp: new Date().toISOString(),
          error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        });
        failed = new Set(records.map((r) => r.messageId));
      }
      this.delivered += records.length;
      const done = records.filter((r) => !failed.has(r.messageId));
      if (done.length > 0) {
        await this.opts.client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: this.opts.queueUrl,
            Entries: done.map((r, i) => ({ Id: String(i), ReceiptHandle: r.receiptHandle })),
          }),
        );
      }
    } finally {
      this.busy = false;
    }
  }
}
