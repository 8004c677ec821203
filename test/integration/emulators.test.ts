import { connect } from 'node:net';
import {
  ConditionalCheckFailedException,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  DynamoDBClient,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import {
  DeleteMessageCommand,
  GetQueueAttributesCommand,
  type Message,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  TransactWriteCommand,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TASK_QUEUE } from '../../lib/adapters/aws-lambda/wiring.ts';
import { NotAvailableError } from '../../lib/errors.ts';
import {
  localAwsConfig,
  type RunningEmulators,
  startDynamoDbLocal,
  startEmulators,
} from '../../lib/local/emulators.ts';
import { createSessionTable, createTaskQueue } from '../../lib/local/provision.ts';
import { TABLE } from '../../lib/store/layout.ts';

const TABLE_NAME = 'sessions';
const QUEUE_NAME = 'tasks';

let emulators: RunningEmulators;
let ddb: DynamoDBClient;
let doc: DynamoDBDocumentClient;
let streams: DynamoDBStreamsClient;
let sqs: SQSClient;
let streamArn: string;
let queueUrl: string;

beforeAll(async () => {
  emulators = await startEmulators();
  ddb = new DynamoDBClient(localAwsConfig(emulators.dynamodbEndpoint));
  doc = DynamoDBDocumentClient.from(ddb);
  streams = new DynamoDBStreamsClient(localAwsConfig(emulators.dynamodbEndpoint));
  sqs = new SQSClient(localAwsConfig(emulators.sqsEndpoint));
  ({ streamArn } = await createSessionTable(ddb, TABLE_NAME));
  ({ queueUrl } = await createTaskQueue(sqs, QUEUE_NAME));
}, 60_000);

afterAll(async () => {
  ddb?.destroy();
  streams?.destroy();
  sqs?.destroy();
  await emulators?.stop();
}, 30_000);

async function receiveOne(url: string, visibilityTimeout?: number): Promise<Message | undefined> {
  const { Messages } = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: url,
      MaxNumberOfMessages: 1,
      WaitTimeSeconds: 1,
      VisibilityTimeout: visibilityTimeout,
      MessageSystemAttributeNames: ['ApproximateReceiveCount'],
    }),
  );
  return Messages?.[0];
}

function portAcceptsConnections(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: '127.0.0.1', port });
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

