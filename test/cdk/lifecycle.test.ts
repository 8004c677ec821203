/**
 * The `lifecycleEvents` option in the synthesized template: off, nothing at all; on, the
 * lifecycle function on its own event source of the table stream (the wiring's
 * `LIFECYCLE_SOURCE`), its dead-letter queue and alarms, `events:PutEvents` on the bus alone,
 * the environment of the function and of the evaluator, and cdk-nag.
 * May import: the construct (infra/), the example stack, anything under lib/, test fixtures.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import {
  acknowledgeTriggersFindings,
  suppressReviewedFindings,
} from '../../examples/survey/stack.ts';
import { Triggers, type TriggersProps } from '../../infra/index.ts';
import { ENV } from '../../lib/adapters/aws-lambda/variables.ts';
import { LIFECYCLE_SOURCE, TASK_QUEUE } from '../../lib/adapters/aws-lambda/wiring.ts';
import { defineWorkflow } from '../../lib/engine/workflow.ts';
import {
  assetDirOf,
  inlineFunction,
  nagFindings,
  type Statement,
  statementsOf,
  unbundledApp,
} from './stacks.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
const workflows = [defineWorkflow('orders', { t_ship: { after: ['orderPlaced'], run: 'h' } })];

/** A stack with one `Triggers`; `configure` adds props that need the stack (a bus, a key). */
function synth(
  props: Partial<TriggersProps> = {},
  configure: (s: Stack) => Partial<TriggersProps> = () => ({}),
) {
  const stack = new Stack(unbundledApp(), 'Lifecycle');
  const h = inlineFunction(stack);
  const triggers = new Triggers(stack, 'Triggers', {
    workflows,
    handlers: { h },
    ...props,
    ...configure(stack),
  });
  const template = Template.fromStack(stack);
  const resources = template.toJSON().Resources as Record<string, Resource>;
  return { stack, triggers, template, resources };
}

const ref = (stack: Stack, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as lambda.CfnFunction);

const arnOf = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => ({
  'Fn::GetAtt': [ref(stack, construct), 'Arn'],
});

const ofType = (resources: Record<string, Resource>, type: string) =>
  Object.entries(resources).filter(([, r]) => r.Type === type);

const allStatements = (resources: Record<string, Resource>): Statement[] =>
  ofType(resources, 'AWS::IAM::Policy').flatMap(
    ([, p]) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
  );

/** Every statement of the template that allows an EventBridge action. */
const eventsStatements = (resources: Record<string, Resource>): Statement[] =>
  allStatements(resources).filter((st) => [st.Action].flat().some((a) => a.startsWith('events:')));

const envOf = (resources: Record<string, Resource>, logicalId: string) =>
  ((resources[logicalId]?.Properties.Environment as { Variables?: Record<string, unknown> })
    ?.Variables ?? {}) as Record<string, unknown>;

/** The default bus's ARN, as `EventBus.fromEventBusName(scope, id, 'default')` renders it. */
const DEFAULT_BUS_ARN = {
  'Fn::Join': [
    '',
    [
      'arn:',
      { Ref: 'AWS::Partition' },
      ':events:',
      { Ref: 'AWS::Region' },
      ':',
      { Ref: 'AWS::AccountId' },
      ':event-bus/default',
    ],
  ],
};

const STREAM_READ = [
  'dynamodb:DescribeStream',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
  'dynamodb:ListStreams',
];

