/**
 * The template's data resources made real on the emulators: each `AWS::DynamoDB::Table` on
 * DynamoDB Local and each `AWS::SQS::Queue` on the SQS emulator, with the properties the
 * template gives them; and the list of resource types the mode runs, skips or refuses.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import {
  CreateTableCommand,
  type CreateTableCommandInput,
  type CreateTableCommandOutput,
  type DynamoDBClient,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import { CreateQueueCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { TemplateError } from '../../errors.ts';
import type { PhysicalResource } from './intrinsics.ts';
import type { CfnTemplate, LocalEnv } from './model.ts';

/**
 * The resource types the mode runs (each listed with what of it is honoured in
 * docs/design.md, "The template mode").
 */
export const EMULATED_TYPES: ReadonlySet<string> = new Set([
  'AWS::DynamoDB::Table',
  'AWS::SQS::Queue',
  'AWS::SQS::QueuePolicy',
  'AWS::Lambda::Function',
  'AWS::Lambda::EventSourceMapping',
  'AWS::IAM::Role',
  'AWS::IAM::Policy',
  'AWS::IAM::ManagedPolicy',
  'AWS::ApiGatewayV2::Api',
  'AWS::ApiGatewayV2::Route',
  'AWS::ApiGatewayV2::Integration',
  'AWS::ApiGatewayV2::Stage',
  'AWS::Events::Rule',
  'AWS::Events::EventBus',
  'AWS::CloudFormation::CustomResource',
]);

/**
 * Types that do not matter to the data path: listed once as "not emulated" and skipped.
 * Anything neither here nor emulated stops the mode with one line naming it.
 */
export const SKIPPED_TYPES: ReadonlySet<string> = new Set([
  'AWS::CDK::Metadata',
  'AWS::Logs::LogGroup',
  'AWS::Logs::MetricFilter',
  'AWS::Logs::SubscriptionFilter',
  'AWS::CloudWatch::Alarm',
  'AWS::CloudWatch::CompositeAlarm',
  'AWS::CloudWatch::Dashboard',
  'AWS::Lambda::Permission',
  'AWS::Lambda::EventInvokeConfig',
  'AWS::SNS::Topic',
  'AWS::SNS::Subscription',
  'AWS::SNS::TopicPolicy',
  'AWS::KMS::Key',
  'AWS::KMS::Alias',
  'AWS::ApiGatewayV2::Authorizer',
  'AWS::IAM::InstanceProfile',
  'AWS::SSM::Parameter',
  'AWS::Events::Archive',
]);

/**
 * Sorts the template's resources into what runs and what is skipped; throws `TemplateError`
 * naming the first resource of a type the mode does not emulate and that may matter.
 *
 * @example
 * const { skipped } = inventory(stack.template);
 * for (const [id, type] of skipped) console.log(`not emulated: ${id} (${type})`);
 */
export function inventory(template: CfnTemplate): { skipped: Array<[string, string]> } {
  const skipped: Array<[string, string]> = [];
  for (const [id, r] of Object.entries(template.Resources)) {
    if (EMULATED_TYPES.has(r.Type) || r.Type.startsWith('Custom::')) continue;
    if (SKIPPED_TYPES.has(r.Type)) {
      skipped.push([id, r.Type]);
      continue;
    }
    throw new TemplateError(id, `resource type ${r.Type} is not emulated by the template mode`);
  }
  return { skipped };
}

/**
 * A physical name as CloudFormation makes one (stack, logical id, a suffix of this run), cut
 * to the service's limit. A cut name ends with a hash of the whole logical id, so two long
 * logical ids that differ only at the end (CDK puts its hash there) keep distinct names.
 *
 * @example
 * physicalName('TriggersSurvey', 'a1b2c3', 'TriggersTableE79C50E7', 255);
 * // 'TriggersSurvey-a1b2c3-TriggersTableE79C50E7'
 */
export function physicalName(stack: string, run: string, logicalId: string, max: number): string {
  const whole = `${stack}-${run}-${logicalId}`;
  if (whole.length <= max) return whole;
  const tail = `-${createHash('sha256').update(logicalId).digest('hex').slice(0, 8).toUpperCase()}`;
  return `${whole.slice(0, Math.max(0, max - tail.length))}${tail}`.slice(-max);
}

type Props = Record<string, unknown>;

const TABLE_PROPERTIES = new Set([
  'TableName',
  'KeySchema',
  'AttributeDefinitions',
  'BillingMode',
  'ProvisionedThroughput',
  'StreamSpecification',
  'TimeToLiveSpecification',
  'GlobalSecondaryIndexes',
  'LocalSecondaryIndexes',
  // Stored, not enforced, locally:
  'SSESpecification',
  'PointInTimeRecoverySpecification',
  'DeletionProtectionEnabled',
  'ContributorInsightsSpecification',
  'TableClass',
  'Tags',
]);

