/**
 * The security of the synthesized stack: each function's IAM actions in full, API authorization,
 * encryption at rest, TLS-only queues, and sessions expiring by TTL.
 * May import: the construct (infra/), the example app and stack, anything under lib/.
 *
 * @module
 */
import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { HttpJwtAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { beforeAll, describe, expect, it } from 'vitest';
import { handlers } from '../../examples/survey/app.ts';
import { SurveyStack } from '../../examples/survey/stack.ts';
import { Triggers } from '../../infra/index.ts';
import { defineWorkflow } from '../../lib/engine/workflow.ts';
import { TABLE } from '../../lib/store/layout.ts';
import { inlineFunction, type Statement, statementsOf, unbundledApp } from './stacks.ts';

type Resource = { Type: string; Properties: Record<string, unknown> };
/** An app that skips asset bundling: the template is all these tests read. */

let stack: SurveyStack;
let template: Template;

beforeAll(() => {
  stack = new SurveyStack(new App(), 'TriggersSurvey');
  template = Template.fromStack(stack);
}, 60_000);

/** Every action a role may take, each once, sorted. */
function actionsOf(role: iam.IRole | undefined): string[] {
  return [
    ...new Set(statementsOf(template, stack, role).flatMap((st) => [st.Action].flat())),
  ].sort();
}

const TABLE_READ = ['dynamodb:BatchGetItem', 'dynamodb:GetItem'];
const TABLE_WRITE = ['dynamodb:ConditionCheckItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'];
const STREAM_READ = [
  'dynamodb:DescribeStream',
  'dynamodb:GetRecords',
  'dynamodb:GetShardIterator',
  'dynamodb:ListStreams',
];
const QUEUE_SEND = ['sqs:GetQueueAttributes', 'sqs:GetQueueUrl', 'sqs:SendMessage'];
const QUEUE_CONSUME = ['sqs:ChangeMessageVisibility', 'sqs:DeleteMessage', 'sqs:ReceiveMessage'];

describe("each function's IAM actions, in full", () => {
  it('ingest: reads the table and puts events; no update, delete, stream or queue', () => {
    expect(actionsOf(stack.triggers.ingest.role)).toEqual(
      [...TABLE_READ, 'dynamodb:ConditionCheckItem', 'dynamodb:PutItem', 'dynamodb:Query'].sort(),
    );
  });

  it('evaluator: reads the stream, reads and writes items, sends tasks, parks failed records', () => {
    expect(actionsOf(stack.triggers.evaluator.role)).toEqual(
      [...TABLE_READ, ...TABLE_WRITE, 'dynamodb:Query', ...STREAM_READ, ...QUEUE_SEND].sort(),
    );
  });

  it('each task function: consumes and re-sends its own queue, reads and writes items', () => {
    for (const name of Object.keys(handlers)) {
      const fn = stack.node.findChild(`Task-${name}`) as lambda.Function;
      expect(actionsOf(fn.role), name).toEqual(
        [...TABLE_READ, ...TABLE_WRITE, ...QUEUE_SEND, ...QUEUE_CONSUME].sort(),
      );
    }
  });

  it('no function may delete items, scan the table or act on a resource "*", but ListStreams', () => {
    const policies = Object.values(template.findResources('AWS::IAM::Policy')) as Resource[];
    const statements = policies.flatMap(
      (p) => (p.Properties.PolicyDocument as { Statement: Statement[] }).Statement,
    );
    const actions = statements.flatMap((st) => [st.Action].flat());
    expect(actions.filter((a) => /DeleteItem|BatchWriteItem|Scan|DeleteTable/.test(a))).toEqual([]);
    // ListStreams cannot be scoped to a resource; every other statement names its resources.
    const wildcard = statements.filter((st) => JSON.stringify(st.Resource) === '"*"');
    expect(wildcard.flatMap((st) => [st.Action].flat())).toEqual(
      wildcard.map(() => 'dynamodb:ListStreams'),
    );
    expect(statements.every((st) => st.Effect === 'Allow')).toBe(true);
  });

  it('gives every function its own role, with only the basic execution managed policy', () => {
    const roles = Object.values(template.findResources('AWS::IAM::Role')) as Resource[];
    const functions = Object.values(template.findResources('AWS::Lambda::Function')) as Resource[];
    const used = functions.map((f) => JSON.stringify(f.Properties.Role));
    expect(new Set(used).size).toBe(used.length);
    for (const role of roles) {
      const managed = JSON.stringify(role.Properties.ManagedPolicyArns ?? []);
      expect(managed).not.toMatch(/FullAccess|AdministratorAccess|PowerUser/);
    }
  });
});

describe('API authorization', () => {
  const small = () => {
    const s = new Stack(unbundledApp(), 'Auth');
    const h = inlineFunction(s);
    return { s, h };
  };
  const workflows = [defineWorkflow('one', { t: { after: ['x'], run: 'h' } })];

  it('is IAM on every route by default', () => {
    const routes = Object.values(template.findResources('AWS::ApiGatewayV2::Route')) as Resource[];
    expect(routes.length).toBe(10);
    expect(routes.map((r) => r.Properties.AuthorizationType)).toEqual(routes.map(() => 'AWS_IAM'));
  });

  it('is a JWT authorizer on every route when one is given', () => {
    const { s, h } = small();
    new Triggers(s, 'Triggers', {
      workflows,
      handlers: { h },
      alarms: false,
      api: {
        authorizer: new HttpJwtAuthorizer('Jwt', 'https://issuer.example.com', {
          jwtAudience: ['triggers'],
        }),
      },
    });
    const t = Template.fromStack(s);
    t.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    t.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'JWT',
      JwtConfiguration: { Audience: ['triggers'], Issuer: 'https://issuer.example.com' },
    });
    const routes = Object.values(t.findResources('AWS::ApiGatewayV2::Route')) as Resource[];
    expect(routes.length).toBe(10);
    for (const r of routes) {
      expect(r.Properties.AuthorizationType).toBe('JWT');
      expect(r.Properties.AuthorizerId).toBeDefined();
    }
  });

  it("is open only when asked for with auth: 'none'", () => {
    const { s, h } = small();
    new Triggers(s, 'Triggers', {
      workflows,
      handlers: { h },
      alarms: false,
      api: { auth: 'none' },
    });
    const routes = Object.values(
      Template.fromStack(s).findResources('AWS::ApiGatewayV2::Route'),
    ) as Resource[];
    expect(routes.map((r) => r.Properties.AuthorizationType ?? 'NONE')).toEqual(
      routes.map(() => 'NONE'),
    );
  });
});