describe('the session table', () => {
  it('has the wiring key schema and a NEW_AND_OLD_IMAGES stream', async () => {
    const { Table } = await ddb.send(new DescribeTableCommand({ TableName: TABLE_NAME }));

    expect(Table?.KeySchema).toEqual([
      { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
    ]);
    expect(Table?.StreamSpecification).toEqual({
      StreamEnabled: true,
      StreamViewType: TABLE.streamView,
    });
    expect(Table?.LatestStreamArn).toBe(streamArn);
  });

  it('has TTL on the wiring attribute', async () => {
    const { TimeToLiveDescription } = await ddb.send(
      new DescribeTimeToLiveCommand({ TableName: TABLE_NAME }),
    );

    expect(TimeToLiveDescription).toMatchObject({
      TimeToLiveStatus: 'ENABLED',
      AttributeName: TABLE.ttlAttribute,
    });
  });

  it('is provisioned again without error and keeps its stream', async () => {
    const again = await createSessionTable(ddb, TABLE_NAME);

    expect(again.streamArn).toBe(streamArn);
  });

  it('returns an item that was put', async () => {
    const item = { pk: 'S#read', sk: 'HEAD', version: 1 };
    await doc.send(new PutCommand({ TableName: TABLE_NAME, Item: item }));

    const { Item } = await doc.send(
      new GetCommand({ TableName: TABLE_NAME, Key: { pk: 'S#read', sk: 'HEAD' } }),
    );

    expect(Item).toEqual(item);
  });

  it('refuses a conditional put on an existing item', async () => {
    const item = { pk: 'S#cond', sk: 'EVT#1' };
    await doc.send(new PutCommand({ TableName: TABLE_NAME, Item: item }));

    const put = doc.send(
      new PutCommand({
        TableName: TABLE_NAME,
        Item: item,
        ConditionExpression: 'attribute_not_exists(sk)',
      }),
    );

    await expect(put).rejects.toBeInstanceOf(ConditionalCheckFailedException);
  });

  it('cancels a transaction whose condition fails, with a reason per item', async () => {
    await doc.send(new PutCommand({ TableName: TABLE_NAME, Item: { pk: 'S#tx', sk: 'HEAD' } }));

    const error = await doc
      .send(
        new TransactWriteCommand({
          TransactItems: [
            { Put: { TableName: TABLE_NAME, Item: { pk: 'S#tx', sk: 'EVT#1' } } },
            {
              ConditionCheck: {
                TableName: TABLE_NAME,
                Key: { pk: 'S#tx', sk: 'HEAD' },
                ConditionExpression: 'attribute_not_exists(sk)',
              },
            },
          ],
        }),
      )
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(TransactionCanceledException);
    expect((error as TransactionCanceledException).CancellationReasons?.map((r) => r.Code)).toEqual(
      ['None', 'ConditionalCheckFailed'],
    );
    const { Item } = await doc.send(
      new GetCommand({ TableName: TABLE_NAME, Key: { pk: 'S#tx', sk: 'EVT#1' } }),
    );
    expect(Item).toBeUndefined();
  });
});

describe('the session table stream', () => {
  it('records an insert with its new image', async () => {
    await doc.send(
      new PutCommand({ TableName: TABLE_NAME, Item: { pk: 'S#stream', sk: 'EVT#1', n: 7 } }),
    );
    const { StreamDescription } = await streams.send(
      new DescribeStreamCommand({ StreamArn: streamArn }),
    );
    const shardIds = (StreamDescription?.Shards ?? []).map((shard) => shard.ShardId);

    const records = [];
    for (const shardId of shardIds) {
      const { ShardIterator } = await streams.send(
        new GetShardIteratorCommand({
          StreamArn: streamArn,
          ShardId: shardId,
          ShardIteratorType: 'TRIM_HORIZON',
        }),
      );
      const { Records } = await streams.send(
        new GetRecordsCommand({ ShardIterator: ShardIterator }),
      );
      records.push(...(Records ?? []));
    }

    const insert = records.find((r) => r.dynamodb?.Keys?.pk?.S === 'S#stream');
    expect(insert?.eventName).toBe('INSERT');
    expect(insert?.dynamodb?.NewImage).toMatchObject({ sk: { S: 'EVT#1' }, n: { N: '7' } });
  });
});

describe('the task queue', () => {
  it('has the wiring visibility timeout and redrive policy', async () => {
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['All'] }),
    );

    expect(Attributes?.VisibilityTimeout).toBe(String(TASK_QUEUE.visibilityTimeoutSeconds(30)));
    expect(JSON.parse(Attributes?.RedrivePolicy ?? '{}')).toMatchObject({
      maxReceiveCount: TASK_QUEUE.maxReceiveCount,
    });
  });

  it('is provisioned again without error, converging to new settings', async () => {
    const first = await createTaskQueue(sqs, 'tasks-twice');

    const again = await createTaskQueue(sqs, 'tasks-twice', { functionTimeoutSeconds: 10 });

    expect(again).toEqual(first);
    const { Attributes } = await sqs.send(
      new GetQueueAttributesCommand({ QueueUrl: again.queueUrl, AttributeNames: ['All'] }),
    );
    expect(Attributes?.VisibilityTimeout).toBe(String(TASK_QUEUE.visibilityTimeoutSeconds(10)));
  });

  it('delivers a message that was sent', async () => {
    await sqs.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: 'hello' }));

    const message = await receiveOne(queueUrl);

    expect(message?.Body).toBe('hello');
    await sqs.send(
      new DeleteMessageCommand({ QueueUrl: queueUrl, ReceiptHandle: message?.ReceiptHandle }),
    );
  });

  it('moves a message received maxReceiveCount times without delete to the DLQ', async () => {
    const queue = await createTaskQueue(sqs, 'tasks-redrive');
    await sqs.send(new SendMessageCommand({ QueueUrl: queue.queueUrl, MessageBody: 'poison' }));

    const receiveCounts: string[] = [];
    for (let i = 0; i <= TASK_QUEUE.maxReceiveCount; i++) {
      // A zero visibility timeout makes each receive an immediate failed attempt.
      const message = await receiveOne(queue.queueUrl, 0);
      if (message === undefined) break;
      receiveCounts.push(message.Attributes?.ApproximateReceiveCount ?? '?');
    }
    const dead = await receiveOne(queue.dlqUrl);

    expect(receiveCounts).toEqual(
      Array.from({ length: TASK_QUEUE.maxReceiveCount }, (_, i) => String(i + 1)),
    );
    expect(dead?.Body).toBe('poison');
  });
});

describe('DynamoDB Local', () => {
  it('no longer accepts connections once stopped', async () => {
    const local = await startDynamoDbLocal();
    const port = Number(new URL(local.endpoint).port);
    expect(await portAcceptsConnections(port)).toBe(true);

    await local.stop();

    expect(await portAcceptsConnections(port)).toBe(false);
  }, 60_000);

  it('rejects with NotAvailableError naming Java 17 when java cannot be found', async () => {
    const path = process.env.PATH;
    process.env.PATH = '';
    try {
      const start = startDynamoDbLocal();

      await expect(start).rejects.toBeInstanceOf(NotAvailableError);
      await expect(start).rejects.toThrow(/Java 17.*TRIGGERS_DYNAMODB_ENDPOINT/s);
    } finally {
      process.env.PATH = path;
    }
  });
});
