/**
 * Creates the session table and task queues the way the table layout (`lib/store/layout.ts`) and
 * the wiring (`lib/adapters/aws-lambda/wiring.ts`) define them, for the local runner and
 * integration tests. Every function is idempotent: what exists is kept.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  DescribeTimeToLiveCommand,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  ResourceInUseException,
  type TableDescription,
  UpdateTableCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  GetQueueUrlCommand,
  QueueNameExists,
  SetQueueAttributesCommand,
  type SQSClient,
  SQSServiceException,
} from '@aws-sdk/client-sqs';
import { TASK_QUEUE } from '../adapters/aws-lambda/wiring.ts';
import { TriggersError } from '../errors.ts';
import { STALE_INDEX, TABLE } from '../store/layout.ts';

/** The session table as provisioned. */
export interface ProvisionedTable {
  /** The ARN of the table's stream (`NEW_AND_OLD_IMAGES`). */
  readonly streamArn: string;
}

/** Options of `createSessionTable`. */
export interface SessionTableOptions {
  /**
   * Give the table the stale index (`STALE_INDEX`) a `DynamoStore` with `staleIndex` writes
   * and queries; an existing table without it gets it added. `true` uses the default name.
   * @default false
   */
  readonly staleIndex?: boolean | { readonly name?: string };
}

/** Options of `createTaskQueue`. */
export interface TaskQueueOptions {
  /** The timeout of the function that consumes the queue, in seconds. @default 30 */
  readonly functionTimeoutSeconds?: number;
}

/** A task queue and its dead-letter queue as provisioned. */
export interface ProvisionedTaskQueue {
  readonly queueUrl: string;
  readonly dlqUrl: string;
  readonly queueArn: string;
  readonly dlqArn: string;
}

const TABLE_WAIT_SECONDS = 300;
const SECONDS_PER_DAY = 86_400;

/**
 * Creates the session table (`pk`/`sk` strings, on-demand, a `NEW_AND_OLD_IMAGES` stream),
 * waits until it is active, turns on TTL on `expiresAt` and returns the stream ARN. An
 * existing table with the same keys and stream is kept; one that differs is refused with a
 * `TriggersError` coded `TABLE_MISMATCH`. With `staleIndex`, the table also gets the stale
 * index (added to an existing table that lacks it, and waited for until active).
 *
 * Emulators that do not implement TTL are tolerated: the table is created without it.
 *
 * @example
 * const { streamArn } = await createSessionTable(new DynamoDBClient({}), 'triggers-sessions');
 * await createSessionTable(client, 'triggers-sessions', { staleIndex: true });
 */
export async function createSessionTable(
  client: DynamoDBClient,
  tableName: string,
  opts: SessionTableOptions = {},
): Promise<ProvisionedTable> {
  const staleIndex = opts.staleIndex ? staleIndexDefinition(opts.staleIndex) : undefined;
  try {
    await client.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: TABLE.partitionKey, AttributeType: 'S' },
          { AttributeName: TABLE.sortKey, AttributeType: 'S' },
          ...(staleIndex ? STALE_ATTRIBUTES : []),
        ],
        KeySchema: [
          { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
          { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
        ],
        BillingMode: TABLE.billing,
        StreamSpecification: { StreamEnabled: true, StreamViewType: TABLE.streamView },
        ...(staleIndex ? { GlobalSecondaryIndexes: [staleIndex] } : {}),
      }),
    );
  } catch (e) {
    if (!(e instanceof ResourceInUseException)) throw e;
  }
  await waitUntilTableExists(
    { client, minDelay: 1, maxWaitTime: TABLE_WAIT_SECONDS },
    { TableName: tableName },
  );
  const { Table: table } = await client.send(new DescribeTableCommand({ TableName: tableName }));
  const streamArn = checkTable(tableName, table);
  if (staleIndex) await ensureStaleIndex(client, tableName, table, staleIndex);
  await enableTtl(client, tableName);
  return { streamArn };
}

const STALE_ATTRIBUTES = [
  { AttributeName: STALE_INDEX.partitionKey, AttributeType: 'S' },
  { AttributeName: STALE_INDEX.sortKey, AttributeType: 'S' },
] as const;

/** The stale index as `CreateTable` and `UpdateTable` take it: keys only, sparse. */
function staleIndexDefinition(option: true | { readonly name?: string }): GlobalSecondaryIndex {
  return {
    IndexName: (option === true ? undefined : option.name) ?? STALE_INDEX.name,
    KeySchema: [
      { AttributeName: STALE_INDEX.partitionKey, KeyType: 'HASH' },
      { AttributeName: STALE_INDEX.sortKey, KeyType: 'RANGE' },
    ],
    Projection: { ProjectionType: 'KEYS_ONLY' },
  };
}

