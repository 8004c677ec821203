/**
 * The example stack: the survey app on `Triggers`, one function per task handler, with the
 * cdk-nag acknowledgments this architecture needs and why.
 * May import: the package's public entry points (lib/index.ts, infra/index.ts), aws-cdk-lib,
 * cdk-nag and its siblings.
 *
 * @module
 */
import { fileURLToPath } from 'node:url';
import { type CfnElement, CfnOutput, Stack, type StackProps, Validations } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { TaskHandlerFunction, Triggers } from '../../infra/index.ts';
import { defaultWorkflow, handlers, workflows } from './app.ts';

/**
 * The example app module, which the task functions' generated entries import.
 *
 * @example
 * new TaskHandlerFunction(stack, 'Task-score', { app: SURVEY_APP_MODULE, handler: 'score' });
 */
export const SURVEY_APP_MODULE = fileURLToPath(new URL('./app.ts', import.meta.url));

/**
 * The survey app on AWS.
 *
 * @example
 * const stack = new SurveyStack(new App(), 'TriggersSurvey');
 */
export class SurveyStack extends Stack {
  readonly triggers: Triggers;

  constructor(scope: Construct, id: string, props: StackProps = {}) {
    super(scope, id, props);
    this.triggers = new Triggers(this, 'Triggers', { workflows, defaultWorkflow });
    for (const name of Object.keys(handlers)) {
      const fn = new TaskHandlerFunction(this, `Task-${name}`, {
        app: SURVEY_APP_MODULE,
        handler: name,
      });
      this.triggers.addTaskHandler(name, fn);
    }
    new CfnOutput(this, 'ApiUrl', { value: this.triggers.apiUrl });
    suppressReviewedFindings(this);
    acknowledgeTriggersFindings(this.triggers);
  }
}

/**
 * The cdk-nag findings of the stack's functions this architecture keeps on purpose, each with
 * the reason.
 *
 * @example
 * suppressReviewedFindings(stack);
 */
export function suppressReviewedFindings(stack: Stack): void {
  Validations.of(stack).acknowledge(
    {
      id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AWSLambdaBasicExecutionRole]',
      reason:
        'The functions use AWSLambdaBasicExecutionRole, which only lets them create log streams and put log events; a hand-written copy would grant the same.',
    },
    {
      id: 'AwsSolutions-L1',
      reason:
        'The functions run on Node.js 22, the runtime the package is built and tested for (its esbuild target); moving to a newer runtime is a deliberate upgrade, not a default.',
    },
  );
}

/**
 * The cdk-nag findings of a `Triggers` construct itself, each with the reason.
 *
 * @example
 * acknowledgeTriggersFindings(triggers);
 */
export function acknowledgeTriggersFindings(triggers: Triggers): void {
  for (const fn of [triggers.evaluator, triggers.lifecycleFunction]) {
    if (fn?.role === undefined) continue;
    Validations.of(fn.role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason:
        'dynamodb:ListStreams has no resource-level permissions, so it can only be granted on "*"; the table stream event source needs it. Every other statement of this role names its resources.',
    });
  }
  // Once the table has an index (the stale index, keys only), every table grant also covers
  // `<table>/index/*`.
  if (triggers.staleSessions !== undefined) {
    const table = Stack.of(triggers).getLogicalId(triggers.table.node.defaultChild as CfnElement);
    const fns = [
      triggers.ingest,
      triggers.evaluator,
      triggers.lifecycleFunction,
      ...triggers.taskHandlerFunctions.values(),
    ];
    for (const fn of fns) {
      if (fn?.role === undefined) continue;
      Validations.of(fn.role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::<${table}.Arn>/index/*]`,
        reason:
          "Table grants cover the table's indexes once it has one (the stale index, keys only); the ingest function queries it for GET /stale, the other actions do nothing on an index.",
      });
    }
  }
  Validations.of(triggers.streamFailureQueue).acknowledge({
    id: 'AwsSolutions-SQS3',
    reason:
      'This queue is itself a dead-letter destination: the on-failure destination of the table stream event sources, where records go once the wiring retries are spent.',
  });
  if (triggers.lifecycleDeadLetterQueue !== undefined) {
    Validations.of(triggers.lifecycleDeadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason:
        'This queue is itself a dead-letter destination: the on-failure destination of the lifecycle event source, where records go once the wiring retries are spent.',
    });
  }
}
