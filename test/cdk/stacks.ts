/**
 * What the template tests build their stacks from: an app that skips asset bundling and a task
 * handler function with inline code.
 * May import: aws-cdk-lib.
 *
 * @module
 */
import { join } from 'node:path';
import { App, type Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';

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
