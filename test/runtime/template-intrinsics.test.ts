/**
 * CloudFormation's intrinsic functions as the template mode resolves them against its local
 * resources: `Ref`, `Fn::GetAtt`, `Fn::Join`, `Fn::Sub`, `Fn::Select`, `Fn::Split`, `Fn::If`
 * with the template's conditions, `Fn::FindInMap`, and the pseudo parameters; and the
 * refusals, each a `TemplateError` naming the resource the intrinsic appears in.
 */
// biome-ignore-all lint/suspicious/noTemplateCurlyInString: Fn::Sub's ${...} is CloudFormation's, not JavaScript's
import { describe, expect, it } from 'vitest';
import { TemplateError } from '../../lib/errors.ts';
import { IntrinsicResolver, type PhysicalResource } from '../../lib/local/template/intrinsics.ts';
import type { CfnTemplate, LocalEnv } from '../../lib/local/template/model.ts';
import { thrownBy } from './fixtures.ts';

const env: LocalEnv = { accountId: '123456789012', region: 'eu-west-1', partition: 'aws' };
const TABLE_ARN = 'arn:aws:dynamodb:eu-west-1:123456789012:table/Survey-a1b2c3-Table';
const STREAM_ARN = `${TABLE_ARN}/stream/2024-01-01T00:00:00.000`;
const QUEUE_URL = 'http://127.0.0.1:4010/123456789012/Survey-a1b2c3-Tasks';

const template: CfnTemplate & { Mappings: unknown } = {
  Parameters: {
    Stage: { Type: 'String', Default: 'dev' },
    Subnets: { Type: 'CommaDelimitedList', Default: 'subnet-1, subnet-2' },
    Secret: { Type: 'String' },
  },
  Conditions: {
    IsProd: { 'Fn::Equals': [{ Ref: 'Stage' }, 'prod'] },
    IsDev: { 'Fn::Equals': [{ Ref: 'Stage' }, 'dev'] },
    NotProd: { 'Fn::Not': [{ Condition: 'IsProd' }] },
    DevInEurope: {
      'Fn::And': [{ Condition: 'IsDev' }, { 'Fn::Equals': [{ Ref: 'AWS::Region' }, 'eu-west-1'] }],
    },
  },
  Mappings: {
    Sizes: { dev: { Memory: 256, Timeout: 30 }, prod: { Memory: 1024, Timeout: 60 } },
  },
  Resources: {
    Table: { Type: 'AWS::DynamoDB::Table' },
    Tasks: { Type: 'AWS::SQS::Queue' },
    Evaluator: { Type: 'AWS::Lambda::Function' },
  },
};

const physical = new Map<string, PhysicalResource>([
  ['Table', { ref: 'Survey-a1b2c3-Table', attributes: { Arn: TABLE_ARN, StreamArn: STREAM_ARN } }],
  [
    'Tasks',
    {
      ref: QUEUE_URL,
      attributes: {
        Arn: 'arn:aws:sqs:eu-west-1:123456789012:Survey-a1b2c3-Tasks',
        QueueName: 'Survey-a1b2c3-Tasks',
      },
    },
  ],
]);

const resolver = new IntrinsicResolver(template, env, 'Survey', (id) => physical.get(id));
const resolve = (value: unknown) => resolver.resolve(value, 'Evaluator');

/** The `TemplateError` resolving `value` in `Evaluator` throws. */
function refusal(value: unknown): TemplateError {
  const err = thrownBy(() => resolve(value));
  expect(err).toBeInstanceOf(TemplateError);
  expect((err as TemplateError).where).toBe('Evaluator');
  return err as TemplateError;
}

