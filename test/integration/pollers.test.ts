/**
 * The local event-source runner against the real emulators: the stream poller on DynamoDB
 * Local's stream and the queue poller on the SQS emulator must hand the handler what Lambda's
 * event source mappings would, with the same ordering, filtering, batching and failure
 * handling (partial batch responses, bisection, retries, redelivery, dead-letter queue).
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import {
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SetQueueAttributesCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { DeleteCommand, DynamoDBDocumentClient, PutCommand } from '@aws-sdk/lib-dynamodb';
import type {
  DynamoDBBatchResponse,
  DynamoDBRecord,
  DynamoDBStreamEvent,
  SQSBatchResponse,
  SQSEvent,
  SQSRecord,
} from 'aws-lambda';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DISPATCHER_SOURCE,
  EVALUATOR_SOURCE,
  type StreamSourceSettings,
  TASK_QUEUE,
} from '../../lib/adapters/aws-lambda/wiring.ts';
import type { LogEntry } from '../../lib/core/log.ts';
import { localAwsConfig } from '../../lib/local/emulators.ts';
import { createSessionTable, createTaskQueue } from '../../lib/local/provision.ts';
import { QueuePoller } from '../../lib/local/queue-poller.ts';
import { type StreamFailureRecord, StreamPoller } from '../../lib/local/stream-poller.ts';

const DEADLINE_MS = 15_000;
const PK = 'S#pollers';

let ddb: DynamoDBClient;
let doc: DynamoDBDocumentClient;
let streams: DynamoDBStreamsClient;
let sqs: SQSClient;
const running: Array<{ stop(): Promise<void> }> = [];

function endpoint(variable: string): string {
  const value = process.env[variable];
  if (value === undefined || value === '') {
    throw new Error(`${variable} is not set: run this file in the 'dynamodb-local' project`);
  }
  return value;
}

beforeAll(() => {
  const dynamodbEndpoint = endpoint('TRIGGERS_DYNAMODB_ENDPOINT');
  ddb = new DynamoDBClient(localAwsConfig(dynamodbEndpoint));
  doc = DynamoDBDocumentClient.from(ddb);
  streams = new DynamoDBStreamsClient(localAwsConfig(dynamodbEndpoint));
  sqs = new SQSClient(localAwsConfig(endpoint('TRIGGERS_SQS_ENDPOINT')));
});

afterEach(async () => {
  await Promise.all(running.splice(0).map((p) => p.stop()));
});

afterAll(() => {
  ddb?.destroy();
  streams?.destroy();
  sqs?.destroy();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Polls `check` until it returns true; fails with `what` past the deadline. */
async function until(what: string, check: () => boolean | Promise<boolean>, ms = DEADLINE_MS) {
  const deadline = Date.now() + ms;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await sleep(25);
  }
}

// ---------------------------------------------------------------------------------------------
// Streams

/** Small, fast settings; each test overrides what it is about. */
function streamSettings(overrides: Partial<StreamSourceSettings> = {}): StreamSourceSettings {
  return {
    filters: [],
    batchSize: 3,
    maxBatchingWindowSeconds: 0,
    startingPosition: 'TRIM_HORIZON',
    bisectBatchOnError: true,
    retryAttempts: 2,
    reportBatchItemFailures: true,
    parallelizationFactor: 1,
    ...overrides,
  };
}

async function freshTable(): Promise<{ tableName: string; streamArn: string }> {
  const tableName = `pollers-${randomUUID()}`;
  const { streamArn } = await createSessionTable(ddb, tableName);
  return { tableName, streamArn };
}

async function put(tableName: string, sk: string, attributes: Record<string, unknown> = {}) {
  await doc.send(new PutCommand({ TableName: tableName, Item: { pk: PK, sk, ...attributes } }));
}

async function remove(tableName: string, sk: string) {
  await doc.send(new DeleteCommand({ TableName: tableName, Key: { pk: PK, sk } }));
}

