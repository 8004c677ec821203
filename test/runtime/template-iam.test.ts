/**
 * The IAM half of the template mode, without emulators: which policies a template gives each
 * role, which IAM checks an AWS request needs, how the simulator decides them, and the answer a
 * denied request gets.
 */
import { describe, expect, it } from 'vitest';
import { accessDeniedResponse, protocolOf } from '../../lib/local/template/aws-proxy.ts';
import {
  type AwsRequest,
  createIamAuthorizer,
  type IamSimulator,
  type PolicyDocument,
  requestChecks,
  rolePolicies,
  type TemplateNames,
} from '../../lib/local/template/iam.ts';
import { type CfnResource, DEFAULT_LOCAL_ENV } from '../../lib/local/template/model.ts';

const env = DEFAULT_LOCAL_ENV;
const TABLE_ARN = 'arn:aws:dynamodb:us-east-1:000000000000:table/Sessions';
const OTHER_TABLE_ARN = 'arn:aws:dynamodb:us-east-1:000000000000:table/Audit';
const STREAM_ARN = `${TABLE_ARN}/stream/2024-01-01T00:00:00.000`;
const QUEUE_ARN = 'arn:aws:sqs:us-east-1:000000000000:tasks';
const QUEUE_URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/tasks';
const PRINCIPAL = 'arn:aws:sts::000000000000:assumed-role/EvaluatorRoleName/evaluator';

const allow = (action: string | string[], resource: string | string[]) => ({
  Effect: 'Allow',
  Action: action,
  Resource: resource,
});
const doc = (...Statement: unknown[]): PolicyDocument => ({ Version: '2012-10-17', Statement });

/** A synthesized-and-resolved template as the caller hands it over: intrinsics are strings. */
function template(evaluatorStatements: unknown[]): Record<string, CfnResource> {
  return {
    EvaluatorRole: {
      Type: 'AWS::IAM::Role',
      Properties: {
        ManagedPolicyArns: [
          'arn:aws:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole',
          'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
        ],
        Policies: [
          { PolicyName: 'inline', PolicyDocument: doc(allow('sqs:ReceiveMessage', QUEUE_ARN)) },
        ],
      },
    },
    EvaluatorRoleDefaultPolicy: {
      Type: 'AWS::IAM::Policy',
      Properties: {
        PolicyName: 'EvaluatorRoleDefaultPolicy',
        PolicyDocument: doc(...evaluatorStatements),
        Roles: ['EvaluatorRoleName'],
      },
    },
    AuditPolicy: {
      Type: 'AWS::IAM::ManagedPolicy',
      Properties: { PolicyDocument: doc(allow('dynamodb:PutItem', OTHER_TABLE_ARN)) },
    },
    AuditAttachment: {
      Type: 'AWS::IAM::Role',
      Properties: { ManagedPolicyArns: ['arn:aws:iam::000000000000:policy/AuditPolicyName-X1'] },
    },
    Tasks: { Type: 'AWS::SQS::Queue', Properties: {} },
    TasksPolicy: {
      Type: 'AWS::SQS::QueuePolicy',
      Properties: {
        Queues: [QUEUE_URL],
        PolicyDocument: doc({
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 'sqs:*',
          Resource: QUEUE_ARN,
          Condition: { Bool: { 'aws:SecureTransport': 'false' } },
        }),
      },
    },
  };
}

/** The names the caller resolved `Ref` of the role, the managed policy and the queue to. */
const names: TemplateNames = {
  roleNameById: (id) => (id === 'EvaluatorRole' ? 'EvaluatorRoleName' : undefined),
  managedPolicyIdByArn: (arn) =>
    arn === 'arn:aws:iam::000000000000:policy/AuditPolicyName-X1' ? 'AuditPolicy' : undefined,
  queueArnByUrl: (url) => (url === QUEUE_URL ? QUEUE_ARN : undefined),
};

const EVALUATOR_STATEMENTS = [
  allow(['dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem'], TABLE_ARN),
  allow('sqs:SendMessage', QUEUE_ARN),
  allow(['dynamodb:GetRecords', 'dynamodb:GetShardIterator'], STREAM_ARN),
];

const request = (target: string, body: unknown): AwsRequest => ({
  method: 'POST',
  path: '/',
  headers: { 'x-amz-target': target, 'content-type': 'application/x-amz-json-1.0' },
  body: JSON.stringify(body),
});

