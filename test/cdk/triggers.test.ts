/**
 * The construct's template: table, stream event sources, task queues, HTTP API, permissions,
 * alarms, synth-time validation and grants.
 * May import: the construct (infra/), the example app and stack, anything under lib/.
 *
 * @module
 */
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { handlers, workflows } from '../../examples/survey/app.ts';
import { SurveyStack } from '../../examples/survey/stack.ts';
import { Triggers } from '../../infra/index.ts';
import {
  EVALUATOR_SOURCE,
  type StreamSourceSettings,
  TASK_QUEUE,
} from '../../lib/adapters/aws-lambda/wiring.ts';
import { defineWorkflow } from '../../lib/engine/workflow.ts';
import { WorkflowError } from '../../lib/errors.ts';
import { TABLE } from '../../lib/store/layout.ts';
import { inlineFunction, unbundledApp } from './stacks.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };

let stack: SurveyStack;
let template: Template;

const logicalId = (construct: { node: { defaultChild?: unknown } }): string =>
  stack.getLogicalId(construct.node.defaultChild as lambda.CfnFunction);

const mappingOf = (fn: lambda.IFunction): Record<string, unknown> => {
  const mappings = Object.values(
    template.findResources('AWS::Lambda::EventSourceMapping', {
      Properties: { FunctionName: { Ref: logicalId(fn) } },
    }),
  ) as Resource[];
  expect(mappings).toHaveLength(1);
  return (mappings[0] as Resource).Properties;
};

const expectStreamWiring = (mapping: Record<string, unknown>, settings: StreamSourceSettings) => {
  expect(mapping.FilterCriteria).toEqual({
    Filters: settings.filters.map((pattern) => ({ Pattern: JSON.stringify(pattern) })),
  });
  expect(mapping.BatchSize).toBe(settings.batchSize);
  expect(mapping.MaximumBatchingWindowInSeconds ?? 0).toBe(settings.maxBatchingWindowSeconds);
  expect(mapping.StartingPosition).toBe(settings.startingPosition);
  expect(mapping.BisectBatchOnFunctionError).toBe(settings.bisectBatchOnError);
  expect(mapping.MaximumRetryAttempts).toBe(settings.retryAttempts);
  expect(mapping.ParallelizationFactor).toBe(settings.parallelizationFactor);
  expect(mapping.FunctionResponseTypes).toEqual(
    settings.reportBatchItemFailures ? ['ReportBatchItemFailures'] : undefined,
  );
};

const statementsOf = (role: iam.IRole | undefined): Array<Record<string, unknown>> => {
  const policies = Object.values(
    template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: stack.getLogicalId(role?.node.defaultChild as iam.CfnRole) }] },
    }),
  ) as Resource[];
  return policies.flatMap(
    (p) => (p.Properties.PolicyDocument as { Statement: Array<Record<string, unknown>> }).Statement,
  );
};

const actionsOf = (role: iam.IRole | undefined): string[] =>
  statementsOf(role).flatMap((s) => [s.Action].flat() as string[]);

beforeAll(() => {
  stack = new SurveyStack(new App(), 'TriggersSurvey');
  template = Template.fromStack(stack);
}, 60_000);

describe('the session table', () => {
  it('has the wiring keys, an on-demand bill, PITR, TTL, encryption and a NEW_AND_OLD_IMAGES stream', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: TABLE.partitionKey, KeyType: 'HASH' },
        { AttributeName: TABLE.sortKey, KeyType: 'RANGE' },
      ],
      BillingMode: TABLE.billing,
      StreamSpecification: { StreamViewType: TABLE.streamView },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
      SSESpecification: { SSEEnabled: true },
    });
  });
});

describe('the stream event sources', () => {
  it('give the evaluator the wiring filters and batch settings', () => {
    expectStreamWiring(mappingOf(stack.triggers.evaluator), EVALUATOR_SOURCE);
  });

  it('are one: the evaluator sends what it schedules itself, no dispatcher reads the stream', () => {
    const streamMappings = Object.values(
      template.findResources('AWS::Lambda::EventSourceMapping', {
        Properties: {
          EventSourceArn: { 'Fn::GetAtt': [logicalId(stack.triggers.table), 'StreamArn'] },
        },
      }),
    );
    expect(streamMappings).toHaveLength(1);
    expect(
      Object.values(template.findResources('AWS::Lambda::Function')).filter((f) =>
        JSON.stringify(f).includes('dispatcher.handler'),
      ),
    ).toEqual([]);
  });

  it('send records whose retries are spent to the stream failure queue', () => {
    for (const fn of [stack.triggers.evaluator]) {
      expect(mappingOf(fn).DestinationConfig).toEqual({
        OnFailure: {
          Destination: {
            'Fn::GetAtt': [
              stack.getLogicalId(
                stack.triggers.streamFailureQueue.node.defaultChild as iam.CfnRole,
              ),
              'Arn',
            ],
          },
        },
      });
    }
  });
});

