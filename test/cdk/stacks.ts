/**
 * What the template tests build their stacks from: an app that skips asset bundling (these
 * stacks are never deployed) and a task handler function with inline code.
 */
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