describe('rolePolicies', () => {
  const policies = rolePolicies(template(EVALUATOR_STATEMENTS), env, names);

  it('gathers a role its policy resources, inline policies and the AWS managed policies it knows', () => {
    const role = policies.byRole.get('EvaluatorRole');
    expect(role?.roleName).toBe('EvaluatorRoleName');
    expect(role?.policies.map((p) => p.name)).toEqual([
      'EvaluatorRoleDefaultPolicy',
      'inline',
      'AWSLambdaBasicExecutionRole',
    ]);
    expect(JSON.stringify(role?.policies[2]?.document)).toContain('logs:PutLogEvents');
  });

  it('attaches a managed policy of the template through the ARN a role names', () => {
    const role = policies.byRole.get('AuditAttachment');
    expect(role?.policies.map((p) => p.name)).toEqual(['AuditPolicy']);
  });

  it('reports an AWS managed policy it does not know instead of evaluating it', () => {
    expect(policies.unknownManagedPolicies).toEqual([
      'arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess',
    ]);
  });

  it('keys a queue policy by the ARN of the queue its URL names', () => {
    expect([...policies.resourcePolicies.keys()]).toEqual([QUEUE_ARN]);
  });
});

describe('requestChecks', () => {
  it('maps TransactWriteItems to the action of each item on its own table', () => {
    const mapping = requestChecks(
      request('DynamoDB_20120810.TransactWriteItems', {
        TransactItems: [
          { Put: { TableName: 'Sessions', Item: {} } },
          { Update: { TableName: 'Sessions', Key: {}, UpdateExpression: 'SET a = :a' } },
          { ConditionCheck: { TableName: 'Sessions', Key: {}, ConditionExpression: 'x' } },
          { Delete: { TableName: 'Audit', Key: {} } },
        ],
      }),
      env,
    );
    expect(mapping).toEqual({
      kind: 'checks',
      service: 'dynamodb',
      operation: 'TransactWriteItems',
      checks: [
        { action: 'dynamodb:PutItem', resource: TABLE_ARN },
        { action: 'dynamodb:UpdateItem', resource: TABLE_ARN },
        { action: 'dynamodb:ConditionCheckItem', resource: TABLE_ARN },
        { action: 'dynamodb:DeleteItem', resource: OTHER_TABLE_ARN },
      ],
    });
  });

  it('maps TransactGetItems to GetItem and the batch operations to themselves, per table', () => {
    const get = requestChecks(
      request('DynamoDB_20120810.TransactGetItems', {
        TransactItems: [{ Get: { TableName: 'Audit', Key: {} } }],
      }),
      env,
    );
    const batch = requestChecks(
      request('DynamoDB_20120810.BatchWriteItem', { RequestItems: { Sessions: [], Audit: [] } }),
      env,
    );
    expect(get.kind === 'checks' && get.checks).toEqual([
      { action: 'dynamodb:GetItem', resource: OTHER_TABLE_ARN },
    ]);
    expect(batch.kind === 'checks' && batch.checks).toEqual([
      { action: 'dynamodb:BatchWriteItem', resource: TABLE_ARN },
      { action: 'dynamodb:BatchWriteItem', resource: OTHER_TABLE_ARN },
    ]);
  });

  it('checks a Query on an index against the index ARN', () => {
    const mapping = requestChecks(
      request('DynamoDB_20120810.Query', { TableName: 'Sessions', IndexName: 'byStatus' }),
      env,
    );
    expect(mapping.kind === 'checks' && mapping.checks).toEqual([
      { action: 'dynamodb:Query', resource: `${TABLE_ARN}/index/byStatus` },
    ]);
  });

  it('reads the stream of GetRecords from the shard iterator, or from those it was told', () => {
    const local = requestChecks(
      request('DynamoDBStreams_20120810.GetRecords', { ShardIterator: `${STREAM_ARN}|001|abc` }),
      env,
    );
    const opaque = requestChecks(
      request('DynamoDBStreams_20120810.GetRecords', { ShardIterator: 'AAAA' }),
      env,
      (it) => (it === 'AAAA' ? STREAM_ARN : undefined),
    );
    const unknown = requestChecks(
      request('DynamoDBStreams_20120810.GetRecords', { ShardIterator: 'BBBB' }),
      env,
    );
    const expected = [{ action: 'dynamodb:GetRecords', resource: STREAM_ARN }];
    expect(local.kind === 'checks' && local.checks).toEqual(expected);
    expect(opaque.kind === 'checks' && opaque.checks).toEqual(expected);
    expect(unknown.kind).toBe('unsupported');
  });

  it('maps an SQS batch operation to the singular action, in the JSON and the query protocol', () => {
    const json = requestChecks(
      request('AmazonSQS.SendMessageBatch', { QueueUrl: QUEUE_URL, Entries: [] }),
      env,
    );
    const query = requestChecks(
      {
        method: 'POST',
        path: '/',
        headers: {
          'content-type': 'application/x-www-form-urlencoded',
          authorization:
            'AWS4-HMAC-SHA256 Credential=AKID/20240101/us-east-1/sqs/aws4_request, SignedHeaders=host, Signature=x',
        },
        body: `Action=DeleteMessageBatch&QueueUrl=${encodeURIComponent(QUEUE_URL)}`,
      },
      env,
    );
    expect(json.kind === 'checks' && json.checks).toEqual([
      { action: 'sqs:SendMessage', resource: QUEUE_ARN },
    ]);
    expect(query.kind === 'checks' && query.checks).toEqual([
      { action: 'sqs:DeleteMessage', resource: QUEUE_ARN },
    ]);
  });

  it('checks PutEvents per event bus, the default one when an entry names none', () => {
    const mapping = requestChecks(
      request('AWSEvents.PutEvents', { Entries: [{ Detail: '{}' }, { EventBusName: 'orders' }] }),
      env,
    );
    expect(mapping.kind === 'checks' && mapping.checks.map((c) => c.resource)).toEqual([
      'arn:aws:events:us-east-1:000000000000:event-bus/default',
      'arn:aws:events:us-east-1:000000000000:event-bus/orders',
    ]);
  });

  it('recognizes PutMetricData in the CBOR protocol', () => {
    const req: AwsRequest = {
      method: 'POST',
      path: '/service/GraniteServiceVersion20100801/operation/PutMetricData',
      headers: { 'smithy-protocol': 'rpc-v2-cbor' },
      body: '',
    };
    expect(protocolOf(req)).toBe('rpc-v2-cbor');
    expect(requestChecks(req, env)).toMatchObject({
      kind: 'checks',
      checks: [{ action: 'cloudwatch:PutMetricData', resource: '*' }],
    });
  });

  it('says what it cannot map: PartiQL, and services it does not emulate', () => {
    expect(
      requestChecks(request('DynamoDB_20120810.ExecuteStatement', { Statement: 'SELECT' }), env),
    ).toMatchObject({ kind: 'unsupported', operation: 'ExecuteStatement', reason: /PartiQL/ });
    expect(requestChecks(request('AmazonSNS.Publish', {}), env)).toMatchObject({
      kind: 'unsupported',
      reason: /AmazonSNS/,
    });
  });
});

