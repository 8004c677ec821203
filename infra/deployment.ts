/**
 * What the parts of one `Triggers` construct share (its table, key, functions' code and
 * monitoring), the environment and table access each of its functions gets, and the table
 * stream's event sources, made from the wiring's settings.
 * May import: anything under lib/ and aws-cdk-lib.
 *
 * @module
 */
import { Duration } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { TriggersApp } from '../lib/adapters/aws-lambda/environment.ts';
import { ENV } from '../lib/adapters/aws-lambda/variables.ts';
import type { StreamSourceSettings } from '../lib/adapters/aws-lambda/wiring.ts';
import {
  TriggersFunction,
  type TriggersFunctionOptions,
  type TriggersFunctionProps,
} from './functions.ts';
import type { Monitoring } from './monitoring.ts';
import { grantTableActions } from './permissions.ts';

/**
 * One `Triggers` construct, as its parts see it.
 *
 * @example
 * const fn = deploymentFunction(deployment, 'Timer', { function: 'timer', description });
 */
export interface Deployment {
  /** The `Triggers` construct: the scope of every resource the parts create. */
  readonly scope: Construct;
  readonly table: dynamodb.Table;
  /** The customer-managed key of the table and the queues, when there is one. */
  readonly encryptionKey: kms.IKey | undefined;
  /** How long session items live, when the props say. */
  readonly sessionTtl: Duration | undefined;
  /** The workflows, and the default one. */
  readonly app: TriggersApp;
  /** The code of the construct's own functions: the package's bundles and the workflows. */
  readonly code: lambda.Code;
  /** The options every function of the construct shares. */
  readonly functionOptions: TriggersFunctionOptions;
  /** Where alarms and widgets go; undefined when `alarms` is off. */
  readonly monitoring: Monitoring | undefined;
}

/**
 * One of the construct's own functions, over the deployment's code and options.
 *
 * @example
 * deploymentFunction(deployment, 'Ingest', { function: 'ingest', description: 'Serves the API' });
 */
export function deploymentFunction(
  deployment: Deployment,
  id: string,
  props: Omit<TriggersFunctionProps, 'code'>,
): TriggersFunction {
  return new TriggersFunction(deployment.scope, id, {
    ...deployment.functionOptions,
    code: deployment.code,
    ...props,
  });
}

/**
 * The environment every function that opens the store needs: the table, and the sessions' TTL
 * when the props set one.
 *
 * @example
 * setRuntimeEnvironment(deployment, taskFunction);
 */
export function setRuntimeEnvironment(deployment: Deployment, fn: lambda.Function): void {
  fn.addEnvironment(ENV.tableName, deployment.table.tableName);
  if (deployment.sessionTtl !== undefined) {
    fn.addEnvironment(ENV.sessionTtlSeconds, String(deployment.sessionTtl.toSeconds()));
  }
}

/**
 * The environment of one of the construct's functions, and `tableActions` on the table (none:
 * the environment only).
 *
 * @example
 * configureFunction(deployment, evaluator, TABLE_ACTIONS.evaluator);
 */
export function configureFunction(
  deployment: Deployment,
  fn: lambda.Function,
  tableActions: readonly string[],
): void {
  setRuntimeEnvironment(deployment, fn);
  if (tableActions.length > 0) {
    grantTableActions(fn, deployment.table, deployment.encryptionKey, tableActions);
  }
}

/**
 * An event source on the table's stream with the wiring's `settings` (filters, batch size,
 * batching window, bisection, retries, partial batch responses, parallelization), whose records
 * go to `onFailure` once its retries are spent.
 *
 * @example
 * evaluator.addEventSource(streamEventSource(deployment.table, EVALUATOR_SOURCE, failures));
 */
export function streamEventSource(
  table: dynamodb.ITable,
  settings: StreamSourceSettings,
  onFailure: sqs.IQueue,
): DynamoEventSource {
  return new DynamoEventSource(table, {
    startingPosition: lambda.StartingPosition[settings.startingPosition],
    batchSize: settings.batchSize,
    maxBatchingWindow: Duration.seconds(settings.maxBatchingWindowSeconds),
    bisectBatchOnError: settings.bisectBatchOnError,
    retryAttempts: settings.retryAttempts,
    reportBatchItemFailures: settings.reportBatchItemFailures,
    parallelizationFactor: settings.parallelizationFactor,
    filters: settings.filters.map((pattern) => lambda.FilterCriteria.filter(pattern)),
    onFailure: new SqsDlq(onFailure),
  });
}
