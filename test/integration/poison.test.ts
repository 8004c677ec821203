/**
 * Poison work on the local event-source runner (DynamoDB Local + the SQS emulator): a stream
 * record the evaluator can never process (a corrupted event item) is bisected away from the
 * good records, given up after the wiring's retries and sent to the stream on-failure queue,
 * while the other sessions of the same batches run to the end.
 */
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { ReceiveMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EVALUATOR_SOURCE } from '../../lib/adapters/aws-lambda/wiring.ts';
import type { LogEntry } from '../../lib/core/log.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import { defineWorkflow, type TaskHandler } from '../../lib/index.ts';
import { localAwsConfig } from '../../lib/local/emulators.ts';
import { DynamoRunner } from '../../lib/local/runner.ts';
import type { StreamFailureRecord } from '../../lib/local/stream-poller.ts';
import { keys, TABLE } from '../../lib/store/layout.ts';

const workflow = defineWorkflow('poison', { t_a: { after: ['go'], run: 'ok' } });
const ok: TaskHandler = (ctx) => ({ session: ctx.sessionId });

let runner: DynamoRunner;
const logs: LogEntry[] = [];

beforeAll(async () => {
  runner = await DynamoRunner.start(new WorkflowRegistry([workflow]), { ok }, (e) => logs.push(e));
}, 60_000);

afterAll(async () => {
  await runner?.close();
});

describe('a stream record that fails on every delivery', () => {
  it('goes to the on-failure queue after the retries, and blocks no other session', async () => {
    const sessions = ['a', 'b', 'c', 'd'];
    // A corrupted event item among good ones: its kwargs are not JSON.
    await runner.store.putEvent({
      sessionId: 'a',
      eventId: 'a-go',
      kind: 'fire',
      trigger: 'go',
      kwargs: {},
      source: 'api',
      firedAt: new Date().toISOString(),
    });
    const ddb = new DynamoDBClient(localAwsConfig(runner.dynamodbEndpoint));
    await ddb.send(
      new PutItemCommand({
        TableName: runner.store.tableName,
        Item: {
          [TABLE.partitionKey]: { S: keys.session('poisoned') },
          [TABLE.sortKey]: { S: keys.event('bad') },
          sessionId: { S: 'poisoned' },
          eventId: { S: 'bad' },
          kind: { S: 'fire' },
          trigger: { S: 'go' },
          kwargs: { S: '{not json' },
          source: { S: 'api' },
          firedAt: { S: new Date().toISOString() },
        },
      }),
    );
    ddb.destroy();
    for (const s of sessions.slice(1)) {
      await runner.store.putEvent({
        sessionId: s,
        eventId: `${s}-go`,
        kind: 'fire',
        trigger: 'go',
        kwargs: {},
        source: 'api',
        firedAt: new Date().toISOString(),
      });
    }

    await runner.settle(60_000);

    for (const s of sessions) {
      const instance = await runner.store.getInstance(s, 't_a#0');
      expect(instance?.status, s).toBe('finished');
      expect(instance?.result, s).toEqual({ session: s });
    }
    expect(await runner.store.getHead('poisoned')).toBeUndefined();

    const sqs = new SQSClient(localAwsConfig(runner.sqsEndpoint));
    const got = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: runner.streamFailuresUrl,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    const records = (got.Messages ?? []).map(
      (m) => JSON.parse(m.Body ?? '{}') as StreamFailureRecord,
    );
    expect(records).toHaveLength(1);
    expect(records[0]).toMatchObject({
      requestContext: {
        condition: 'RetryAttemptsExhausted',
        functionArn: 'local:function:evaluator',
        approximateInvokeCount: EVALUATOR_SOURCE.retryAttempts + 1,
      },
      DDBStreamBatchInfo: { batchSize: 1 },
    });
    const dropped = logs.filter((e) => /dropped after the last retry/.test(e.message));
    expect(dropped).toHaveLength(1);
    expect(dropped[0]?.sequenceNumbers).toEqual([
      records[0]?.DDBStreamBatchInfo.startSequenceNumber,
    ]);
    sqs.destroy();
  });
});