describe('lifecycleEvents off', () => {
  const off = [
    ['left out', synth()],
    ['false', synth({ lifecycleEvents: false })],
  ] as const;
  const on = synth({ lifecycleEvents: true });

  it.each(off)('%s: no lifecycle function, event source, queue or alarm', (_, synthesized) => {
    const { triggers, resources, stack } = synthesized;
    expect(triggers.lifecycleFunction).toBeUndefined();
    expect(triggers.lifecycleDeadLetterQueue).toBeUndefined();
    const handlers = ofType(resources, 'AWS::Lambda::Function').map(
      ([, r]) => r.Properties.Handler,
    );
    expect(handlers).not.toContain('lifecycle.handler');
    const streamMappings = ofType(resources, 'AWS::Lambda::EventSourceMapping').filter(
      ([, r]) =>
        JSON.stringify(r.Properties.EventSourceArn) ===
        JSON.stringify({ 'Fn::GetAtt': [ref(stack, triggers.table), 'StreamArn'] }),
    );
    expect(streamMappings.map(([, r]) => r.Properties.FunctionName)).toEqual([
      { Ref: ref(stack, triggers.evaluator) },
    ]);
    // What the option adds, counted against the same stack with it on.
    const count = (r: Record<string, Resource>, type: string) => ofType(r, type).length;
    expect(count(on.resources, 'AWS::SQS::Queue') - count(resources, 'AWS::SQS::Queue')).toBe(1);
    expect(
      count(on.resources, 'AWS::CloudWatch::Alarm') - count(resources, 'AWS::CloudWatch::Alarm'),
    ).toBe(2);
    expect(Object.keys(resources).filter((id) => id.startsWith('TriggersLifecycle'))).toEqual([]);
  });

  it.each(off)('%s: no PutEvents anywhere, no lifecycle variable on any function', (_, s) => {
    const actions = allStatements(s.resources).flatMap((st) => [st.Action].flat());
    expect(actions.filter((a) => a.startsWith('events:'))).toEqual([]);
    for (const [id] of ofType(s.resources, 'AWS::Lambda::Function')) {
      const env = envOf(s.resources, id);
      expect(env[ENV.lifecycle], id).toBeUndefined();
      expect(env[ENV.eventBusName], id).toBeUndefined();
    }
  });
});

describe('lifecycleEvents: true', () => {
  const { stack, triggers, template, resources } = synth({ lifecycleEvents: true });
  const fn = triggers.lifecycleFunction as lambda.Function;
  const dlq = triggers.lifecycleDeadLetterQueue as sqs.Queue;

  it('creates the pre-bundled lifecycle function', () => {
    expect(fn).toBeDefined();
    expect(resources[ref(stack, fn)]?.Properties.Handler).toBe('lifecycle.handler');
  });

  it("reads the table stream with exactly one event source, made from the wiring's LIFECYCLE_SOURCE", () => {
    const mappings = ofType(resources, 'AWS::Lambda::EventSourceMapping').filter(
      ([, r]) =>
        JSON.stringify(r.Properties.FunctionName) === JSON.stringify({ Ref: ref(stack, fn) }),
    );
    expect(mappings).toHaveLength(1);
    const mapping = (mappings[0] as [string, Resource])[1].Properties;
    expect(mapping.EventSourceArn).toEqual({
      'Fn::GetAtt': [ref(stack, triggers.table), 'StreamArn'],
    });
    expect(mapping.FilterCriteria).toEqual({
      Filters: LIFECYCLE_SOURCE.filters.map((pattern) => ({ Pattern: JSON.stringify(pattern) })),
    });
    expect(mapping.BatchSize).toBe(LIFECYCLE_SOURCE.batchSize);
    expect(mapping.MaximumBatchingWindowInSeconds ?? 0).toBe(
      LIFECYCLE_SOURCE.maxBatchingWindowSeconds,
    );
    expect(mapping.StartingPosition).toBe(LIFECYCLE_SOURCE.startingPosition);
    expect(mapping.BisectBatchOnFunctionError).toBe(LIFECYCLE_SOURCE.bisectBatchOnError);
    expect(mapping.MaximumRetryAttempts).toBe(LIFECYCLE_SOURCE.retryAttempts);
    expect(mapping.ParallelizationFactor).toBe(LIFECYCLE_SOURCE.parallelizationFactor);
    expect(mapping.FunctionResponseTypes).toEqual(
      LIFECYCLE_SOURCE.reportBatchItemFailures ? ['ReportBatchItemFailures'] : undefined,
    );
    expect(mapping.DestinationConfig).toEqual({
      OnFailure: { Destination: arnOf(stack, dlq) },
    });
  });

  it('keeps the dead-letter queue like the other queues: encrypted, TLS only, two weeks', () => {
    const props = resources[ref(stack, dlq)]?.Properties ?? {};
    expect(props.SqsManagedSseEnabled).toBe(true);
    expect(props.MessageRetentionPeriod).toBe(TASK_QUEUE.dlqRetentionDays * 24 * 3600);
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: ref(stack, dlq) }],
      PolicyDocument: {
        Statement: [
          {
            Effect: 'Deny',
            Action: 'sqs:*',
            Condition: { Bool: { 'aws:SecureTransport': 'false' } },
          },
        ],
      },
    });
  });

  it('alarms as soon as the dead-letter queue holds a message, and when the function falls behind', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [ref(stack, dlq), 'QueueName'] } }],
      Threshold: 1,
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'IteratorAge',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: ref(stack, fn) } }],
    });
  });

  it('may put events on the default bus, and only there', () => {
    const puts = eventsStatements(resources);
    expect(puts).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Resource: DEFAULT_BUS_ARN,
      }),
    ]);
    expect(statementsOf(template, stack, fn.role)).toContainEqual(puts[0]);
  });

  it('gives the function stream reads, GetItem, PutEvents and sends to its queue, nothing else', () => {
    const actions = [
      ...new Set(statementsOf(template, stack, fn.role).flatMap((st) => [st.Action].flat())),
    ].sort();
    expect(actions).toEqual(
      [
        ...STREAM_READ,
        'dynamodb:GetItem',
        'events:PutEvents',
        'sqs:GetQueueAttributes',
        'sqs:GetQueueUrl',
        'sqs:SendMessage',
      ].sort(),
    );
  });

  it('names the table and the bus in the function environment, and turns the notes on in the evaluator', () => {
    expect(envOf(resources, ref(stack, fn))).toEqual({
      [ENV.tableName]: { Ref: ref(stack, triggers.table) },
      [ENV.eventBusName]: 'default',
    });
    expect(envOf(resources, ref(stack, triggers.evaluator))[ENV.lifecycle]).toBe('1');
    expect(envOf(resources, ref(stack, triggers.ingest))[ENV.lifecycle]).toBeUndefined();
  });

  it('ships the lifecycle bundle, which reads the bus variable, beside the workflows', () => {
    const dir = assetDirOf(stack, fn);
    expect(readdirSync(dir)).toEqual(expect.arrayContaining(['lifecycle.mjs', 'app.json']));
    const code = readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.mjs'))
      .map((file) => readFileSync(join(dir, file), 'utf8'))
      .join('\n');
    expect(code).toContain(ENV.eventBusName);
  });
});

