/**
 * Lifecycle events: a function on the table stream that puts what the framework did onto an
 * EventBridge bus, with a dead-letter queue and its alarm.
 * May import: anything under lib/ and aws-cdk-lib.
 *
 * @module
 */
import { Duration } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { ENV } from '../lib/adapters/aws-lambda/variables.ts';
import { LIFECYCLE_SOURCE, TASK_QUEUE } from '../lib/adapters/aws-lambda/wiring.ts';
import {
  configureFunction,
  type Deployment,
  deploymentFunction,
  streamEventSource,
} from './deployment.ts';
import { monitorLifecycleEvents } from './monitoring.ts';
import { queueEncryption, TABLE_ACTIONS } from './permissions.ts';
import type { LifecycleEventsOptions, LifecycleEventsResources } from './props.ts';

/**
 * Adds lifecycle events (the `lifecycleEvents` option): the evaluator notes what it did in the
 * heads it commits; a function on its own event source of the table stream (`LIFECYCLE_SOURCE`)
 * puts the events on the bus (`true`: the account's default bus), allowed `events:PutEvents` on
 * that bus alone; records it cannot publish once the retries are spent go to a dead-letter queue,
 * which has an alarm.
 *
 * @example
 * addLifecycleEvents(deployment, evaluator, { eventBus: auditBus }, Duration.minutes(5));
 */
export function addLifecycleEvents(
  deployment: Deployment,
  evaluator: lambda.Function,
  option: true | LifecycleEventsOptions,
  iteratorAgeThreshold: Duration,
): LifecycleEventsResources {
  const { scope, table, encryptionKey } = deployment;
  const eventBus =
    option === true
      ? events.EventBus.fromEventBusName(scope, 'LifecycleEventBus', 'default')
      : option.eventBus;

  const deadLetterQueue = new sqs.Queue(scope, 'LifecycleFailures', {
    retentionPeriod: Duration.days(TASK_QUEUE.dlqRetentionDays),
    ...queueEncryption(encryptionKey),
  });
  const fn = deploymentFunction(deployment, 'Lifecycle', {
    function: 'lifecycle',
    description:
      'Publishes lifecycle events (trigger fired, instance replayed, skipped or failed, session finalized) to EventBridge',
  });
  configureFunction(deployment, fn, TABLE_ACTIONS.lifecycle);
  fn.addEnvironment(ENV.eventBusName, eventBus.eventBusName);
  eventBus.grantPutEventsTo(fn);
  fn.addEventSource(streamEventSource(table, LIFECYCLE_SOURCE, deadLetterQueue));
  evaluator.addEnvironment(ENV.lifecycle, '1');

  const resources = { fn, deadLetterQueue, eventBus };
  if (deployment.monitoring !== undefined) {
    monitorLifecycleEvents(deployment.monitoring, resources, iteratorAgeThreshold);
  }
  return resources;
}
