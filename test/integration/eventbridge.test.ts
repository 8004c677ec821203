/**
 * The EventBridge ingestion Lambda against DynamoDB Local and the SQS emulator, built the way
 * its generated entry builds it (`eventBridgeRuntimeFromEnv` + `createEventBridgeHandler`): an
 * event delivered twice, even at once, lands once; an event whose mapped fire is invalid lands in
 * the dead-letter queue with the reason, and nothing in the table.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import {
  CreateQueueCommand,
  type Message,
  ReceiveMessageCommand,
  SQSClient,
} from '@aws-sdk/client-sqs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createEventBridgeHandler,
  type EventBridgeHandler,
} from '../../lib/adapters/aws-lambda/eventbridge.ts';
import { eventBridgeRuntimeFromEnv } from '../../lib/adapters/aws-lambda/eventbridge-environment.ts';
import type { LogEntry } from '../../lib/core/log.ts';
import { defineWorkflow } from '../../lib/index.ts';
import {
  localAwsConfig,
  type RunningEmulators,
  startEmulators,
} from '../../lib/local/emulators.ts';
import { createSessionTable } from '../../lib/local/provision.ts';
import { DynamoStore } from '../../lib/store/dynamo-store.ts';

const orders = defineWorkflow('orders', { t_ship: { after: ['orderPlaced'], run: 'ship' } });

let emulators: RunningEmulators | undefined;
let ddb: DynamoDBClient | undefined;
let sqs: SQSClient | undefined;

beforeAll(async () => {
  // Reuses TRIGGERS_DYNAMODB_ENDPOINT and TRIGGERS_SQS_ENDPOINT from the project's global setup.
  emulators = await startEmulators();
  ddb = new DynamoDBClient(localAwsConfig(emulators.dynamodbEndpoint));
  sqs = new SQSClient(localAwsConfig(emulators.sqsEndpoint));
}, 60_000);

afterAll(async () => {
  ddb?.destroy();
  sqs?.destroy();
  await emulators?.stop();
});

interface Deployment {
  handler: EventBridgeHandler;
  store: DynamoStore;
  tableName: string;
  dlqUrl: string;
  logs: LogEntry[];
}

/** A fresh table and dead-letter queue, and the function's handler over them. */
async function deploy(mapping: Record<string, unknown>): Promise<Deployment> {
  if (!emulators || !ddb || !sqs) throw new Error('the emulators did not start');
  const tableName = `eventbridge-${randomUUID()}`;
  await createSessionTable(ddb, tableName);
  const created = await sqs.send(new CreateQueueCommand({ QueueName: `eb-dlq-${randomUUID()}` }));
  const dlqUrl = created.QueueUrl as string;
  const logs: LogEntry[] = [];
  const env = {
    TRIGGERS_TABLE_NAME: tableName,
    TRIGGERS_DYNAMODB_ENDPOINT: emulators.dynamodbEndpoint,
    TRIGGERS_SQS_ENDPOINT: emulators.sqsEndpoint,
    AWS_REGION: 'us-east-1',
    TRIGGERS_EVENT_MAPPING: JSON.stringify(mapping),
    TRIGGERS_DEAD_LETTER_QUEUE_URL: dlqUrl,
  };
  const runtime = eventBridgeRuntimeFromEnv({ workflows: [orders] }, env, {
    dynamodb: ddb,
    sqs,
    log: (entry) => {
      logs.push(entry);
    },
  });
  return {
    handler: createEventBridgeHandler(runtime),
    store: new DynamoStore({ tableName, client: ddb }),
    tableName,
    dlqUrl,
    logs,
  };
}

function orderEvent(detail: unknown, id = randomUUID()) {
  return {
    version: '0',
    id,
    'detail-type': 'OrderPlaced',
    source: 'shop.orders',
    account: '123456789012',
    time: '2026-01-01T00:00:00Z',
    region: 'us-east-1',
    resources: [],
    detail,
  };
}