describe('lifecycleEvents: { eventBus }', () => {
  let bus: events.EventBus | undefined;
  const { stack, triggers, template, resources } = synth({}, (s) => {
    bus = new events.EventBus(s, 'Audit');
    return { lifecycleEvents: { eventBus: bus } };
  });
  const fn = triggers.lifecycleFunction as lambda.Function;

  it('may put events on that bus, and only there', () => {
    const puts = eventsStatements(resources);
    expect(puts).toEqual([
      expect.objectContaining({
        Effect: 'Allow',
        Action: 'events:PutEvents',
        Resource: arnOf(stack, bus as events.EventBus),
      }),
    ]);
    expect(statementsOf(template, stack, fn.role)).toContainEqual(puts[0]);
  });

  it("names that bus in the function's environment", () => {
    expect(envOf(resources, ref(stack, fn))[ENV.eventBusName]).toEqual({
      Ref: ref(stack, bus as events.EventBus),
    });
  });
});

describe('lifecycleEvents with other options', () => {
  it('adds no alarm when alarms are off, and still publishes', () => {
    const { triggers, template } = synth({ lifecycleEvents: true, alarms: false });
    expect(triggers.lifecycleFunction).toBeDefined();
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
  });

  it('encrypts the dead-letter queue with a customer managed key when one is given', () => {
    let key: kms.Key | undefined;
    const { stack, triggers, resources } = synth({ lifecycleEvents: true }, (s) => {
      key = new kms.Key(s, 'Key', { enableKeyRotation: true });
      return { encryptionKey: key };
    });
    const dlq = triggers.lifecycleDeadLetterQueue as sqs.Queue;
    expect(resources[ref(stack, dlq)]?.Properties.KmsMasterKeyId).toEqual(
      arnOf(stack, key as kms.Key),
    );
  });

  it('finds no unacknowledged AwsSolutions finding', () => {
    const { stack, triggers } = synth({ lifecycleEvents: true });
    suppressReviewedFindings(stack);
    acknowledgeTriggersFindings(triggers);
    expect(nagFindings(stack)).toEqual([]);
  });
});