describe('createIamAuthorizer', () => {
  const authorizerFor = async (statements: unknown[], resources = template(statements)) => {
    let runs = 0;
    const simulator = (await import('@cloud-copilot/iam-simulate')) as unknown as IamSimulator;
    const counting: IamSimulator = {
      runSimulation: (s, o) => {
        runs++;
        return simulator.runSimulation(s, o);
      },
      getDenialReasons: (a) => simulator.getDenialReasons(a),
    };
    const { byRole, resourcePolicies } = rolePolicies(resources, env, names);
    const authorizer = await createIamAuthorizer({
      policiesByRole: byRole,
      resourcePolicies,
      env,
      loadSimulator: async () => counting,
    });
    return { authorizer, runs: () => runs };
  };
  const transactChecks = [
    { action: 'dynamodb:PutItem', resource: TABLE_ARN },
    { action: 'dynamodb:UpdateItem', resource: TABLE_ARN },
  ];

  it('allows what the role policies allow, the queue policy denying plain HTTP only', async () => {
    const { authorizer } = await authorizerFor(EVALUATOR_STATEMENTS);
    expect(await authorizer.authorize('EvaluatorRole', transactChecks)).toEqual({ allowed: true });
    expect(
      await authorizer.authorize('EvaluatorRole', [
        { action: 'sqs:SendMessage', resource: QUEUE_ARN },
        { action: 'sqs:ReceiveMessage', resource: QUEUE_ARN },
        { action: 'logs:PutLogEvents', resource: '*' },
      ]),
    ).toEqual({ allowed: true });
  });

  it('denies a check no statement allows, and the answer names action, resource and function', async () => {
    const { authorizer } = await authorizerFor([
      allow(['dynamodb:PutItem', 'dynamodb:ConditionCheckItem'], TABLE_ARN),
    ]);
    const decision = await authorizer.authorize('EvaluatorRole', transactChecks);
    expect(decision).toMatchObject({
      allowed: false,
      denial: { action: 'dynamodb:UpdateItem', resource: TABLE_ARN, kind: 'implicit' },
    });
    if (decision.allowed) return;
    const answer = accessDeniedResponse('json', {
      ...decision.denial,
      principalArn: PRINCIPAL,
      functionLogicalId: 'Evaluator',
    });
    expect(answer.status).toBe(400);
    expect(answer.headers['x-amzn-errortype']).toBe('AccessDeniedException');
    expect(JSON.parse(String(answer.body))).toEqual({
      __type: 'com.amazon.coral.service#AccessDeniedException',
      message: `User: ${PRINCIPAL} is not authorized to perform: dynamodb:UpdateItem on resource: ${TABLE_ARN} because no identity-based policy allows the dynamodb:UpdateItem action (local function Evaluator)`,
    });
  });

  it('lets an explicit deny in a resource policy win over an identity allow', async () => {
    const resources = template(EVALUATOR_STATEMENTS);
    resources.TasksPolicy = {
      Type: 'AWS::SQS::QueuePolicy',
      Properties: {
        Queues: [QUEUE_URL],
        PolicyDocument: doc({
          Sid: 'NoSending',
          Effect: 'Deny',
          Principal: { AWS: '*' },
          Action: 'sqs:SendMessage',
          Resource: QUEUE_ARN,
        }),
      },
    };
    const { authorizer } = await authorizerFor(EVALUATOR_STATEMENTS, resources);
    const decision = await authorizer.authorize('EvaluatorRole', [
      { action: 'sqs:SendMessage', resource: QUEUE_ARN },
    ]);
    expect(decision).toMatchObject({
      allowed: false,
      denial: {
        kind: 'explicit-resource',
        reason: 'with an explicit deny in a resource-based policy',
        detail: expect.stringContaining('NoSending'),
      },
    });
  });

  it('denies an action the simulator does not know, saying so', async () => {
    const { authorizer } = await authorizerFor([allow('dynamodb:*', '*')]);
    const decision = await authorizer.authorize('EvaluatorRole', [
      { action: 'dynamodb:TeleportItem', resource: TABLE_ARN },
    ]);
    expect(decision).toMatchObject({
      allowed: false,
      denial: { kind: 'not-evaluable', reason: expect.stringContaining('could not evaluate') },
    });
  });

  it('denies a function whose role is not in the template', async () => {
    const { authorizer } = await authorizerFor(EVALUATOR_STATEMENTS);
    expect(await authorizer.authorize(undefined, transactChecks)).toMatchObject({
      allowed: false,
      denial: { kind: 'no-role', action: 'dynamodb:PutItem' },
    });
  });

  it('evaluates a role, action and resource once', async () => {
    const { authorizer, runs } = await authorizerFor(EVALUATOR_STATEMENTS);
    await authorizer.authorize('EvaluatorRole', transactChecks);
    await authorizer.authorize('EvaluatorRole', transactChecks);
    expect(runs()).toBe(2);
  });
});

describe('accessDeniedResponse', () => {
  const facts = {
    action: 'sqs:SendMessage',
    resource: QUEUE_ARN,
    principalArn: PRINCIPAL,
    functionLogicalId: 'Dispatcher',
  };

  it('answers SQS JSON with the query-compatible code the SDK names the error by', () => {
    const answer = accessDeniedResponse('json-query-compatible', facts);
    expect(answer.status).toBe(403);
    expect(answer.headers['x-amzn-query-error']).toBe('AccessDenied;Sender');
  });

  it('answers the query protocol with an XML ErrorResponse', () => {
    const answer = accessDeniedResponse('query', facts);
    expect(answer.status).toBe(403);
    expect(String(answer.body)).toMatch(
      /^<ErrorResponse><Error><Type>Sender<\/Type><Code>AccessDenied<\/Code><Message>User: .* sqs:SendMessage .*\(local function Dispatcher\)<\/Message>/,
    );
  });
});