describe('the task queues', () => {
  it('exist for every task handler, with a dead-letter queue and the wiring redrive', () => {
    for (const name of Object.keys(handlers)) {
      const queue = stack.triggers.queueFor(name);
      const props = (template.toJSON().Resources[logicalId(queue)] as Resource).Properties;
      const redrive = props.RedrivePolicy as {
        deadLetterTargetArn: unknown;
        maxReceiveCount: number;
      };
      expect(redrive.maxReceiveCount).toBe(TASK_QUEUE.maxReceiveCount);
      expect(redrive.deadLetterTargetArn).toEqual({ 'Fn::GetAtt': [expect.any(String), 'Arn'] });
      expect(props.VisibilityTimeout).toBe(TASK_QUEUE.visibilityTimeoutSeconds(30));
      expect(props.ReceiveMessageWaitTimeSeconds).toBe(TASK_QUEUE.receiveWaitTimeSeconds);
      expect(props.SqsManagedSseEnabled).toBe(true);
    }
  });

  it('feed their handler in batches of the wiring size with partial batch responses', () => {
    for (const name of Object.keys(handlers)) {
      const mappings = Object.values(
        template.findResources('AWS::Lambda::EventSourceMapping', {
          Properties: {
            EventSourceArn: { 'Fn::GetAtt': [logicalId(stack.triggers.queueFor(name)), 'Arn'] },
          },
        }),
      ) as Resource[];
      expect(mappings).toHaveLength(1);
      expect(mappings[0]?.Properties.BatchSize).toBe(TASK_QUEUE.batchSize);
      expect(mappings[0]?.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    }
  });

  it('are what the evaluator sends to, by name', () => {
    const env = (template.toJSON().Resources[logicalId(stack.triggers.evaluator)] as Resource)
      .Properties.Environment as { Variables: Record<string, unknown> };
    expect(env.Variables.TRIGGERS_TABLE_NAME).toEqual({ Ref: logicalId(stack.triggers.table) });
    const join = env.Variables.TRIGGERS_QUEUE_URLS as { 'Fn::Join': [string, unknown[]] };
    const text = join['Fn::Join'][1]
      .map((part) => (typeof part === 'string' ? part : `ref:${(part as { Ref: string }).Ref}`))
      .join('');
    expect(JSON.parse(text)).toEqual(
      Object.fromEntries(
        Object.keys(handlers).map((name) => [
          name,
          `ref:${logicalId(stack.triggers.queueFor(name))}`,
        ]),
      ),
    );
  });
});

describe('every event source mapping', () => {
  it('reports batch item failures', () => {
    const mappings = Object.values(
      template.findResources('AWS::Lambda::EventSourceMapping'),
    ) as Resource[];
    expect(mappings).toHaveLength(1 + Object.keys(handlers).length);
    for (const m of mappings) {
      expect(m.Properties.FunctionResponseTypes).toEqual(['ReportBatchItemFailures']);
    }
  });
});

describe('the HTTP API', () => {
  it('serves the contract routes and the two inspection routes with IAM authorization', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as Resource[];
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual([
      'GET /sessions/{sessionId}',
      'GET /sessions/{sessionId}/events',
      'GET /workflows',
      'PATCH /sessions/{sessionId}/instances/{instance}/metadata',
      'POST /sessions/{sessionId}/configuration',
      'POST /sessions/{sessionId}/events',
      'POST /sessions/{sessionId}/instances/{instance}/replay',
      'POST /sessions/{sessionId}/instances/{instance}/resolve-logs',
      'POST /sessions/{sessionId}/instances/{instance}/skip',
      'POST /sessions/{sessionId}/instances/{instance}/status',
    ]);
    for (const r of routes) expect(r.Properties.AuthorizationType).toBe('AWS_IAM');
  });

  it('logs access on its default stage', () => {
    template.hasResourceProperties('AWS::ApiGatewayV2::Stage', {
      StageName: '$default',
      AccessLogSettings: { DestinationArn: Match.anyValue() },
    });
  });
});

describe('the permissions', () => {
  it('never grant an action that is "*" or a whole service', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
    const actions = policies.flatMap((p) =>
      (
        p.Properties.PolicyDocument as { Statement: Array<{ Action: string | string[] }> }
      ).Statement.flatMap((s) => [s.Action].flat()),
    );
    expect(actions.length).toBeGreaterThan(0);
    expect(actions.filter((a) => a === '*' || a.endsWith(':*'))).toEqual([]);
  });

  it('let the evaluator read the stream and send to every task queue', () => {
    const actions = actionsOf(stack.triggers.evaluator.role);
    expect(actions).toContain('dynamodb:GetRecords');
    const sends = statementsOf(stack.triggers.evaluator.role).filter((s) =>
      [s.Action].flat().includes('sqs:SendMessage'),
    );
    // Each task queue, and the stream failures queue (the event source's on-failure destination).
    const byId = (r: unknown) => JSON.stringify(r);
    expect(sends.map((s) => byId(s.Resource)).sort()).toEqual(
      [
        ...Object.keys(handlers).map((name) => stack.triggers.queueFor(name)),
        stack.triggers.streamFailureQueue,
      ]
        .map((q) => byId({ 'Fn::GetAtt': [logicalId(q), 'Arn'] }))
        .sort(),
    );
  });

  it('let the ingest function put and read items, never update or delete them', () => {
    const actions = actionsOf(stack.triggers.ingest.role);
    expect(actions).toContain('dynamodb:PutItem');
    expect(actions).toContain('dynamodb:Query');
    expect(actions.filter((a) => /^dynamodb:(Update|Delete|BatchWrite)|^sqs:/.test(a))).toEqual([]);
  });

  it('let a task function send only to its own queue', () => {
    for (const name of Object.keys(handlers)) {
      const fn = stack.node.findChild(`Task-${name}`) as lambda.Function;
      const sends = statementsOf(fn.role).filter((s) =>
        [s.Action].flat().includes('sqs:SendMessage'),
      );
      expect(sends.map((s) => s.Resource)).toEqual([
        { 'Fn::GetAtt': [logicalId(stack.triggers.queueFor(name)), 'Arn'] },
      ]);
    }
  });
});

