/**
 * EventBridge ingestion in the synthesized template: rule, target, function, dead-letter queue,
 * role, key policy and alarm, the synth-time checks of the mapping, and cdk-nag.
 * May import: the construct (infra/), the example stack, anything under lib/, test fixtures.
 *
 * @module
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as events from 'aws-cdk-lib/aws-events';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { describe, expect, it } from 'vitest';
import {
  acknowledgeTriggersFindings,
  suppressReviewedFindings,
} from '../../examples/survey/stack.ts';
import { type EventBridgeIngestion, Triggers, type TriggersProps } from '../../infra/index.ts';
import { ENV } from '../../lib/adapters/aws-lambda/variables.ts';
import { EVENTBRIDGE_WIRING, TASK_QUEUE } from '../../lib/adapters/aws-lambda/wiring.ts';
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
const workflows = [
  defineWorkflow('orders', { t_ship: { after: ['orderPlaced'], run: 'h' } }),
  defineWorkflow('returns', { t_refund: { after: ['returned'], run: 'h' } }),
];

const ORDERS: EventBridgeIngestion = {
  pattern: { source: ['shop.orders'], detailType: ['OrderPlaced'] },
  mapping: { sessionId: '$.detail.orderId', trigger: 'orderPlaced' },
};

/** A stack with one `Triggers`; task handler assets are not bundled. */
function synth(
  props: Partial<TriggersProps> = {},
  opts: { configure?: (s: Stack) => Partial<TriggersProps> } = {},
) {
  const app = unbundledApp();
  const stack = new Stack(app, 'Events');
  const h = inlineFunction(stack);
  const triggers = new Triggers(stack, 'Triggers', {
    workflows,
    handlers: { h },
    ...props,
    ...opts.configure?.(stack),
  });
  return { app, stack, triggers, template: Template.fromStack(stack) };
}

const ref = (stack: Stack, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as lambda.CfnFunction);

const arnOf = (stack: Stack, construct: { node: { defaultChild?: unknown } }) => ({
  'Fn::GetAtt': [ref(stack, construct), 'Arn'],
});