describe('Ref', () => {
  it("is a resource's physical value", () => {
    expect(resolve({ Ref: 'Table' })).toBe('Survey-a1b2c3-Table');
    expect(resolve({ Ref: 'Tasks' })).toBe(QUEUE_URL);
  });

  it("is a parameter's default, and a list parameter's default as a list", () => {
    expect(resolve({ Ref: 'Stage' })).toBe('dev');
    expect(resolve({ Ref: 'Subnets' })).toEqual(['subnet-1', 'subnet-2']);
  });

  it('is the local account, region, partition and stack for the pseudo parameters', () => {
    expect(
      resolve({
        account: { Ref: 'AWS::AccountId' },
        region: { Ref: 'AWS::Region' },
        partition: { Ref: 'AWS::Partition' },
        stack: { Ref: 'AWS::StackName' },
        suffix: { Ref: 'AWS::URLSuffix' },
        stackId: { Ref: 'AWS::StackId' },
        topics: { Ref: 'AWS::NotificationARNs' },
      }),
    ).toEqual({
      account: '123456789012',
      region: 'eu-west-1',
      partition: 'aws',
      stack: 'Survey',
      suffix: 'amazonaws.com',
      stackId: 'arn:aws:cloudformation:eu-west-1:123456789012:stack/Survey/local',
      topics: [],
    });
  });

  it('refuses a name that is no resource or parameter, naming where it appears', () => {
    expect(refusal({ Ref: 'Bucket83908E77' }).message).toBe(
      "Evaluator: Ref 'Bucket83908E77' names no resource or parameter the template mode knows",
    );
  });

  it('refuses a parameter without a default', () => {
    expect(refusal({ Ref: 'Secret' }).message).toMatch(
      /^Evaluator: parameter 'Secret' has no default/,
    );
  });
});

describe('Fn::GetAtt', () => {
  it('resolves the list form and the dotted string form', () => {
    expect(resolve({ 'Fn::GetAtt': ['Table', 'StreamArn'] })).toBe(STREAM_ARN);
    expect(resolve({ 'Fn::GetAtt': 'Table.Arn' })).toBe(TABLE_ARN);
  });

  it('resolves an attribute name given by an intrinsic', () => {
    expect(resolve({ 'Fn::GetAtt': ['Tasks', { 'Fn::Join': ['', ['Queue', 'Name']] }] })).toBe(
      'Survey-a1b2c3-Tasks',
    );
  });

  it('refuses an attribute the mode does not emulate, naming the resource where it appears', () => {
    const err = refusal({ 'Fn::GetAtt': ['Table', 'Arnn'] });
    expect(err.message).toBe(
      'Evaluator: Fn::GetAtt Table.Arnn: the template mode does not emulate that attribute',
    );
  });

  it('refuses a resource the mode does not create', () => {
    expect(refusal({ 'Fn::GetAtt': ['Bucket', 'Arn'] }).message).toMatch(
      /Fn::GetAtt names 'Bucket', which is not a resource the template mode creates/,
    );
  });
});

describe('Fn::Join, Fn::Select, Fn::Split', () => {
  it('joins resolved parts', () => {
    expect(
      resolve({
        'Fn::Join': [
          '',
          ['arn:', { Ref: 'AWS::Partition' }, ':s3:::uploads-', { Ref: 'AWS::AccountId' }],
        ],
      }),
    ).toBe('arn:aws:s3:::uploads-123456789012');
  });

  it('selects by index, and splits', () => {
    expect(resolve({ 'Fn::Select': [1, ['a', { Ref: 'Stage' }, 'c']] })).toBe('dev');
    expect(resolve({ 'Fn::Split': ['/', { Ref: 'Tasks' }] })).toEqual([
      'http:',
      '',
      '127.0.0.1:4010',
      '123456789012',
      'Survey-a1b2c3-Tasks',
    ]);
    expect(resolve({ 'Fn::Select': ['4', { 'Fn::Split': ['/', { Ref: 'Tasks' }] }] })).toBe(
      'Survey-a1b2c3-Tasks',
    );
  });

  it('refuses an index out of range', () => {
    expect(refusal({ 'Fn::Select': [3, ['a', 'b']] }).message).toBe(
      'Evaluator: Fn::Select: index 3 is out of range',
    );
  });
});

