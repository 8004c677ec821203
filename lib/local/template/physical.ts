/**
 * What the template's resources are locally when the mode does not make them itself: the
 * `Ref` and `Fn::GetAtt` values CloudFormation would give a function, a role, an API, a log
 * group, a rule or a key, named as CloudFormation names them.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { createHash, randomUUID } from 'node:crypto';
import type { LoadedStack } from './assembly.ts';
import type { PhysicalResource } from './intrinsics.ts';
import type { CfnResource } from './model.ts';
import { physicalName } from './resources.ts';

/**
 * A default `Ref` and attributes for a resource the mode does not create itself.
 *
 * @example
 * defaultPhysical(stack, 'a1b2c3', 'TriggersEvaluator9BD8951B', resource).attributes.Arn;
 */
export function defaultPhysical(
  stack: LoadedStack,
  run: string,
  id: string,
  r: CfnResource,
): PhysicalResource {
  const { partition, region, accountId } = stack.env;
  const p = r.Properties ?? {};
  const named = (prop: string, max: number) =>
    typeof p[prop] === 'string' ? (p[prop] as string) : physicalName(stack.stackName, run, id, max);
  switch (r.Type) {
    case 'AWS::Lambda::Function': {
      const name = named('FunctionName', 64);
      return {
        ref: name,
        attributes: { Arn: `arn:${partition}:lambda:${region}:${accountId}:function:${name}` },
      };
    }
    case 'AWS::IAM::Role': {
      const name = named('RoleName', 64);
      return {
        ref: name,
        attributes: {
          Arn: `arn:${partition}:iam::${accountId}:role/${name}`,
          RoleId: `AROA${hash(name, 16)}`,
        },
      };
    }
    case 'AWS::IAM::ManagedPolicy': {
      const name = named('ManagedPolicyName', 128);
      return { ref: `arn:${partition}:iam::${accountId}:policy/${name}`, attributes: {} };
    }
    case 'AWS::ApiGatewayV2::Api':
      return {
        // The local HTTP API knows an Api by its logical id.
        ref: id,
        attributes: { ApiId: id, ApiEndpoint: '' },
      };
    case 'AWS::ApiGatewayV2::Integration':
    case 'AWS::ApiGatewayV2::Route':
      return { ref: id, attributes: {} };
    case 'AWS::ApiGatewayV2::Stage':
      return { ref: String(p.StageName ?? '$default'), attributes: {} };
    case 'AWS::Logs::LogGroup': {
      const name = named('LogGroupName', 512);
      return {
        ref: name,
        attributes: { Arn: `arn:${partition}:logs:${region}:${accountId}:log-group:${name}:*` },
      };
    }
    case 'AWS::Events::EventBus': {
      const name = named('Name', 256);
      return {
        ref: name,
        attributes: {
          Arn: `arn:${partition}:events:${region}:${accountId}:event-bus/${name}`,
          Name: name,
        },
      };
    }
    case 'AWS::Events::Rule': {
      const name = named('Name', 64);
      return {
        ref: name,
        attributes: { Arn: `arn:${partition}:events:${region}:${accountId}:rule/${name}` },
      };
    }
    case 'AWS::SNS::Topic': {
      const name = named('TopicName', 256);
      const arn = `arn:${partition}:sns:${region}:${accountId}:${name}`;
      return { ref: arn, attributes: { TopicArn: arn, TopicName: name } };
    }
    case 'AWS::KMS::Key': {
      const keyId = randomUUID();
      return {
        ref: keyId,
        attributes: {
          Arn: `arn:${partition}:kms:${region}:${accountId}:key/${keyId}`,
          KeyId: keyId,
        },
      };
    }
    default: {
      const name = physicalName(stack.stackName, run, id, 128);
      const service = r.Type.split('::')[1]?.toLowerCase() ?? 'local';
      return {
        ref: name,
        attributes: { Arn: `arn:${partition}:${service}:${region}:${accountId}:${name}` },
      };
    }
  }
}

/**
 * A short, stable, upper-case hex digest of `text` (role ids, access keys of this run).
 *
 * @example
 * hash('run/TriggersEvaluator9BD8951B', 11);
 */
export function hash(text: string, length: number): string {
  return createHash('sha256').update(text).digest('hex').slice(0, length).toUpperCase();
}

/**
 * True for a custom resource (`Custom::*` or `AWS::CloudFormation::CustomResource`).
 *
 * @example
 * isCustomResource({ Type: 'Custom::TriggersWorkflowVersion' }); // true
 */
export function isCustomResource(r: CfnResource): boolean {
  return r.Type.startsWith('Custom::') || r.Type === 'AWS::CloudFormation::CustomResource';
}

/**
 * The logical id of the role named `name`, if the template has it.
 *
 * @example
 * roleIdFromName(physical, 'Stack-a1b2c3-EvaluatorRole');
 */
export function roleIdFromName(
  physical: ReadonlyMap<string, PhysicalResource>,
  name: string,
): string | undefined {
  for (const [id, p] of physical)
    if (p.ref === name && p.attributes.RoleId !== undefined) return id;
  return undefined;
}