function queuePolicyOf(t: Template, s: Stack, queue: sqs.IQueue): Statement[] {
  return (Object.values(t.findResources('AWS::SQS::QueuePolicy')) as Resource[])
    .filter((p) =>
      (p.Properties.Queues as Array<{ Ref: string }>).some((q) => q.Ref === ref(s, queue)),
    )
    .flatMap((p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement);
}

describe('an EventBridge ingestion', () => {
  const { stack, triggers, template } = synth({ eventBridge: ORDERS });
  const [ingestion] = triggers.eventBridgeIngestions;
  if (ingestion === undefined) throw new Error('no ingestion was created');
  const { rule, fn, deadLetterQueue } = ingestion;

  it('has a rule with the pattern on the default bus', () => {
    template.resourceCountIs('AWS::Events::Rule', 1);
    const props = template.toJSON().Resources[ref(stack, rule)].Properties;
    expect(props.EventPattern).toEqual({ source: ['shop.orders'], 'detail-type': ['OrderPlaced'] });
    expect(props.EventBusName).toBeUndefined();
    expect(props.State).toBe('ENABLED');
  });

  it('targets the ingestion function with the retry policy and the dead-letter queue', () => {
    const props = template.toJSON().Resources[ref(stack, rule)].Properties;
    expect(props.Targets).toEqual([
      {
        Id: 'Target0',
        Arn: arnOf(stack, fn),
        RetryPolicy: {
          MaximumRetryAttempts: EVENTBRIDGE_WIRING.targetRetryAttempts,
          MaximumEventAgeInSeconds: EVENTBRIDGE_WIRING.targetMaxEventAgeSeconds,
        },
        DeadLetterConfig: { Arn: arnOf(stack, deadLetterQueue) },
      },
    ]);
  });

  it('lets only this rule invoke the function', () => {
    const permissions = Object.values(
      template.findResources('AWS::Lambda::Permission', {
        Properties: { FunctionName: arnOf(stack, fn) },
      }),
    ) as Resource[];
    expect(permissions.map((p) => p.Properties)).toEqual([
      {
        Action: 'lambda:InvokeFunction',
        FunctionName: arnOf(stack, fn),
        Principal: 'events.amazonaws.com',
        SourceArn: arnOf(stack, rule),
      },
    ]);
  });

  it('retries failed invocations, then dead-letters them into the same queue', () => {
    template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: ref(stack, fn) },
      MaximumRetryAttempts: EVENTBRIDGE_WIRING.asyncRetryAttempts,
      MaximumEventAgeInSeconds: EVENTBRIDGE_WIRING.asyncMaxEventAgeSeconds,
    });
    const props = template.toJSON().Resources[ref(stack, fn)].Properties;
    expect(props.DeadLetterConfig).toEqual({ TargetArn: arnOf(stack, deadLetterQueue) });
  });

  it('hands the function its mapping, table and dead-letter queue in its environment', () => {
    const props = template.toJSON().Resources[ref(stack, fn)].Properties;
    expect(props.Environment.Variables).toEqual({
      TRIGGERS_TABLE_NAME: { Ref: ref(stack, triggers.table) },
      [ENV.eventMapping]: JSON.stringify(ORDERS.mapping),
      [ENV.deadLetterQueueUrl]: { Ref: ref(stack, deadLetterQueue) },
    });
  });

  it('gives the function PutItem on the table and SendMessage on its queue, nothing else', () => {
    const statements = statementsOf(template, stack, fn.role);
    const actions = [...new Set(statements.flatMap((st) => [st.Action].flat()))].sort();
    expect(actions).toEqual([
      'dynamodb:PutItem',
      'sqs:GetQueueAttributes',
      'sqs:GetQueueUrl',
      'sqs:SendMessage',
    ]);
    for (const st of statements) {
      const resources = [st.Resource].flat();
      const expected = [st.Action].flat().some((a) => a.startsWith('dynamodb:'))
        ? [arnOf(stack, triggers.table)]
        : [arnOf(stack, deadLetterQueue)];
      expect(resources).toEqual(expected);
    }
  });

  it('keeps the queue like the construct keeps its other dead-letter queues', () => {
    const props = template.toJSON().Resources[ref(stack, deadLetterQueue)].Properties;
    expect(props.SqsManagedSseEnabled).toBe(true);
    expect(props.MessageRetentionPeriod).toBe(TASK_QUEUE.dlqRetentionDays * 24 * 3600);
  });

  it('refuses queue requests that are not over TLS, and lets only this rule send', () => {
    const statements = queuePolicyOf(template, stack, deadLetterQueue);
    expect(statements).toContainEqual(
      expect.objectContaining({
        Effect: 'Deny',
        Action: 'sqs:*',
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    const allows = statements.filter((st) => st.Effect === 'Allow');
    expect(allows).toEqual([
      expect.objectContaining({
        Action: 'sqs:SendMessage',
        Principal: { Service: 'events.amazonaws.com' },
        Condition: { ArnEquals: { 'aws:SourceArn': arnOf(stack, rule) } },
      }),
    ]);
  });

  it('alarms when the dead-letter queue has messages', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [ref(stack, deadLetterQueue), 'QueueName'] } },
      ],
      Threshold: 1,
    });
  });
});

describe('EventBridge ingestion options', () => {
  it('listens on the given bus and creates sessions on the given workflow', () => {
    let bus: events.EventBus | undefined;
    const { stack, triggers, template } = synth(
      {},
      {
        configure: (s) => {
          bus = new events.EventBus(s, 'Orders');
          return { eventBridge: { ...ORDERS, bus, workflow: 'returns' } };
        },
      },
    );
    const [ingestion] = triggers.eventBridgeIngestions;
    const props =
      template.toJSON().Resources[ref(stack, ingestion?.rule as events.Rule)].Properties;
    expect(props.EventBusName).toEqual({ Ref: ref(stack, bus as events.EventBus) });
    const env =
      template.toJSON().Resources[ref(stack, ingestion?.fn as lambda.Function)].Properties
        .Environment.Variables;
    expect(env[ENV.eventWorkflow]).toBe('returns');
  });

  it('creates a rule, function and dead-letter queue per ingestion', () => {
    const { triggers, template } = synth({
      eventBridge: [
        ORDERS,
        {
          pattern: { source: ['shop.returns'] },
          mapping: { sessionId: '$.detail.orderId', trigger: 'returned', kwargs: '$' },
        },
      ],
    });
    template.resourceCountIs('AWS::Events::Rule', 2);
    const fns = triggers.eventBridgeIngestions.map((i) => i.fn.node.id);
    expect(fns).toEqual(['EventBridgeIngest0', 'EventBridgeIngest1']);
    const queues = new Set(triggers.eventBridgeIngestions.map((i) => i.deadLetterQueue));
    expect(queues.size).toBe(2);
  });

  it('adds no alarm when alarms are off', () => {
    const { template } = synth({ eventBridge: ORDERS, alarms: false });
    template.resourceCountIs('AWS::CloudWatch::Alarm', 0);
  });

  it('lets EventBridge use a customer managed key for the dead-letter queue, in this account', () => {
    let key: kms.Key | undefined;
    const { stack, triggers, template } = synth(
      {},
      {
        configure: (s) => {
          key = new kms.Key(s, 'Key', { enableKeyRotation: true });
          return { eventBridge: ORDERS, encryptionKey: key };
        },
      },
    );
    const { deadLetterQueue, fn } = triggers.eventBridgeIngestions[0] as {
      deadLetterQueue: sqs.Queue;
      fn: lambda.Function;
    };
    const queue = template.toJSON().Resources[ref(stack, deadLetterQueue)].Properties;
    expect(queue.KmsMasterKeyId).toEqual(arnOf(stack, key as kms.Key));
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          {
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey'],
            Resource: '*',
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } } },
          },
        ]),
      },
    });
    const kmsActions = statementsOf(template, stack, fn.role)
      .filter((st) => JSON.stringify(st.Resource) === JSON.stringify(arnOf(stack, key as kms.Key)))
      .flatMap((st) => [st.Action].flat());
    expect(kmsActions).toEqual(expect.arrayContaining(['kms:GenerateDataKey*', 'kms:Decrypt']));
  });

  it('hands a configured sessionTtl to the function', () => {
    const { stack, triggers, template } = synth({
      eventBridge: ORDERS,
      sessionTtl: Duration.days(3),
    });
    const fn = triggers.eventBridgeIngestions[0]?.fn as lambda.Function;
    const env = template.toJSON().Resources[ref(stack, fn)].Properties.Environment.Variables;
    expect(env.TRIGGERS_SESSION_TTL_SECONDS).toBe(String(3 * 24 * 3600));
  });
});