describe('Fn::Sub', () => {
  it('substitutes its own variables, resolved', () => {
    expect(
      resolve({
        'Fn::Sub': ['${Name}-${Stage}-queue', { Name: { Ref: 'AWS::StackName' }, Stage: 'beta' }],
      }),
    ).toBe('Survey-beta-queue');
  });

  it('substitutes refs, pseudo parameters and ${Resource.Attribute}', () => {
    expect(resolve({ 'Fn::Sub': '${Table.Arn}/index/*' })).toBe(`${TABLE_ARN}/index/*`);
    expect(resolve({ 'Fn::Sub': 'cdk-assets-${AWS::AccountId}-${AWS::Region}' })).toBe(
      'cdk-assets-123456789012-eu-west-1',
    );
    expect(resolve({ 'Fn::Sub': '${Table} in ${Stage}' })).toBe('Survey-a1b2c3-Table in dev');
  });

  it('writes ${!Literal} as ${Literal}', () => {
    expect(resolve({ 'Fn::Sub': '${!Literal} and ${!AWS::Region} stay, ${Stage} goes' })).toBe(
      '${Literal} and ${AWS::Region} stay, dev goes',
    );
  });

  it('refuses an unknown name or attribute in the text, naming where it appears', () => {
    expect(refusal({ 'Fn::Sub': 'arn:${Missing}' }).message).toMatch(/Ref 'Missing'/);
    expect(refusal({ 'Fn::Sub': '${Table.Nope}' }).message).toMatch(/Table\.Nope/);
  });
});

describe('Fn::If and the conditions', () => {
  it("picks the branch of the template's condition", () => {
    expect(resolve({ 'Fn::If': ['IsProd', 'large', 'small'] })).toBe('small');
    expect(resolve({ 'Fn::If': ['IsDev', { Ref: 'Table' }, 'none'] })).toBe('Survey-a1b2c3-Table');
    expect(resolve({ 'Fn::If': ['NotProd', 'yes', 'no'] })).toBe('yes');
    expect(resolve({ 'Fn::If': ['DevInEurope', 'yes', 'no'] })).toBe('yes');
    expect(resolver.condition('IsProd', 'Evaluator')).toBe(false);
  });

  it('drops a property, or a list item, that resolves to AWS::NoValue', () => {
    const props = resolve({
      FunctionName: 'evaluator',
      ReservedConcurrentExecutions: { 'Fn::If': ['IsProd', 10, { Ref: 'AWS::NoValue' }] },
      Layers: ['a', { 'Fn::If': ['IsProd', 'b', { Ref: 'AWS::NoValue' }] }, 'c'],
    });
    expect(props).toEqual({ FunctionName: 'evaluator', Layers: ['a', 'c'] });
    expect(Object.hasOwn(props as object, 'ReservedConcurrentExecutions')).toBe(false);
    expect(resolve({ Ref: 'AWS::NoValue' })).toBeUndefined();
  });

  it('refuses a condition the template does not define', () => {
    expect(refusal({ 'Fn::If': ['IsStaging', 'a', 'b'] }).message).toBe(
      "Evaluator: condition 'IsStaging' is not defined",
    );
  });
});

describe('Fn::FindInMap, Fn::Base64 and what is not emulated', () => {
  it("looks a value up in the template's Mappings, the keys resolved", () => {
    expect(resolve({ 'Fn::FindInMap': ['Sizes', { Ref: 'Stage' }, 'Memory'] })).toBe(256);
    expect(refusal({ 'Fn::FindInMap': ['Sizes', 'qa', 'Memory'] }).message).toBe(
      "Evaluator: Fn::FindInMap: Sizes.qa.Memory is not in the template's Mappings",
    );
  });

  it('encodes Fn::Base64', () => {
    expect(resolve({ 'Fn::Base64': { 'Fn::Sub': '${Stage}!' } })).toBe(
      Buffer.from('dev!').toString('base64'),
    );
  });

  it('refuses Fn::ImportValue, naming the resource', () => {
    expect(refusal({ 'Fn::ImportValue': 'SharedVpcId' }).message).toBe(
      'Evaluator: Fn::ImportValue is not emulated (it names other stacks or services)',
    );
  });

  it('leaves plain values, and objects of several keys, as they are (resolving inside)', () => {
    expect(resolve('text')).toBe('text');
    expect(resolve(42)).toBe(42);
    expect(resolve(null)).toBeNull();
    // Only a one-key object is an intrinsic.
    expect(resolve({ Ref: 'Stage', Other: 1 })).toEqual({ Ref: 'Stage', Other: 1 });
    expect(resolve({ Name: { Ref: 'Stage' }, Other: [{ Ref: 'AWS::Region' }] })).toEqual({
      Name: 'dev',
      Other: ['eu-west-1'],
    });
  });
});