const keySchemaText = (keys: GlobalSecondaryIndex['KeySchema']): string =>
  (keys ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`).join(', ');

/** Adds the stale index to a table that lacks it; refuses an index of that name with other keys. */
async function ensureStaleIndex(
  client: DynamoDBClient,
  tableName: string,
  table: TableDescription | undefined,
  index: GlobalSecondaryIndex,
): Promise<void> {
  const existing = table?.GlobalSecondaryIndexes?.find((i) => i.IndexName === index.IndexName);
  if (existing !== undefined) {
    if (keySchemaText(existing.KeySchema) !== keySchemaText(index.KeySchema)) {
      throw new TriggersError(
        `table '${tableName}' has an index '${index.IndexName}' with keys ${keySchemaText(existing.KeySchema)}; the stale index needs ${keySchemaText(index.KeySchema)}`,
        { code: 'TABLE_MISMATCH' },
      );
    }
  } else {
    await client.send(
      new UpdateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [...STALE_ATTRIBUTES],
        GlobalSecondaryIndexUpdates: [{ Create: index }],
      }),
    );
  }
  const deadline = Date.now() + TABLE_WAIT_SECONDS * 1000;
  for (;;) {
    const { Table: now } = await client.send(new DescribeTableCommand({ TableName: tableName }));
    const status = now?.GlobalSecondaryIndexes?.find((i) => i.IndexName === index.IndexName);
    if (status?.IndexStatus === 'ACTIVE') return;
    if (Date.now() > deadline) {
      throw new TriggersError(
        `index '${index.IndexName}' of table '${tableName}' is still ${status?.IndexStatus ?? 'missing'} after ${TABLE_WAIT_SECONDS} s`,
        { code: 'PROVISIONING' },
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

/**
 * Creates the dead-letter queue `<name>-dlq` and the task queue `<name>` with the wiring's
 * redrive (`maxReceiveCount`), visibility timeout (six times the function timeout) and DLQ
 * retention. Existing queues are kept and their attributes set to these.
 *
 * @example
 * const { queueUrl, dlqUrl } = await createTaskQueue(new SQSClient({}), 'triggers-tasks', {
 *   functionTimeoutSeconds: 60,
 * });
 */
export async function createTaskQueue(
  client: SQSClient,
  name: string,
  opts: TaskQueueOptions = {},
): Promise<ProvisionedTaskQueue> {
  const functionTimeoutSeconds = opts.functionTimeoutSeconds ?? 30;
  const dlqUrl = await ensureQueue(client, `${name}-dlq`, {
    MessageRetentionPeriod: String(TASK_QUEUE.dlqRetentionDays * SECONDS_PER_DAY),
  });
  const dlqArn = await queueArn(client, dlqUrl);
  const queueUrl = await ensureQueue(client, name, {
    VisibilityTimeout: String(TASK_QUEUE.visibilityTimeoutSeconds(functionTimeoutSeconds)),
    RedrivePolicy: JSON.stringify({
      deadLetterTargetArn: dlqArn,
      maxReceiveCount: TASK_QUEUE.maxReceiveCount,
    }),
  });
  return { queueUrl, dlqUrl, queueArn: await queueArn(client, queueUrl), dlqArn };
}

function checkTable(tableName: string, table: TableDescription | undefined): string {
  const keySchema = (table?.KeySchema ?? []).map((k) => `${k.AttributeName}:${k.KeyType}`);
  const expectedKeys = [`${TABLE.partitionKey}:HASH`, `${TABLE.sortKey}:RANGE`];
  const stream = table?.StreamSpecification;
  const streamArn = table?.LatestStreamArn;
  if (
    keySchema.join(',') !== expectedKeys.join(',') ||
    stream?.StreamEnabled !== true ||
    stream.StreamViewType !== TABLE.streamView ||
    streamArn === undefined
  ) {
    throw new TriggersError(
      `table '${tableName}' exists but is not a session table: it needs keys ` +
        `${expectedKeys.join(', ')} and a ${TABLE.streamView} stream (it has keys ` +
        `${keySchema.join(', ') || 'unknown'} and stream ${stream?.StreamViewType ?? 'none'})`,
      { code: 'TABLE_MISMATCH' },
    );
  }
  return streamArn;
}

async function enableTtl(client: DynamoDBClient, tableName: string): Promise<void> {
  try {
    const { TimeToLiveDescription: ttl } = await client.send(
      new DescribeTimeToLiveCommand({ TableName: tableName }),
    );
    const status = ttl?.TimeToLiveStatus;
    // Enabling TTL twice is an error in DynamoDB, so an already enabled TTL is left as it is.
    if (status === 'ENABLED' || status === 'ENABLING') return;
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      }),
    );
  } catch (e) {
    if (!isUnsupportedOperation(e)) throw e;
  }
}

function isUnsupportedOperation(e: unknown): boolean {
  if (!(e instanceof Error)) return false;
  return (
    e.name === 'UnknownOperationException' ||
    /unknown operation|not (yet )?(supported|implemented)/i.test(e.message)
  );
}

async function ensureQueue(
  client: SQSClient,
  name: string,
  attributes: Record<string, string>,
): Promise<string> {
  try {
    const { QueueUrl } = await client.send(
      new CreateQueueCommand({ QueueName: name, Attributes: attributes }),
    );
    return required(QueueUrl, `CreateQueue '${name}'`);
  } catch (e) {
    // The queue exists with other attributes (another function timeout, say): converge.
    if (!isQueueNameTaken(e)) throw e;
    const { QueueUrl } = await client.send(new GetQueueUrlCommand({ QueueName: name }));
    const queueUrl = required(QueueUrl, `GetQueueUrl '${name}'`);
    await client.send(
      new SetQueueAttributesCommand({ QueueUrl: queueUrl, Attributes: attributes }),
    );
    return queueUrl;
  }
}

function isQueueNameTaken(e: unknown): boolean {
  // Emulators that send the JSON error code as the query-compatible code (fauxqs) reach the
  // SDK as a bare `SQSServiceException` named after the code instead of `QueueNameExists`.
  return (
    e instanceof QueueNameExists ||
    (e instanceof SQSServiceException && /QueueNameExists|QueueAlreadyExists/.test(e.name))
  );
}

async function queueArn(client: SQSClient, queueUrl: string): Promise<string> {
  const { Attributes } = await client.send(
    new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ['QueueArn'] }),
  );
  return required(Attributes?.QueueArn, `GetQueueAttributes QueueArn of ${queueUrl}`);
}

function required(value: string | undefined, what: string): string {
  if (value === undefined) {
    throw new TriggersError(`${what} returned no value`, { code: 'PROVISIONING' });
  }
  return value;
}