describe('synth-time checks', () => {
  const refused = (ingestion: EventBridgeIngestion): string => {
    try {
      synth({ eventBridge: [ORDERS, ingestion] });
    } catch (err) {
      return (err as Error).message;
    }
    throw new Error('expected the synth to fail');
  };

  it('refuses a bad path, naming the option', () => {
    expect(
      refused({ ...ORDERS, mapping: { sessionId: '$.detail..orderId', trigger: 'x' } }),
    ).toMatch(
      /^Triggers 'Triggers': eventBridge\[1\]\.mapping\.sessionId '\$\.detail\.\.orderId' is not a path: it has no name after '\.'/,
    );
  });

  it('refuses a literal trigger that breaks the name rules', () => {
    expect(
      refused({ ...ORDERS, mapping: { sessionId: '$.detail.id', trigger: 'order placed' } }),
    ).toContain("eventBridge[1].mapping.trigger 'order placed' must match");
  });

  it('refuses a literal event id', () => {
    expect(refused({ ...ORDERS, mapping: { ...ORDERS.mapping, eventId: 'e1' } })).toContain(
      'eventBridge[1].mapping.eventId',
    );
  });

  it('refuses a workflow the construct does not have', () => {
    expect(refused({ ...ORDERS, workflow: 'invoices' })).toBe(
      "Triggers 'Triggers': eventBridge[1].workflow 'invoices' is not one of the workflows (orders, returns)",
    );
  });

  it('refuses a pattern that matches on nothing', () => {
    expect(refused({ ...ORDERS, pattern: {} })).toContain(
      'eventBridge[1].pattern must match on at least one field',
    );
  });
});

describe('the deployed function and cdk-nag', () => {
  it('runs the pre-bundled function of the package: its handler, its environment, the workflows beside it', () => {
    const { stack, triggers, template } = synth({ eventBridge: ORDERS });
    const fn = triggers.eventBridgeIngestions[0]?.fn as lambda.Function;
    expect(template.toJSON().Resources[ref(stack, fn)].Properties.Handler).toBe(
      'eventbridge.handler',
    );
    const dir = assetDirOf(stack, fn);
    const code = readdirSync(dir, { recursive: true, encoding: 'utf8' })
      .filter((file) => file.endsWith('.mjs'))
      .map((file) => readFileSync(join(dir, file), 'utf8'))
      .join('\n');
    for (const variable of [ENV.eventMapping, ENV.eventWorkflow, ENV.deadLetterQueueUrl])
      expect(code).toContain(variable);
    expect(code).toContain('EventBridge event rejected and sent to the dead-letter queue');
    const app = JSON.parse(readFileSync(join(dir, 'app.json'), 'utf8')) as { workflows: unknown[] };
    expect(app.workflows).toHaveLength(2);
  });

  it('finds no unacknowledged AwsSolutions finding', () => {
    const { stack, triggers } = synth({ eventBridge: ORDERS });
    suppressReviewedFindings(stack);
    acknowledgeTriggersFindings(triggers);
    expect(nagFindings(stack)).toEqual([]);
  });
});
