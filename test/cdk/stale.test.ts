/**
 * Stale sessions in the synthesized template: nothing when off; when on, the stale index, its
 * variable, the route, the counting function and its grant, schedule, alarms, grants and cdk-nag.
 * May import: the construct (infra/), the example stack, anything under lib/.
 *
 * @module
 */
import { Duration, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { describe, expect, it } from 'vitest';
import {
  acknowledgeTriggersFindings,
  suppressReviewedFindings,
} from '../../examples/survey/stack.ts';
import { Triggers, type TriggersProps } from '../../infra/index.ts';
import { ENV } from '../../lib/adapters/aws-lambda/variables.ts';
import { STALE_METRIC } from '../../lib/core/stale.ts';
import { defineWorkflow } from '../../lib/engine/workflow.ts';
import { STALE_INDEX } from '../../lib/store/layout.ts';
import { inlineFunction, nagFindings, statementsOf, unbundledApp } from './stacks.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
const workflows = [defineWorkflow('orders', { t_ship: { after: ['paid', 'packed'], run: 'h' } })];
const DAY = Duration.hours(24);

/** A stack with one `Triggers`, not synthesized yet; assets are not bundled. */
function build(
  props: Partial<TriggersProps> = {},
  configure?: (stack: Stack) => Partial<TriggersProps>,
) {
  const app = unbundledApp();
  const stack = new Stack(app, 'Stale');
  const h = inlineFunction(stack);
  const triggers = new Triggers(stack, 'Triggers', {
    workflows,
    handlers: { h },
    ...props,
    ...configure?.(stack),
  });
  return { stack, triggers, h };
}

/** The same, synthesized. */
function synth(
  props: Partial<TriggersProps> = {},
  configure?: (stack: Stack) => Partial<TriggersProps>,
) {
  const built = build(props, configure);
  return { ...built, template: Template.fromStack(built.stack) };
}

const ref = (stack: Stack, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as lambda.CfnFunction);

function resourceOf(
  template: Template,
  stack: Stack,
  construct: { node: { defaultChild?: unknown } },
) {
  return template.toJSON().Resources[ref(stack, construct)] as Resource;
}

function envOf(template: Template, stack: Stack, fn: lambda.IFunction): Record<string, unknown> {
  const props = resourceOf(template, stack, fn).Properties as {
    Environment?: { Variables?: Record<string, unknown> };
  };
  return props.Environment?.Variables ?? {};
}

function staleAlarms(template: Template): Resource[] {
  return Object.values(
    template.findResources('AWS::CloudWatch::Alarm', {
      Properties: { Namespace: STALE_METRIC.namespace },
    }),
  ) as Resource[];
}

describe('without staleSessions (the default)', () => {
  const { stack, triggers, h, template } = synth();

  it('gives the table no index', () => {
    const table = resourceOf(template, stack, triggers.table);
    expect(table.Properties.GlobalSecondaryIndexes).toBeUndefined();
    expect(JSON.stringify(table.Properties.AttributeDefinitions)).not.toContain(
      STALE_INDEX.partitionKey,
    );
  });

  it('sets the stale index variable on no function, so no head carries its keys', () => {
    for (const fn of [triggers.ingest, triggers.evaluator, h]) {
      expect(envOf(template, stack, fn)).not.toHaveProperty(ENV.staleIndex);
    }
  });

  it('has no schedule, no stale-sessions function, no route and no alarm', () => {
    template.resourceCountIs('AWS::Events::Rule', 0);
    expect(triggers.staleSessions).toBeUndefined();
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as Resource[];
    expect(routes.map((r) => r.Properties.RouteKey)).not.toContain('GET /stale');
    expect(staleAlarms(template)).toEqual([]);
  });
});

describe('with staleSessions', () => {
  const { stack, triggers, h, template } = synth({
    staleSessions: { olderThan: DAY, alarm: true },
  });
  const stale = triggers.staleSessions;
  if (stale === undefined) throw new Error('staleSessions created nothing');

  it('gives the table a keys-only index on the shard and the oldest unstarted instance', () => {
    const table = resourceOf(template, stack, triggers.table);
    expect(table.Properties.GlobalSecondaryIndexes).toEqual([
      {
        IndexName: STALE_INDEX.name,
        KeySchema: [
          { AttributeName: STALE_INDEX.partitionKey, KeyType: 'HASH' },
          { AttributeName: STALE_INDEX.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'KEYS_ONLY' },
      },
    ]);
    expect(table.Properties.AttributeDefinitions).toEqual(
      expect.arrayContaining([
        { AttributeName: STALE_INDEX.partitionKey, AttributeType: 'S' },
        { AttributeName: STALE_INDEX.sortKey, AttributeType: 'S' },
      ]),
    );
  });

  it('names the index to the evaluator, which writes heads, and to the ingest function, which serves GET /stale', () => {
    expect(envOf(template, stack, triggers.evaluator)[ENV.staleIndex]).toBe(STALE_INDEX.name);
    expect(envOf(template, stack, triggers.ingest)[ENV.staleIndex]).toBe(STALE_INDEX.name);
    expect(envOf(template, stack, h)).not.toHaveProperty(ENV.staleIndex);
  });

  it('routes GET /stale to the ingest function, with IAM authorization', () => {
    const routes = Object.values(
      template.findResources('AWS::ApiGatewayV2::Route', {
        Properties: { RouteKey: 'GET /stale' },
      }),
    ) as Resource[];
    expect(routes).toHaveLength(1);
    expect(routes[0]?.Properties.AuthorizationType).toBe('AWS_IAM');
    const [fireRoute] = Object.values(
      template.findResources('AWS::ApiGatewayV2::Route', {
        Properties: { RouteKey: 'POST /sessions/{sessionId}/events' },
      }),
    ) as Resource[];
    expect(routes[0]?.Properties.Target).toEqual(fireRoute?.Properties.Target);
  });

  it('hands the stale-sessions function the table, the index and the age in seconds', () => {
    expect(envOf(template, stack, stale.fn)).toEqual({
      TRIGGERS_TABLE_NAME: { Ref: ref(stack, triggers.table) },
      [ENV.staleIndex]: STALE_INDEX.name,
      [ENV.staleAfterSeconds]: String(DAY.toSeconds()),
    });
  });

  it('lets the stale-sessions function Query the stale index and nothing else', () => {
    const statements = statementsOf(template, stack, stale.fn.role);
    expect(statements).toEqual([
      {
        Effect: 'Allow',
        Action: 'dynamodb:Query',
        Resource: {
          'Fn::Join': [
            '',
            [{ 'Fn::GetAtt': [ref(stack, triggers.table), 'Arn'] }, `/index/${STALE_INDEX.name}`],
          ],
        },
      },
    ]);
  });

  it('invokes it every 5 minutes, without retrying a missed count', () => {
    const rule = resourceOf(template, stack, stale.rule);
    expect(rule.Properties.ScheduleExpression).toBe('rate(5 minutes)');
    expect(rule.Properties.Targets).toEqual([
      {
        Id: 'Target0',
        Arn: { 'Fn::GetAtt': [ref(stack, stale.fn), 'Arn'] },
        RetryPolicy: { MaximumRetryAttempts: 0 },
      },
    ]);
  });

  it('alarms on one stale session, treating missing data as not breaching', () => {
    const alarms = staleAlarms(template);
    expect(alarms).toHaveLength(1);
    expect(alarms[0]?.Properties).toMatchObject({
      MetricName: STALE_METRIC.staleSessions,
      Dimensions: [{ Name: STALE_METRIC.dimension, Value: { Ref: ref(stack, triggers.table) } }],
      Statistic: 'Maximum',
      Period: 300,
      Threshold: 1,
      EvaluationPeriods: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(triggers.alarms).toContain(stale.alarm);
  });

  it('also alarms when the count itself fails, since a missing count would silence the alarm', () => {
    template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'Errors',
      Dimensions: [{ Name: 'FunctionName', Value: { Ref: ref(stack, stale.fn) } }],
      TreatMissingData: 'notBreaching',
    });
  });

  it('graphs the metric on the dashboard', () => {
    const dashboard = Object.values(
      template.findResources('AWS::CloudWatch::Dashboard'),
    )[0] as Resource;
    const body = JSON.stringify(dashboard.Properties.DashboardBody);
    expect(body).toContain(STALE_METRIC.staleSessions);
    expect(body).toContain(STALE_METRIC.oldestAge);
  });
});

describe('grantRead', () => {
  /** The resources `grantRead` gives a fresh role, in a small stack. */
  const readable = (props: Partial<TriggersProps>): string => {
    const { stack, triggers } = build({ alarms: false, ...props });
    const role = new iam.Role(stack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    triggers.grantRead(role);
    const statements = statementsOf(Template.fromStack(stack), stack, role);
    expect(statements).toHaveLength(1);
    return JSON.stringify(statements[0]?.Resource);
  };

  it('covers GET /stale with staleSessions, and not without', () => {
    expect(readable({ staleSessions: { olderThan: DAY } })).toContain('/GET/stale');
    expect(readable({})).not.toContain('/stale');
  });
});

describe('staleSessions options', () => {
  it('takes a schedule in minutes, which is also the period of the metric', () => {
    const { stack, triggers, template } = synth({
      staleSessions: { olderThan: DAY, schedule: Duration.minutes(15), alarm: true },
    });
    const rule = resourceOf(template, stack, triggers.staleSessions?.rule as never);
    expect(rule.Properties.ScheduleExpression).toBe('rate(15 minutes)');
    expect(staleAlarms(template)[0]?.Properties.Period).toBe(900);
  });

  it('takes the alarm threshold and evaluation periods', () => {
    const { template } = synth({
      staleSessions: { olderThan: DAY, alarm: { threshold: 10, evaluationPeriods: 3 } },
    });
    expect(staleAlarms(template)[0]?.Properties).toMatchObject({
      Threshold: 10,
      EvaluationPeriods: 3,
    });
  });

  it('publishes the metric without an alarm when alarm is not set', () => {
    const { triggers, template } = synth({ staleSessions: { olderThan: DAY } });
    expect(staleAlarms(template)).toEqual([]);
    expect(triggers.staleSessions?.alarm).toBeUndefined();
    expect(triggers.staleSessions?.metric.metricName).toBe(STALE_METRIC.staleSessions);
  });

  it('lets the function decrypt the table with a customer-managed key', () => {
    const { stack, triggers, template } = synth({ staleSessions: { olderThan: DAY } }, (s) => ({
      encryptionKey: new kms.Key(s, 'Key'),
    }));
    const actions = statementsOf(template, stack, triggers.staleSessions?.fn.role).flatMap((s) => [
      s.Action,
    ]);
    expect(actions.flat().sort()).toEqual(['dynamodb:Query', 'kms:Decrypt']);
  });

  it.each([
    [
      { olderThan: DAY, alarm: true },
      { alarms: false },
      /staleSessions.alarm contradicts alarms: false/,
    ],
    [
      { olderThan: DAY, schedule: Duration.seconds(90) },
      {},
      /schedule must be a whole number of minutes/,
    ],
    [
      { olderThan: DAY, schedule: Duration.seconds(30) },
      {},
      /schedule must be a whole number of minutes/,
    ],
    [{ olderThan: Duration.millis(1500) }, {}, /olderThan must be a whole number of seconds/],
    [{ olderThan: DAY, alarm: { threshold: 0 } }, {}, /alarm.threshold must be a whole number/],
  ] as const)('refuses %j', (staleSessions, other, message) => {
    expect(() => synth({ staleSessions, ...other })).toThrow(message);
  });
});

describe('cdk-nag', () => {
  it('finds nothing unacknowledged with staleSessions on', () => {
    const { stack, triggers } = build({ staleSessions: { olderThan: DAY, alarm: true } });
    suppressReviewedFindings(stack);
    acknowledgeTriggersFindings(triggers);
    expect(nagFindings(stack)).toEqual([]);
  });
});