/**
 * Creates a table on DynamoDB Local from an `AWS::DynamoDB::Table`'s resolved properties: keys,
 * attribute definitions, billing, stream view type, TTL attribute and secondary indexes. Its
 * `Ref` is the name, `Arn` and `StreamArn` are in the local account and region (`streamArn`
 * maps DynamoDB Local's own stream ARN there).
 *
 * @example
 * const table = await createTable(ddb, 'Table', props, 'Stack-a1b2-Table', env);
 */
export async function createTable(
  client: DynamoDBClient,
  logicalId: string,
  props: Props,
  name: string,
  env: LocalEnv,
): Promise<PhysicalResource & { upstreamStreamArn: string | undefined }> {
  for (const key of Object.keys(props)) {
    if (!TABLE_PROPERTIES.has(key)) {
      throw new TemplateError(logicalId, `table property ${key} is not emulated`);
    }
  }
  const tableName = typeof props.TableName === 'string' ? props.TableName : name;
  const stream = props.StreamSpecification as { StreamViewType?: string } | undefined;
  const onDemand = props.BillingMode === 'PAY_PER_REQUEST';
  const input = {
    TableName: tableName,
    KeySchema: props.KeySchema,
    AttributeDefinitions: props.AttributeDefinitions,
    BillingMode: onDemand ? 'PAY_PER_REQUEST' : 'PROVISIONED',
    ...(onDemand
      ? {}
      : {
          ProvisionedThroughput: props.ProvisionedThroughput ?? {
            ReadCapacityUnits: 5,
            WriteCapacityUnits: 5,
          },
        }),
    ...(stream?.StreamViewType
      ? { StreamSpecification: { StreamEnabled: true, StreamViewType: stream.StreamViewType } }
      : {}),
    ...(Array.isArray(props.GlobalSecondaryIndexes)
      ? {
          GlobalSecondaryIndexes: (props.GlobalSecondaryIndexes as Props[]).map((gsi) => ({
            ...gsi,
            ...(onDemand ? {} : { ProvisionedThroughput: gsi.ProvisionedThroughput }),
          })),
        }
      : {}),
    ...(Array.isArray(props.LocalSecondaryIndexes)
      ? { LocalSecondaryIndexes: props.LocalSecondaryIndexes }
      : {}),
  } as CreateTableCommandInput;
  let description: CreateTableCommandOutput;
  try {
    description = await client.send(new CreateTableCommand(input));
  } catch (err) {
    throw new TemplateError(
      logicalId,
      `DynamoDB Local refused the table: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  await waitUntilTableExists({ client, minDelay: 1, maxWaitTime: 60 }, { TableName: tableName });
  const ttl = props.TimeToLiveSpecification as
    | { AttributeName?: string; Enabled?: boolean }
    | undefined;
  if (ttl?.Enabled === true && ttl.AttributeName) {
    await client.send(
      new UpdateTimeToLiveCommand({
        TableName: tableName,
        TimeToLiveSpecification: { AttributeName: ttl.AttributeName, Enabled: true },
      }),
    );
  }
  const created = description.TableDescription;
  const upstreamStreamArn = created?.LatestStreamArn;
  const arn = tableArn(env, tableName);
  const label = upstreamStreamArn?.split('/stream/')[1];
  return {
    ref: tableName,
    attributes: {
      Arn: arn,
      ...(label !== undefined ? { StreamArn: `${arn}/stream/${label}` } : {}),
    },
    upstreamStreamArn,
  };
}

/** Queue properties and the SQS attribute each sets. */
const QUEUE_ATTRIBUTES: Readonly<Record<string, string>> = {
  VisibilityTimeout: 'VisibilityTimeout',
  DelaySeconds: 'DelaySeconds',
  MessageRetentionPeriod: 'MessageRetentionPeriod',
  MaximumMessageSize: 'MaximumMessageSize',
  ReceiveMessageWaitTimeSeconds: 'ReceiveMessageWaitTimeSeconds',
  FifoQueue: 'FifoQueue',
  ContentBasedDeduplication: 'ContentBasedDeduplication',
  DeduplicationScope: 'DeduplicationScope',
  FifoThroughputLimit: 'FifoThroughputLimit',
};

/** Properties kept but not enforced locally (encryption at rest, tags). */
const QUEUE_STORED_ONLY = new Set([
  'SqsManagedSseEnabled',
  'KmsMasterKeyId',
  'KmsDataKeyReusePeriodSeconds',
  'Tags',
  'QueueName',
  'RedriveAllowPolicy',
]);

/**
 * Creates a queue on the SQS emulator from an `AWS::SQS::Queue`'s resolved properties:
 * visibility timeout, delay, retention, long-poll wait, FIFO settings and the redrive policy
 * to its dead-letter queue (which must be created first). Its `Ref` is its URL on the local
 * IAM endpoint (`localUrlBase`), so every call a function makes with it is checked.
 *
 * @example
 * const q = await createQueue(sqs, 'TaskQueue0', props, 'Stack-a1b2-TaskQueue0', env, 'http://127.0.0.1:4010');
 */
export async function createQueue(
  client: SQSClient,
  logicalId: string,
  props: Props,
  name: string,
  env: LocalEnv,
  localUrlBase: string,
): Promise<PhysicalResource & { upstreamUrl: string }> {
  const attributes: Record<string, string> = {};
  for (const [key, value] of Object.entries(props)) {
    const attribute = QUEUE_ATTRIBUTES[key];
    if (attribute !== undefined) attributes[attribute] = String(value);
    else if (key === 'RedrivePolicy') attributes.RedrivePolicy = JSON.stringify(value);
    else if (!QUEUE_STORED_ONLY.has(key)) {
      throw new TemplateError(logicalId, `queue property ${key} is not emulated`);
    }
  }
  const fifo = props.FifoQueue === true || props.FifoQueue === 'true';
  const queueName =
    typeof props.QueueName === 'string'
      ? props.QueueName
      : `${name.slice(0, fifo ? 75 : 80)}${fifo ? '.fifo' : ''}`;
  let upstreamUrl: string;
  try {
    const res = await client.send(
      new CreateQueueCommand({ QueueName: queueName, Attributes: attributes }),
    );
    upstreamUrl = res.QueueUrl ?? '';
  } catch (err) {
    throw new TemplateError(
      logicalId,
      `the SQS emulator refused the queue: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
  return { ...queuePhysical(env, queueName, localUrlBase), upstreamUrl };
}

/**
 * Queues (with their unresolved properties) in an order that creates each dead-letter queue
 * before the queues redriving to it.
 *
 * @example
 * queueCreationOrder([['Tasks', { RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': ['Dlq', 'Arn'] } } }], ['Dlq', {}]]);
 * // ['Dlq', 'Tasks']
 */
export function queueCreationOrder(queues: ReadonlyArray<[string, Props]>): string[] {
  const byArnRef = (props: Props): string | undefined => {
    const target = (props.RedrivePolicy as { deadLetterTargetArn?: unknown } | undefined)
      ?.deadLetterTargetArn;
    const getAtt = (target as { 'Fn::GetAtt'?: unknown } | undefined)?.['Fn::GetAtt'];
    // Both forms of Fn::GetAtt: `['Dlq', 'Arn']` and `'Dlq.Arn'`.
    if (typeof getAtt === 'string') return getAtt.split('.')[0];
    return Array.isArray(getAtt) ? String(getAtt[0]) : undefined;
  };
  const ids = new Set(queues.map(([id]) => id));
  const order: string[] = [];
  const visit = (id: string, seen: Set<string>) => {
    if (order.includes(id) || seen.has(id)) return;
    seen.add(id);
    const props = queues.find(([q]) => q === id)?.[1] ?? {};
    const dlq = byArnRef(props);
    if (dlq !== undefined && ids.has(dlq)) visit(dlq, seen);
    order.push(id);
  };
  for (const [id] of queues) visit(id, new Set());
  return order;
}

/**
 * A table's ARN in the local account and region.
 *
 * @example
 * tableArn(env, 'Stack-a1b2c3-Table'); // 'arn:aws:dynamodb:us-east-1:000000000000:table/Stack-a1b2c3-Table'
 */
export function tableArn(env: LocalEnv, tableName: string): string {
  return `arn:${env.partition}:dynamodb:${env.region}:${env.accountId}:table/${tableName}`;
}

/**
 * What a queue is locally: its URL on the IAM endpoint (`localUrlBase`) as its `Ref`, and its
 * ARN, name and URL as its attributes.
 *
 * @example
 * queuePhysical(env, 'Stack-a1b2c3-TaskQueue0', 'http://127.0.0.1:4010').ref;
 */
export function queuePhysical(
  env: LocalEnv,
  queueName: string,
  localUrlBase: string,
): PhysicalResource {
  const url = `${localUrlBase}/${env.accountId}/${queueName}`;
  return {
    ref: url,
    attributes: {
      Arn: `arn:${env.partition}:sqs:${env.region}:${env.accountId}:${queueName}`,
      QueueName: queueName,
      QueueUrl: url,
    },
  };
}
