/**
 * The template mode's local AWS endpoint in front of DynamoDB Local and the SQS emulator, called
 * by the real SDK clients a function uses: what the role allows goes through and takes effect,
 * what it does not is refused as AWS refuses it, and an unknown key is not let in.
 */
import { randomUUID } from 'node:crypto';
import { crc32 } from 'node:zlib';
import {
  CreateTableCommand,
  DynamoDBClient,
  ExecuteStatementCommand,
  GetItemCommand,
  PutItemCommand,
  TransactWriteItemsCommand,
} from '@aws-sdk/client-dynamodb';
import {
  DescribeStreamCommand,
  DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
} from '@aws-sdk/client-dynamodb-streams';
import {
  CreateQueueCommand,
  ReceiveMessageCommand,
  SendMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { localAwsConfig } from '../../lib/local/emulators.ts';
import {
  type AwsProxy,
  type ProxyDenial,
  type ProxyUnsupported,
  startAwsProxy,
} from '../../lib/local/template/aws-proxy.ts';
import { createIamAuthorizer, rolePolicies } from '../../lib/local/template/iam.ts';
import { type CfnResource, DEFAULT_LOCAL_ENV } from '../../lib/local/template/model.ts';

const env = DEFAULT_LOCAL_ENV;
const run = randomUUID().slice(0, 8);
const TABLE = `proxy-sessions-${run}`;
const QUEUE = `proxy-tasks-${run}`;
const TABLE_ARN = `arn:aws:dynamodb:us-east-1:000000000000:table/${TABLE}`;
const QUEUE_ARN = `arn:aws:sqs:us-east-1:000000000000:${QUEUE}`;
/** The queue URL functions are given; the endpoint rewrites it to the emulator's. */
const QUEUE_URL = `https://sqs.us-east-1.amazonaws.com/000000000000/${QUEUE}`;
const WRITER_KEY = 'AKIALOCALWRITER';
const READER_KEY = 'AKIALOCALREADER';

const allow = (Action: string[], Resource: string) => ({ Effect: 'Allow', Action, Resource });
const role = (statements: unknown[], name: string): Record<string, CfnResource> => ({
  [`${name}Role`]: { Type: 'AWS::IAM::Role', Properties: { RoleName: name } },
  [`${name}Policy`]: {
    Type: 'AWS::IAM::Policy',
    Properties: {
      PolicyName: `${name}Policy`,
      Roles: [name],
      PolicyDocument: { Version: '2012-10-17', Statement: statements },
    },
  },
});

let proxy: AwsProxy;
let direct: DynamoDBClient;
let streamArn: string;
const denials: ProxyDenial[] = [];
const unsupported: ProxyUnsupported[] = [];
const events: string[] = [];

/** A request as a client of another SDK (or none) would send it. */
const raw = (accessKeyId: string, service: string, headers: Record<string, string>, body: string) =>
  fetch(proxy.url, {
    method: 'POST',
    headers: {
      ...headers,
      authorization: `AWS4-HMAC-SHA256 Credential=${accessKeyId}/20240101/us-east-1/${service}/aws4_request, SignedHeaders=host, Signature=0`,
    },
    body,
  });

const client = <T>(Client: new (c: object) => T, accessKeyId: string): T =>
  new Client({
    endpoint: proxy.url,
    region: 'us-east-1',
    credentials: { accessKeyId, secretAccessKey: 'local-secret' },
    maxAttempts: 1,
  });

beforeAll(async () => {
  const dynamodbEndpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT ?? '';
  const sqsEndpoint = process.env.TRIGGERS_SQS_ENDPOINT ?? '';
  direct = new DynamoDBClient(localAwsConfig(dynamodbEndpoint));
  const table = await direct.send(
    new CreateTableCommand({
      TableName: TABLE,
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
      BillingMode: 'PAY_PER_REQUEST',
      StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_IMAGE' },
    }),
  );
  const upstreamStreamArn = table.TableDescription?.LatestStreamArn ?? '';
  // DynamoDB Local's ARNs carry its own region; functions see the template's.
  const upstreamArnPrefix = upstreamStreamArn.split(':table/')[0] ?? '';
  streamArn = upstreamStreamArn.replace(
    upstreamArnPrefix,
    'arn:aws:dynamodb:us-east-1:000000000000',
  );
  const sqs = new SQSClient(localAwsConfig(sqsEndpoint));
  const { QueueUrl: upstreamQueueUrl = '' } = await sqs.send(
    new CreateQueueCommand({ QueueName: QUEUE }),
  );
  sqs.destroy();

  const resources = {
    ...role(
      [
        allow(
          [
            'dynamodb:PutItem',
            'dynamodb:GetItem',
            'dynamodb:UpdateItem',
            'dynamodb:ConditionCheckItem',
          ],
          TABLE_ARN,
        ),
        allow(['sqs:SendMessage', 'sqs:ReceiveMessage'], QUEUE_ARN),
        allow(['events:PutEvents'], 'arn:aws:events:us-east-1:000000000000:event-bus/default'),
        allow(
          ['dynamodb:DescribeStream', 'dynamodb:GetShardIterator', 'dynamodb:GetRecords'],
          streamArn,
        ),
      ],
      'Writer',
    ),
    ...role([allow(['sqs:ReceiveMessage'], QUEUE_ARN)], 'Reader'),
  };
  const { byRole, resourcePolicies } = rolePolicies(resources, env);
  proxy = await startAwsProxy({
    identities: new Map([
      [
        WRITER_KEY,
        {
          functionLogicalId: 'WriterFunction',
          roleLogicalId: 'WriterRole',
          principalArn: 'arn:aws:sts::000000000000:assumed-role/Writer/writer-fn',
        },
      ],
      [
        READER_KEY,
        {
          functionLogicalId: 'ReaderFunction',
          roleLogicalId: 'ReaderRole',
          principalArn: 'arn:aws:sts::000000000000:assumed-role/Reader/reader-fn',
        },
      ],
    ]),
    authorizer: await createIamAuthorizer({ policiesByRole: byRole, resourcePolicies, env }),
    upstream: {
      dynamodb: dynamodbEndpoint,
      sqs: sqsEndpoint,
      events: async (body) => {
        events.push(body);
        const answer = { FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] };
        return { status: 200, headers: {}, body: JSON.stringify(answer) };
      },
    },
    rewrites: [
      ['arn:aws:dynamodb:us-east-1:000000000000:', `${upstreamArnPrefix}:`],
      [QUEUE_URL, upstreamQueueUrl],
    ],
    onDenied: (d) => denials.push(d),
    onUnsupported: (u) => unsupported.push(u),
    log: () => {},
  });
}, 60_000);