describe('the alarms', () => {
  it('watch every dead-letter queue for one message', () => {
    const alarms = template.findResources('AWS::CloudWatch::Alarm', {
      Properties: { MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1 },
    });
    expect(Object.keys(alarms)).toHaveLength(Object.keys(handlers).length + 1);
  });

  it('watch the iterator age and the errors of the evaluator', () => {
    for (const metric of ['IteratorAge', 'Errors']) {
      for (const fn of [stack.triggers.evaluator]) {
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: metric,
          Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(fn) } }],
        });
      }
    }
  });

  it('come with a dashboard', () => {
    template.resourceCountIs('AWS::CloudWatch::Dashboard', 1);
  });
});

describe('synth-time validation', () => {
  it('fails synth naming the task and the handler when a handler is missing', () => {
    const app = unbundledApp();
    const s = new Stack(app, 'Missing');
    const triggers = new Triggers(s, 'Triggers', { workflows });
    for (const name of Object.keys(handlers).filter((n) => n !== 'score')) {
      triggers.addTaskHandler(name, inlineFunction(s, name));
    }
    expect(() => app.synth()).toThrow(/task 't_score' runs 'score'/);
  });

  it('rejects an invalid workflow with a WorkflowError', () => {
    const s = new Stack(unbundledApp(), 'Invalid');
    expect(
      () =>
        new Triggers(s, 'Triggers', {
          workflows: [
            {
              name: 'loop',
              tasks: { a: { after: ['b'], run: 'h' }, b: { after: ['a'], run: 'h' } },
            },
          ],
        }),
    ).toThrow(WorkflowError);
  });

  it('refuses an api auth that contradicts the authorizer', () => {
    const s = new Stack(unbundledApp(), 'Contradiction');
    expect(
      () =>
        new Triggers(s, 'Triggers', {
          workflows,
          api: { auth: 'none', authorizer: { bind: () => ({ authorizationType: 'NONE' }) } },
        }),
    ).toThrow(/contradicts/);
  });
});

describe('grants', () => {
  /** The statements a fresh caller role gets from `grant`, in a small stack. */
  const grantedStatements = (grant: (t: Triggers, role: iam.IGrantable) => void) => {
    const s = new Stack(unbundledApp(), 'Grants');
    const triggers = new Triggers(s, 'Triggers', {
      workflows: [defineWorkflow('one', { t: { after: ['x'], run: 'h' } })],
      handlers: { h: inlineFunction(s, 'H') },
      alarms: false,
    });
    const role = new iam.Role(s, 'Caller', { assumedBy: new iam.AccountRootPrincipal() });
    grant(triggers, role);
    return Object.values(
      Template.fromStack(s).findResources('AWS::IAM::Policy', {
        Properties: { Roles: [{ Ref: s.getLogicalId(role.node.defaultChild as iam.CfnRole) }] },
      }),
    )
      .flatMap((p) => (p as Resource).Properties.PolicyDocument as { Statement: unknown[] })
      .flatMap((d) => d.Statement) as Array<Record<string, unknown>>;
  };

  it('grantFire allows execute-api:Invoke on the events route only', () => {
    const statements = grantedStatements((t, role) => t.grantFire(role));
    expect(statements).toHaveLength(1);
    expect(statements[0]?.Action).toBe('execute-api:Invoke');
    expect(JSON.stringify(statements[0]?.Resource)).toContain('/POST/sessions/*/events');
  });

  it('grantRead allows execute-api:Invoke on the GET routes only', () => {
    const statements = grantedStatements((t, role) => t.grantRead(role));
    expect(statements).toHaveLength(1);
    expect(statements[0]?.Action).toBe('execute-api:Invoke');
    const resources = JSON.stringify(statements[0]?.Resource);
    expect(resources).toContain('/GET/sessions/*');
    expect(resources).toContain('/GET/workflows');
    expect(resources).not.toContain('/POST/');
    expect(resources).not.toContain('/PATCH/');
  });
});