const skOf = (r: DynamoDBRecord): string | undefined => r.dynamodb?.Keys?.sk?.S;
const seqOf = (r: DynamoDBRecord): string => r.dynamodb?.SequenceNumber ?? '';

type StreamHandler = (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | undefined>;

/** A started stream poller whose every invocation (and its outcome) is recorded. */
function startStreamPoller(
  streamArn: string,
  settings: StreamSourceSettings,
  handler: StreamHandler = async () => undefined,
) {
  const calls: DynamoDBRecord[][] = [];
  const succeeded: DynamoDBRecord[] = [];
  const logs: LogEntry[] = [];
  const failures: StreamFailureRecord[] = [];
  const poller = new StreamPoller({
    client: streams,
    streamArn,
    settings,
    functionName: 'evaluator',
    onFailure: async (record) => {
      failures.push(record);
    },
    log: (entry) => logs.push(entry),
    handler: async (event) => {
      calls.push([...event.Records]);
      const res = await handler(event);
      const failed = new Set((res?.batchItemFailures ?? []).map((f) => f.itemIdentifier));
      const firstFailed = event.Records.findIndex((r) => failed.has(seqOf(r)));
      succeeded.push(...(firstFailed < 0 ? event.Records : event.Records.slice(0, firstFailed)));
      return res;
    },
  });
  running.push(poller);
  poller.start();
  const keysOfCalls = () => calls.map((batch) => batch.map(skOf));
  const succeededKeys = () => succeeded.map(skOf);
  const dropped = () =>
    logs.filter((e) => e.level === 'error' && /dropped/.test(e.message)) as Array<
      LogEntry & { sequenceNumbers: string[] }
    >;
  return { poller, calls, succeeded, logs, failures, keysOfCalls, succeededKeys, dropped };
}

/** Handler that throws whenever its batch holds one of `poison`. */
function throwingOn(...poison: string[]): StreamHandler {
  return async (event) => {
    const bad = event.Records.find((r) => poison.includes(skOf(r) ?? ''));
    if (bad) throw new Error(`cannot process ${skOf(bad)}`);
    return { batchItemFailures: [] };
  };
}

describe('StreamPoller on DynamoDB Local', () => {
  it('delivers records in write order, in the Lambda event shape, in batches of at most batchSize', async () => {
    const { tableName, streamArn } = await freshTable();
    await put(tableName, 'EVT#1', { n: 1 });
    await put(tableName, 'EVT#1', { n: 2 });
    await remove(tableName, 'EVT#1');
    for (const i of [2, 3, 4, 5]) await put(tableName, `EVT#${i}`, { n: i });

    const s = startStreamPoller(streamArn, streamSettings({ batchSize: 3 }));
    await until('the 7 records written before start', () => s.calls.flat().length >= 7);
    // Written while the poller runs: still in order, after the others.
    await put(tableName, 'EVT#6', { n: 6 });
    await put(tableName, 'EVT#7', { n: 7 });
    await until('the 2 records written after start', () => s.calls.flat().length >= 9);

    const records = s.calls.flat();
    expect(records.map((r) => [r.eventName, skOf(r)])).toEqual([
      ['INSERT', 'EVT#1'],
      ['MODIFY', 'EVT#1'],
      ['REMOVE', 'EVT#1'],
      ['INSERT', 'EVT#2'],
      ['INSERT', 'EVT#3'],
      ['INSERT', 'EVT#4'],
      ['INSERT', 'EVT#5'],
      ['INSERT', 'EVT#6'],
      ['INSERT', 'EVT#7'],
    ]);
    for (const batch of s.calls) {
      expect(batch.length).toBeGreaterThan(0);
      expect(batch.length).toBeLessThanOrEqual(3);
    }
    const seqs = records.map((r) => BigInt(seqOf(r)));
    for (let i = 1; i < seqs.length; i++) {
      expect(seqs[i] as bigint).toBeGreaterThan(seqs[i - 1] as bigint);
    }
    for (const r of records) {
      expect(r).toMatchObject({
        eventSource: 'aws:dynamodb',
        eventSourceARN: streamArn,
        eventID: expect.any(String),
        awsRegion: expect.any(String),
        dynamodb: {
          Keys: { pk: { S: PK }, sk: { S: expect.stringMatching(/^EVT#/) } },
          SequenceNumber: expect.stringMatching(/^\d+$/),
          StreamViewType: 'NEW_AND_OLD_IMAGES',
        },
      });
    }
    const [insert, modify, removal] = records;
    expect(insert?.dynamodb?.NewImage).toEqual({
      pk: { S: PK },
      sk: { S: 'EVT#1' },
      n: { N: '1' },
    });
    expect(insert?.dynamodb?.OldImage).toBeUndefined();
    expect(modify?.dynamodb?.OldImage).toMatchObject({ n: { N: '1' } });
    expect(modify?.dynamodb?.NewImage).toMatchObject({ n: { N: '2' } });
    expect(removal?.dynamodb?.OldImage).toMatchObject({ n: { N: '2' } });
    expect(removal?.dynamodb?.NewImage).toBeUndefined();
    expect(s.logs).toEqual([]);
  });

  it('delivers only records matching the dispatcher filters', async () => {
    const { tableName, streamArn } = await freshTable();
    await put(tableName, 'INST#a', { status: 'scheduled' }); // yes: insert, scheduled
    await put(tableName, 'INST#b', { status: 'pending' }); // no: insert, not scheduled
    await put(tableName, 'INST#b', { status: 'scheduled' }); // yes: pending -> scheduled
    await put(tableName, 'INST#b', { status: 'scheduled', attempt: 1 }); // no: stays scheduled
    await put(tableName, 'INST#b', { status: 'running' }); // no: leaves scheduled
    await put(tableName, 'EVT#x', { status: 'scheduled' }); // no: not an instance
    await put(tableName, 'HEAD', { status: 'scheduled' }); // no: not an instance
    await remove(tableName, 'INST#a'); // no: a removal
    await put(tableName, 'INST#c', { status: 'scheduled' }); // yes
    await put(tableName, 'INST#z', { status: 'scheduled' }); // yes: the sentinel, written last

    const s = startStreamPoller(streamArn, { ...DISPATCHER_SOURCE, batchSize: 3 });
    await until('the sentinel record', () => s.succeededKeys().includes('INST#z'));

    expect(s.calls.flat().map((r) => [r.eventName, skOf(r)])).toEqual([
      ['INSERT', 'INST#a'],
      ['MODIFY', 'INST#b'],
      ['INSERT', 'INST#c'],
      ['INSERT', 'INST#z'],
    ]);
    for (const batch of s.calls) expect(batch.length).toBeLessThanOrEqual(3);
  });

  it('delivers only event inserts with the evaluator filters', async () => {
    const { tableName, streamArn } = await freshTable();
    await put(tableName, 'EVT#1'); // yes
    await put(tableName, 'EVT#1', { changed: true }); // no: a modify
    await put(tableName, 'HEAD', { version: 1 }); // no
    await put(tableName, 'INST#t', { status: 'scheduled' }); // no
    await put(tableName, 'EVT#2'); // yes
    await remove(tableName, 'EVT#1'); // no
    await put(tableName, 'EVT#3'); // yes, the sentinel

    const s = startStreamPoller(streamArn, { ...EVALUATOR_SOURCE, batchSize: 2 });
    await until('the sentinel record', () => s.succeededKeys().includes('EVT#3'));

    expect(s.calls.flat().map((r) => [r.eventName, skOf(r)])).toEqual([
      ['INSERT', 'EVT#1'],
      ['INSERT', 'EVT#2'],
      ['INSERT', 'EVT#3'],
    ]);
    for (const batch of s.calls) expect(batch.length).toBeLessThanOrEqual(2);
  });

  it('with TRIM_HORIZON delivers records written before start, then the later ones', async () => {
    const { tableName, streamArn } = await freshTable();
    await put(tableName, 'EVT#before-1');
    await put(tableName, 'EVT#before-2');

    const s = startStreamPoller(streamArn, streamSettings({ startingPosition: 'TRIM_HORIZON' }));
    await until('the poller to go idle', () => s.poller.idle);
    await put(tableName, 'EVT#after');
    await until('the record written after start', () => s.succeededKeys().includes('EVT#after'));

    expect(s.succeededKeys()).toEqual(['EVT#before-1', 'EVT#before-2', 'EVT#after']);
  });

  it('holds records back while the batching window is open and hands them over together', async () => {
    const { tableName, streamArn } = await freshTable();
    const s = startStreamPoller(
      streamArn,
      streamSettings({
        startingPosition: 'TRIM_HORIZON',
        batchSize: 10,
        maxBatchingWindowSeconds: 1,
      }),
    );
    await until('the poller to go idle', () => s.poller.idle);

    const written = Date.now();
    await put(tableName, 'EVT#w1');
    await put(tableName, 'EVT#w2');
    await put(tableName, 'EVT#w3');
    await until('the windowed batch', () => s.succeededKeys().length === 3);

    expect(s.keysOfCalls()).toEqual([['EVT#w1', 'EVT#w2', 'EVT#w3']]);
    expect(Date.now() - written).toBeGreaterThanOrEqual(900);
  });

  it('with LATEST skips records written before start and delivers the later ones', async () => {
    const { tableName, streamArn } = await freshTable();
    await put(tableName, 'EVT#before-1');
    await put(tableName, 'EVT#before-2');

    const s = startStreamPoller(streamArn, streamSettings({ startingPosition: 'LATEST' }));
    // Idle after a first pass over the shards: the LATEST iterator is taken.
    await until('the poller to go idle', () => s.poller.idle);
    await put(tableName, 'EVT#after-1');
    await put(tableName, 'EVT#after-2');
    await until('the records written after start', () => s.succeededKeys().includes('EVT#after-2'));

    expect(s.succeededKeys()).toEqual(['EVT#after-1', 'EVT#after-2']);
  });

  it.each([0, 1, 2])(
    'retries a batch from the record reported failed (index %i), not before it',
    async (k) => {
      const { tableName, streamArn } = await freshTable();
      for (const i of [0, 1, 2]) await put(tableName, `EVT#${i}`);
      let first = true;
      const s = startStreamPoller(streamArn, streamSettings({ batchSize: 3 }), async (event) => {
        if (!first) return { batchItemFailures: [] };
        first = false;
        return {
          batchItemFailures: [{ itemIdentifier: seqOf(event.Records[k] as DynamoDBRecord) }],
        };
      });
      await until('the retry to succeed', () => s.succeededKeys().includes('EVT#2'));
      await put(tableName, 'EVT#sentinel');
      await until('the sentinel', () => s.succeededKeys().includes('EVT#sentinel'));

      const all = ['EVT#0', 'EVT#1', 'EVT#2'];
      expect(s.keysOfCalls()).toEqual([all, all.slice(k), ['EVT#sentinel']]);
      expect(s.succeededKeys()).toEqual([...all, 'EVT#sentinel']);
      expect(s.dropped()).toEqual([]);
    },
  );

  it('retries from the earliest of several reported failures, whatever their order', async () => {
    const { tableName, streamArn } = await freshTable();
    for (const i of [0, 1, 2]) await put(tableName, `EVT#${i}`);
    let first = true;
    const s = startStreamPoller(streamArn, streamSettings({ batchSize: 3 }), async (event) => {
      if (!first) return { batchItemFailures: [] };
      first = false;
      const [, r1, r2] = event.Records as [DynamoDBRecord, DynamoDBRecord, DynamoDBRecord];
      return { batchItemFailures: [{ itemIdentifier: seqOf(r2) }, { itemIdentifier: seqOf(r1) }] };
    });
    await until('the retry to succeed', () => s.succeededKeys().includes('EVT#2'));

    expect(s.keysOfCalls()).toEqual([
      ['EVT#0', 'EVT#1', 'EVT#2'],
      ['EVT#1', 'EVT#2'],
    ]);
  });

  it('bisects a throwing batch: the others succeed, the poison record is dropped after the retries, later records flow', async () => {
    const { tableName, streamArn } = await freshTable();
    for (const i of [0, 1, 2]) await put(tableName, `EVT#${i}`);
    const settings = streamSettings({ batchSize: 3, retryAttempts: 2, bisectBatchOnError: true });
    const s = startStreamPoller(streamArn, settings, throwingOn('EVT#1'));

    await until('the poison record to be dropped', () => s.dropped().length > 0);
    await put(tableName, 'EVT#3');
    await until('a later record', () => s.succeededKeys().includes('EVT#3'));

    const poisonSeq = seqOf(s.calls.flat().find((r) => skOf(r) === 'EVT#1') as DynamoDBRecord);
    expect([...s.succeededKeys()].sort()).toEqual(['EVT#0', 'EVT#2', 'EVT#3']);
    const poisonCalls = s.calls.filter((b) => b.some((r) => skOf(r) === 'EVT#1'));
    // The first delivery and at least retryAttempts retries, the last one of it alone.
    expect(poisonCalls.length).toBeGreaterThanOrEqual(settings.retryAttempts + 1);
    expect(poisonCalls.at(-1)?.map(skOf)).toEqual(['EVT#1']);
    expect(s.dropped()).toHaveLength(1);
    expect(s.dropped()[0]).toMatchObject({
      level: 'error',
      sequenceNumbers: [poisonSeq],
      error: expect.stringContaining('cannot process EVT#1'),
    });
    // The on-failure destination got Lambda's record of exactly the poison record.
    expect(s.failures).toHaveLength(1);
    expect(s.failures[0]).toMatchObject({
      version: '1.0',
      requestContext: {
        condition: 'RetryAttemptsExhausted',
        functionArn: 'local:function:evaluator',
        approximateInvokeCount: settings.retryAttempts + 1,
      },
      responseContext: { functionError: 'Unhandled' },
      DDBStreamBatchInfo: {
        startSequenceNumber: poisonSeq,
        endSequenceNumber: poisonSeq,
        batchSize: 1,
        streamArn,
        shardId: expect.stringMatching(/^shardId-/),
      },
    });
    // Nothing was handed over after the drop but the later record.
    expect(s.calls.at(-1)?.map(skOf)).toEqual(['EVT#3']);
  });

  it('does not count bisection against the retry quota: no innocent record is dropped', async () => {
    // AWS: "Splitting a batch does not count towards the retry quota." With one retry, a batch
    // of 4 holding one poison record must still be split down to it; the other 3 succeed.
    const { tableName, streamArn } = await freshTable();
    for (const i of [0, 1, 2, 3]) await put(tableName, `EVT#${i}`);
    const settings = streamSettings({ batchSize: 4, retryAttempts: 1, bisectBatchOnError: true });
    const s = startStreamPoller(streamArn, settings, throwingOn('EVT#0'));

    await until('a drop', () => s.dropped().length > 0);
    await put(tableName, 'EVT#4');
    await until('a later record', () => s.succeededKeys().includes('EVT#4'));

    const poisonSeq = seqOf(s.calls.flat().find((r) => skOf(r) === 'EVT#0') as DynamoDBRecord);
    expect(s.dropped().flatMap((e) => e.sequenceNumbers)).toEqual([poisonSeq]);
    expect([...s.succeededKeys()].sort()).toEqual(['EVT#1', 'EVT#2', 'EVT#3', 'EVT#4']);
  });

  it('without bisection retries a throwing batch whole retryAttempts times, drops it, and later records flow', async () => {
    const { tableName, streamArn } = await freshTable();
    for (const i of [0, 1, 2, 3, 4, 5]) await put(tableName, `EVT#${i}`);
    const settings = streamSettings({ batchSize: 3, retryAttempts: 2, bisectBatchOnError: false });
    const s = startStreamPoller(streamArn, settings, throwingOn('EVT#0', 'EVT#1', 'EVT#2'));

    await until('the second batch', () => s.succeededKeys().includes('EVT#5'));
    await put(tableName, 'EVT#6');
    await until('a later record', () => s.succeededKeys().includes('EVT#6'));

    const firstBatch = ['EVT#0', 'EVT#1', 'EVT#2'];
    expect(s.keysOfCalls()).toEqual([
      firstBatch,
      firstBatch,
      firstBatch,
      ['EVT#3', 'EVT#4', 'EVT#5'],
      ['EVT#6'],
    ]);
    const firstSeqs = (s.calls[0] ?? []).map(seqOf);
    expect(s.dropped()).toHaveLength(1);
    expect(s.dropped()[0]).toMatchObject({ level: 'error', sequenceNumbers: firstSeqs });
    expect(s.succeededKeys()).toEqual(['EVT#3', 'EVT#4', 'EVT#5', 'EVT#6']);
  });

  it('drops a record reported failed on every retry with the rest of its batch, once', async () => {
    const { tableName, streamArn } = await freshTable();
    for (const i of [0, 1, 2]) await put(tableName, `EVT#${i}`);
    const settings = streamSettings({ batchSize: 3, retryAttempts: 2 });
    const s = startStreamPoller(streamArn, settings, async (event) => {
      const bad = event.Records.find((r) => skOf(r) === 'EVT#1');
      return { batchItemFailures: bad ? [{ itemIdentifier: seqOf(bad) }] : [] };
    });

    await until('the drop', () => s.dropped().length > 0);
    await put(tableName, 'EVT#3');
    await until('a later record', () => s.succeededKeys().includes('EVT#3'));

    expect(s.keysOfCalls()).toEqual([
      ['EVT#0', 'EVT#1', 'EVT#2'],
      ['EVT#1', 'EVT#2'],
      ['EVT#1', 'EVT#2'],
      ['EVT#3'],
    ]);
    expect(s.dropped()).toHaveLength(1);
    expect(s.dropped()[0]?.sequenceNumbers).toEqual((s.calls[1] ?? []).map(seqOf));
  });
});

// ---------------------------------------------------------------------------------------------
// Queues

async function freshQueue(visibilityTimeoutSeconds?: number) {
  const queue = await createTaskQueue(sqs, `pollers-${randomUUID()}`);
  if (visibilityTimeoutSeconds !== undefined) {
    await sqs.send(
      new SetQueueAttributesCommand({
        QueueUrl: queue.queueUrl,
        Attributes: { VisibilityTimeout: String(visibilityTimeoutSeconds) },
      }),
    );
  }
  return queue;
}

async function send(queueUrl: string, body: string): Promise<string> {
  const { MessageId } = await sqs.send(
    new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }),
  );
  if (MessageId === undefined) throw new Error('SendMessage returned no MessageId');
  return MessageId;
}

async function queueCounts(queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(Attributes?.ApproximateNumberOfMessages ?? Number.NaN),
    inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? Number.NaN),
  };
}