async function itemCount(tableName: string): Promise<number> {
  const out = await (ddb as DynamoDBClient).send(new ScanCommand({ TableName: tableName }));
  return out.Count ?? 0;
}

async function deadLetters(dlqUrl: string): Promise<Message[]> {
  const out = await (sqs as SQSClient).send(
    new ReceiveMessageCommand({
      QueueUrl: dlqUrl,
      MaxNumberOfMessages: 10,
      MessageAttributeNames: ['All'],
      WaitTimeSeconds: 1,
    }),
  );
  return out.Messages ?? [];
}

const ORDER_MAPPING = { sessionId: '$.detail.orderId', trigger: 'orderPlaced' };

describe('EventBridge ingestion on DynamoDB Local', () => {
  it('stores an event delivered twice once; the second delivery is a duplicate', async () => {
    const { handler, store } = await deploy(ORDER_MAPPING);
    const event = orderEvent({ orderId: 'o-1', total: 42 });
    const first = await handler(event);
    const second = await handler(event);
    expect(first).toMatchObject({ status: 'fired', sessionId: 'o-1', duplicate: false });
    expect(second).toMatchObject({ status: 'fired', sessionId: 'o-1', duplicate: true });
    const events = await store.listEvents('o-1');
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      kind: 'fire',
      trigger: 'orderPlaced',
      kwargs: { orderId: 'o-1', total: 42 },
      eventId: `orderPlaced:${event.id}`,
    });
  });

  it('stores an event delivered twice at once exactly once', async () => {
    const { handler, store } = await deploy(ORDER_MAPPING);
    const event = orderEvent({ orderId: 'o-2' });
    const outcomes = await Promise.all([handler(event), handler(event), handler(event)]);
    expect(outcomes.map((o) => o.status === 'fired' && o.duplicate).sort()).toEqual([
      false,
      true,
      true,
    ]);
    expect(await store.listEvents('o-2')).toHaveLength(1);
  });

  it('keeps distinct events of one session apart', async () => {
    const { handler, store } = await deploy(ORDER_MAPPING);
    await handler(orderEvent({ orderId: 'o-3' }));
    await handler(orderEvent({ orderId: 'o-3' }));
    expect(await store.listEvents('o-3')).toHaveLength(2);
  });

  it('dead-letters an event whose session id breaks the name rules, with the reason', async () => {
    const { handler, tableName, dlqUrl, logs } = await deploy(ORDER_MAPPING);
    const event = orderEvent({ orderId: 'order 1' });
    const outcome = await handler(event);
    expect(outcome).toMatchObject({ status: 'rejected', code: 'VALIDATION' });
    expect(await itemCount(tableName)).toBe(0);
    const [message, ...more] = await deadLetters(dlqUrl);
    expect(more).toEqual([]);
    expect(JSON.parse(message?.Body ?? 'null')).toEqual(event);
    expect(message?.MessageAttributes?.ERROR_CODE?.StringValue).toBe('VALIDATION');
    expect(message?.MessageAttributes?.ERROR_MESSAGE?.StringValue).toBe(
      'mapping.sessionId ($.detail.orderId) gave "order 1", which must match ^[A-Za-z0-9_.:-]{1,256}$',
    );
    expect(logs.filter((l) => l.level === 'error').map((l) => l.eventBridgeId)).toEqual([event.id]);
  });

  it('dead-letters an event whose kwargs are not a JSON object', async () => {
    const { handler, tableName, dlqUrl } = await deploy({
      ...ORDER_MAPPING,
      kwargs: '$.detail.items',
    });
    const event = orderEvent({ orderId: 'o-4', items: ['a', 'b'] });
    expect(await handler(event)).toMatchObject({ status: 'rejected' });
    expect(await itemCount(tableName)).toBe(0);
    const messages = await deadLetters(dlqUrl);
    expect(messages.map((m) => m.MessageAttributes?.ERROR_MESSAGE?.StringValue)).toEqual([
      'mapping.kwargs ($.detail.items) gave an array, which must be a JSON object',
    ]);
  });
});