afterAll(async () => {
  direct?.destroy();
  await proxy?.close();
});

describe('the local AWS endpoint', () => {
  it('forwards an allowed PutItem, which takes effect on DynamoDB Local', async () => {
    const ddb = client(DynamoDBClient, WRITER_KEY);
    await ddb.send(
      new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'put' }, arn: { S: TABLE_ARN } } }),
    );
    const got = await direct.send(
      new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'put' } } }),
    );
    expect(got.Item?.pk?.S).toBe('put');
  });

  it('answers with the ARNs as the function wrote them, under a checksum of what it sends', async () => {
    const ddb = client(DynamoDBClient, WRITER_KEY);
    const got = await ddb.send(new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'put' } } }));
    expect(got.Item?.arn?.S).toBe(TABLE_ARN);
    // SDKs that verify DynamoDB's x-amz-crc32 (botocore, Java) must get the rewritten body's.
    const res = await raw(
      WRITER_KEY,
      'dynamodb',
      { 'x-amz-target': 'DynamoDB_20120810.GetItem', 'content-type': 'application/x-amz-json-1.0' },
      JSON.stringify({ TableName: TABLE, Key: { pk: { S: 'put' } } }),
    );
    const text = await res.text();
    expect(text).toContain(TABLE_ARN);
    expect(res.headers.get('x-amz-crc32')).toBe(String(crc32(text)));
  });

  it('forwards a TransactWriteItems whose every item is allowed', async () => {
    const ddb = client(DynamoDBClient, WRITER_KEY);
    await ddb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: TABLE, Item: { pk: { S: 'tx' }, n: { N: '1' } } } },
          {
            Update: {
              TableName: TABLE,
              Key: { pk: { S: 'tx-2' } },
              UpdateExpression: 'SET n = :n',
              ExpressionAttributeValues: { ':n': { N: '2' } },
            },
          },
        ],
      }),
    );
    const got = await direct.send(
      new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'tx-2' } } }),
    );
    expect(got.Item?.n?.N).toBe('2');
  });

  it('refuses a TransactWriteItems with an item whose action the role lacks', async () => {
    const ddb = client(DynamoDBClient, WRITER_KEY);
    const sent = ddb.send(
      new TransactWriteItemsCommand({
        TransactItems: [
          { Put: { TableName: TABLE, Item: { pk: { S: 'tx-denied' } } } },
          { Delete: { TableName: TABLE, Key: { pk: { S: 'put' } } } },
        ],
      }),
    );
    await expect(sent).rejects.toMatchObject({
      name: 'AccessDeniedException',
      message: expect.stringContaining(`dynamodb:DeleteItem on resource: ${TABLE_ARN}`),
    });
    const got = await direct.send(
      new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'tx-denied' } } }),
    );
    expect(got.Item).toBeUndefined();
  });

  it('sends and receives SQS messages, their content as the function wrote it', async () => {
    const sqs = client(SQSClient, WRITER_KEY);
    const body = JSON.stringify({ replyTo: QUEUE_URL, at: Date.now() });
    await sqs.send(new SendMessageCommand({ QueueUrl: QUEUE_URL, MessageBody: body }));
    const got = await sqs.send(
      new ReceiveMessageCommand({
        QueueUrl: QUEUE_URL,
        MaxNumberOfMessages: 10,
        WaitTimeSeconds: 1,
      }),
    );
    expect(got.Messages?.map((m) => m.Body)).toContain(body);
  });

  it('refuses a SendMessage the role does not allow, as SQS does, naming the function', async () => {
    const before = proxy.deniedCount;
    const sqs = client(SQSClient, READER_KEY);
    const sent = sqs.send(new SendMessageCommand({ QueueUrl: QUEUE_URL, MessageBody: 'nope' }));
    await expect(sent).rejects.toMatchObject({
      name: 'AccessDenied',
      message: expect.stringMatching(
        new RegExp(
          `not authorized to perform: sqs:SendMessage on resource: ${QUEUE_ARN} .*\\(local function ReaderFunction\\)$`,
        ),
      ),
    });
    expect(proxy.deniedCount).toBe(before + 1);
    expect(denials.at(-1)).toMatchObject({
      functionLogicalId: 'ReaderFunction',
      action: 'sqs:SendMessage',
      resource: QUEUE_ARN,
      kind: 'implicit',
    });
  });

  it('reads the table stream by the stream ARN the function knows', async () => {
    const streams = client(DynamoDBStreamsClient, WRITER_KEY);
    const described = await streams.send(new DescribeStreamCommand({ StreamArn: streamArn }));
    expect(described.StreamDescription?.StreamArn).toBe(streamArn);
    const shardId = described.StreamDescription?.Shards?.[0]?.ShardId;
    const { ShardIterator } = await streams.send(
      new GetShardIteratorCommand({
        StreamArn: streamArn,
        ShardId: shardId,
        ShardIteratorType: 'TRIM_HORIZON',
      }),
    );
    const records = await streams.send(new GetRecordsCommand({ ShardIterator }));
    const keys = records.Records?.map((r) => r.dynamodb?.Keys?.pk?.S);
    expect(keys).toContain('put');
    // Item content is rewritten back too: the function reads the ARN it wrote.
    const put = records.Records?.find((r) => r.dynamodb?.Keys?.pk?.S === 'put');
    expect(put?.dynamodb?.NewImage?.arn?.S).toBe(TABLE_ARN);
  });

  it('refuses a request it cannot map to IAM checks, and says so', async () => {
    const ddb = client(DynamoDBClient, WRITER_KEY);
    const sent = ddb.send(new ExecuteStatementCommand({ Statement: `SELECT * FROM "${TABLE}"` }));
    await expect(sent).rejects.toMatchObject({
      name: 'UnsupportedOperation',
      message: expect.stringContaining('PartiQL'),
    });
    expect(unsupported.at(-1)).toMatchObject({
      functionLogicalId: 'WriterFunction',
      operation: 'ExecuteStatement',
    });
  });

  it('hands an allowed PutEvents to the EventBridge stand-in, and refuses one to another bus', async () => {
    const target = {
      'x-amz-target': 'AWSEvents.PutEvents',
      'content-type': 'application/x-amz-json-1.1',
    };
    const entry = { Source: 'app', DetailType: 'done', Detail: '{}' };
    const allowed = await raw(WRITER_KEY, 'events', target, JSON.stringify({ Entries: [entry] }));
    expect(await allowed.json()).toEqual({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    expect(events.map((b) => JSON.parse(b))).toEqual([{ Entries: [entry] }]);
    const other = { Entries: [{ ...entry, EventBusName: 'orders' }] };
    const refused = await raw(WRITER_KEY, 'events', target, JSON.stringify(other));
    expect(refused.status).toBe(400);
    expect(refused.headers.get('x-amzn-errortype')).toBe('AccessDeniedException');
    expect(events).toHaveLength(1);
  });

  it('does not let in a key it does not know', async () => {
    const ddb = client(DynamoDBClient, 'AKIAUNKNOWN');
    const sent = ddb.send(
      new PutItemCommand({ TableName: TABLE, Item: { pk: { S: 'stranger' } } }),
    );
    await expect(sent).rejects.toMatchObject({
      name: 'UnrecognizedClientException',
      message: 'The security token included in the request is invalid.',
    });
    const got = await direct.send(
      new GetItemCommand({ TableName: TABLE, Key: { pk: { S: 'stranger' } } }),
    );
    expect(got.Item).toBeUndefined();
  });
});
