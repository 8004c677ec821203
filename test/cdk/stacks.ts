/**
 * What the template tests build their stacks from and read them with: an app that skips asset
 * bundling, a task handler function with inline code, a role's policy statements and the
 * cdk-nag findings of a scope.
 * May import: aws-cdk-lib, cdk-nag.
 *
 * @module
 */
import { join } from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import type * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IConstruct } from 'constructs';

/** An app that skips asset bundling: synth takes milliseconds. */
export const unbundledApp = (): App => new App({ context: { 'aws:cdk:bundling-stacks': [] } });

/** A task handler function with inline code, `H` unless named otherwise. */
export const inlineFunction = (scope: Stack, id = 'H'): lambda.Function =>
  new lambda.Function(scope, id, {
    code: lambda.Code.fromInline('exports.handler = async () => ({})'),
    handler: 'index.handler',
    runtime: lambda.Runtime.NODEJS_22_X,
  });

/**
 * The folder of `fn`'s code asset in the synthesized cloud assembly (what `cdk deploy` uploads),
 * read from the function's `Code.S3Key` (`<asset hash>.zip`).
 */
export function assetDirOf(stack: Stack, fn: lambda.IFunction): string {
  const cfn = fn.node.defaultChild as lambda.CfnFunction;
  const code = stack.resolve(cfn.code) as { s3Key?: unknown };
  const key = typeof code.s3Key === 'string' ? code.s3Key : JSON.stringify(code.s3Key);
  const hash = /([0-9a-f]{64})\.zip/.exec(key)?.[1];
  if (hash === undefined) throw new Error(`no asset hash in the code of ${fn.node.path}: ${key}`);
  const assembly = (stack.node.root as App).synth();
  return join(assembly.directory, `asset.${hash}`);
}

/** A policy statement as a synthesized template holds it. */
export type Statement = {
  Action: string | string[];
  Resource: unknown;
  Effect: string;
  Principal?: unknown;
  Condition?: unknown;
};

/** Every statement of the IAM policies attached to `role` in the template. */
export function statementsOf(
  template: Template,
  stack: Stack,
  role: iam.IRole | undefined,
): Statement[] {
  const policies = Object.values(
    template.findResources('AWS::IAM::Policy', {
      Properties: { Roles: [{ Ref: stack.getLogicalId(role?.node.defaultChild as iam.CfnRole) }] },
    }),
  ) as Array<{ Properties: { PolicyDocument: { Statement: Statement[] } } }>;
  return policies.flatMap((p) => p.Properties.PolicyDocument.Statement);
}

/** The AwsSolutions findings cdk-nag reports for `scope` and does not see acknowledged. */
export function nagFindings(scope: IConstruct): string[] {
  const report = new AwsSolutionsChecks(undefined, { verbose: true }).validateScope(scope);
  return report.violations.map(
    (v) =>
      `${v.severity ?? 'error'} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`,
  );
}