async function queueEmpty(queueUrl: string): Promise<boolean> {
  const { visible, inFlight } = await queueCounts(queueUrl);
  return visible === 0 && inFlight === 0;
}

/** A started queue poller whose every invocation is recorded, with when it came. */
function startQueuePoller(
  queue: { queueUrl: string; queueArn: string },
  handler: (event: SQSEvent) => Promise<SQSBatchResponse>,
  opts: { batchSize?: number; waitTimeSeconds?: number; client?: SQSClient } = {},
) {
  const calls: Array<{ at: number; records: SQSRecord[] }> = [];
  const logs: LogEntry[] = [];
  const poller = new QueuePoller({
    client: opts.client ?? sqs,
    queueUrl: queue.queueUrl,
    queueArn: queue.queueArn,
    batchSize: opts.batchSize ?? TASK_QUEUE.batchSize,
    waitTimeSeconds: opts.waitTimeSeconds ?? 1,
    log: (entry) => logs.push(entry),
    handler: async (event) => {
      calls.push({ at: Date.now(), records: [...event.Records] });
      return handler(event);
    },
  });
  running.push(poller);
  poller.start();
  const deliveries = (messageId: string) =>
    calls.flatMap((c) =>
      c.records.filter((r) => r.messageId === messageId).map((r) => ({ ...r, at: c.at })),
    );
  return { poller, calls, logs, deliveries };
}