describe('data at rest and in transit', () => {
  it('encrypts the table (AWS managed by default) and every queue', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true },
    });
    const queues = Object.values(template.findResources('AWS::SQS::Queue')) as Resource[];
    expect(queues.length).toBeGreaterThan(0);
    for (const q of queues) {
      const p = q.Properties;
      expect(p.SqsManagedSseEnabled === true || p.KmsMasterKeyId !== undefined).toBe(true);
    }
  });

  it('encrypts the table with a customer managed key when one is given', () => {
    const s = new Stack(unbundledApp(), 'Cmk');
    const key = new kms.Key(s, 'Key', { enableKeyRotation: true });
    const h = inlineFunction(s);
    new Triggers(s, 'Triggers', {
      workflows: [defineWorkflow('one', { t: { after: ['x'], run: 'h' } })],
      handlers: { h },
      alarms: false,
      encryptionKey: key,
    });
    Template.fromStack(s).hasResourceProperties('AWS::DynamoDB::Table', {
      SSESpecification: { SSEEnabled: true, SSEType: 'KMS', KMSMasterKeyId: Match.anyValue() },
    });
  });

  it('refuses queue requests that are not over TLS', () => {
    const policies = Object.values(template.findResources('AWS::SQS::QueuePolicy')) as Resource[];
    const queues = Object.keys(template.findResources('AWS::SQS::Queue'));
    const denied = new Set<string>();
    for (const p of policies) {
      const doc = p.Properties.PolicyDocument as {
        Statement: Array<{ Effect: string; Condition?: unknown }>;
      };
      const deniesPlain = doc.Statement.some(
        (st) =>
          st.Effect === 'Deny' &&
          JSON.stringify(st.Condition) ===
            JSON.stringify({ Bool: { 'aws:SecureTransport': 'false' } }),
      );
      if (!deniesPlain) continue;
      for (const q of p.Properties.Queues as Array<{ Ref: string }>) denied.add(q.Ref);
    }
    expect([...denied].sort()).toEqual(queues.sort());
  });
});

describe('session expiry', () => {
  it('expires session items by TTL on the wiring attribute', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      TimeToLiveSpecification: { AttributeName: TABLE.ttlAttribute, Enabled: true },
    });
  });

  it('hands a configured sessionTtl to every function that writes items', () => {
    const s = new Stack(unbundledApp(), 'Ttl');
    const h = inlineFunction(s);
    const triggers = new Triggers(s, 'Triggers', {
      workflows: [defineWorkflow('one', { t: { after: ['x'], run: 'h' } })],
      handlers: { h },
      alarms: false,
      sessionTtl: Duration.days(3),
    });
    const t = Template.fromStack(s);
    for (const fn of [triggers.ingest, triggers.evaluator, h]) {
      const props = t.toJSON().Resources[s.getLogicalId(fn.node.defaultChild as lambda.CfnFunction)]
        .Properties as { Environment?: { Variables?: Record<string, unknown> } };
      expect(props.Environment?.Variables?.TRIGGERS_SESSION_TTL_SECONDS, fn.node.id).toBe(
        String(3 * 24 * 3600),
      );
    }
  });
});