const ok = async (): Promise<SQSBatchResponse> => ({ batchItemFailures: [] });

describe('QueuePoller on the SQS emulator', () => {
  it('hands messages over as SQSEvent records, in batches of at most batchSize, and deletes successes', async () => {
    const queue = await freshQueue();
    const sent = new Map<string, string>();
    for (const body of ['m1', 'm2', 'm3', 'm4', 'm5'])
      sent.set(await send(queue.queueUrl, body), body);

    const q = startQueuePoller(queue, ok, { batchSize: 2 });
    await until('all 5 messages', () => q.calls.flatMap((c) => c.records).length >= 5);
    await until('the queue to empty', () => queueEmpty(queue.queueUrl));

    const records = q.calls.flatMap((c) => c.records);
    expect(new Map(records.map((r) => [r.messageId, r.body]))).toEqual(sent);
    expect(records).toHaveLength(5);
    for (const c of q.calls) expect(c.records.length).toBeLessThanOrEqual(2);
    for (const r of records) {
      expect(r).toMatchObject({
        receiptHandle: expect.stringMatching(/.+/),
        eventSource: 'aws:sqs',
        eventSourceARN: queue.queueArn,
        awsRegion: expect.any(String),
        attributes: {
          ApproximateReceiveCount: '1',
          SentTimestamp: expect.stringMatching(/^\d+$/),
          ApproximateFirstReceiveTimestamp: expect.stringMatching(/^\d+$/),
        },
      });
    }
    expect(q.logs).toEqual([]);
  });

  it('leaves a reported failure to come back after the visibility timeout, with ApproximateReceiveCount 2', async () => {
    const queue = await freshQueue(1);
    const failing = await send(queue.queueUrl, 'fails once');
    const fine = await send(queue.queueUrl, 'fine');
    const q = startQueuePoller(queue, async (event) => ({
      batchItemFailures: event.Records.filter(
        (r) => r.messageId === failing && r.attributes.ApproximateReceiveCount === '1',
      ).map((r) => ({ itemIdentifier: r.messageId })),
    }));

    await until('the redelivery', () => q.deliveries(failing).length >= 2);
    await until('the queue to empty', () => queueEmpty(queue.queueUrl));

    const [first, second] = q.deliveries(failing);
    expect(second).toMatchObject({
      messageId: failing,
      body: 'fails once',
      attributes: { ApproximateReceiveCount: '2' },
    });
    expect(second?.receiptHandle).not.toBe(first?.receiptHandle);
    // Not before the visibility timeout (1 s; some slack for the emulator's clock).
    expect((second?.at ?? 0) - (first?.at ?? 0)).toBeGreaterThanOrEqual(800);
    expect(q.deliveries(failing)).toHaveLength(2);
    expect(q.deliveries(fine)).toHaveLength(1);
  });

  it('returns every message of a batch whose handler throws', async () => {
    const queue = await freshQueue(1);
    const ids = [await send(queue.queueUrl, 'a'), await send(queue.queueUrl, 'b')];
    let first = true;
    const q = startQueuePoller(queue, async () => {
      if (first) {
        first = false;
        throw new Error('handler crashed');
      }
      return { batchItemFailures: [] };
    });

    await until('the queue to empty', async () => {
      const firstBatch = q.calls[0]?.records ?? [];
      return (
        firstBatch.length > 0 &&
        firstBatch.every((r) => q.deliveries(r.messageId).length >= 2) &&
        (await queueEmpty(queue.queueUrl))
      );
    });

    for (const r of q.calls[0]?.records ?? []) {
      expect(q.deliveries(r.messageId)[1]?.attributes.ApproximateReceiveCount).toBe('2');
    }
    expect(new Set(q.calls.flatMap((c) => c.records.map((r) => r.messageId)))).toEqual(
      new Set(ids),
    );
    expect(q.logs).toContainEqual(
      expect.objectContaining({
        level: 'error',
        error: expect.stringContaining('handler crashed'),
      }),
    );
  });

  it('treats an itemIdentifier naming no message of the batch as a failure of the whole batch', async () => {
    // AWS: "Lambda treats a batch as a complete failure if your function returns ... an
    // itemIdentifier value with a message ID that doesn't exist."
    const queue = await freshQueue(1);
    await send(queue.queueUrl, 'a');
    await send(queue.queueUrl, 'b');
    let first = true;
    const q = startQueuePoller(queue, async () => {
      if (!first) return { batchItemFailures: [] };
      first = false;
      return { batchItemFailures: [{ itemIdentifier: 'no-such-message' }] };
    });

    await until('the first batch', () => q.calls.length > 0);
    const firstBatch = q.calls[0]?.records ?? [];
    await until(
      'every message of the first batch to come back',
      () => firstBatch.every((r) => q.deliveries(r.messageId).length >= 2),
      6_000,
    );

    for (const r of firstBatch) {
      expect(q.deliveries(r.messageId)[1]?.attributes.ApproximateReceiveCount).toBe('2');
    }
  });

  it('moves a message failing maxReceiveCount times to the dead-letter queue', async () => {
    const queue = await freshQueue(1);
    const poison = await send(queue.queueUrl, 'poison');
    const q = startQueuePoller(queue, async (event) => ({
      batchItemFailures: event.Records.map((r) => ({ itemIdentifier: r.messageId })),
    }));

    let dead: { MessageId?: string; Body?: string } | undefined;
    await until(
      'the message in the DLQ',
      async () => {
        const { Messages } = await sqs.send(
          new ReceiveMessageCommand({ QueueUrl: queue.dlqUrl, WaitTimeSeconds: 1 }),
        );
        dead = Messages?.[0];
        return dead !== undefined;
      },
      30_000,
    );
    await until('the task queue to empty', () => queueEmpty(queue.queueUrl));

    expect(dead).toMatchObject({ MessageId: poison, Body: 'poison' });
    expect(q.deliveries(poison).map((r) => r.attributes.ApproximateReceiveCount)).toEqual(
      Array.from({ length: TASK_QUEUE.maxReceiveCount }, (_, i) => String(i + 1)),
    );
  });

  it('stops promptly while a long poll is open', async () => {
    const queue = await freshQueue();
    let openReceives = 0;
    // The shared client, counting the receives in flight.
    const client = {
      send: async (command: unknown, options?: unknown) => {
        const isReceive = command instanceof ReceiveMessageCommand;
        if (isReceive) openReceives += 1;
        try {
          return await (sqs.send as (c: unknown, o?: unknown) => Promise<unknown>)(
            command,
            options,
          );
        } finally {
          if (isReceive) openReceives -= 1;
        }
      },
    } as unknown as SQSClient;
    const q = startQueuePoller(queue, ok, {
      client,
      waitTimeSeconds: TASK_QUEUE.receiveWaitTimeSeconds,
    });
    await until('a long poll to be open', () => openReceives > 0);
    await sleep(200);

    const started = Date.now();
    await q.poller.stop();
    const took = Date.now() - started;

    expect(took).toBeLessThan(2_000);
    expect(openReceives).toBe(0);
    expect(q.logs).toEqual([]);
    // Nothing reaches the handler once stopped. (The emulator does not notice the aborted
    // request: its abandoned long poll takes this message and hides it for the visibility
    // timeout. Sending it also ends that poll, so it does not hold up the emulator's shutdown.)
    await send(queue.queueUrl, 'after stop');
    await sleep(300);
    expect(q.calls).toEqual([]);
  });
});
