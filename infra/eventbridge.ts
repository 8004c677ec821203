/**
 * EventBridge ingestion: a rule on a bus whose target maps each event and fires it into its
 * session, with a dead-letter queue for what cannot be fired.
 * May import: anything under lib/ and aws-cdk-lib.
 *
 * @module
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { ENV } from '../lib/adapters/aws-lambda/variables.ts';
import { EVENTBRIDGE_WIRING, TASK_QUEUE } from '../lib/adapters/aws-lambda/wiring.ts';
import { compileEventMapping } from '../lib/core/eventbridge.ts';
import { EventMappingError, NotFoundError, ValidationError } from '../lib/errors.ts';
import { configureFunction, type Deployment, deploymentFunction } from './deployment.ts';
import { monitorEventBridgeIngestion } from './monitoring.ts';
import { letEventBridgeUseKey, queueEncryption, TABLE_ACTIONS } from './permissions.ts';
import type { EventBridgeIngestion, EventBridgeIngestionResources } from './props.ts';

/**
 * Checks an ingestion at synth time: its mapping, its workflow and its pattern.
 * `option` names it in the messages (`Triggers 'T': eventBridge[0]`).
 */
function checkIngestion(deployment: Deployment, option: string, ingestion: EventBridgeIngestion) {
  try {
    compileEventMapping(ingestion.mapping);
  } catch (err) {
    if (err instanceof EventMappingError) {
      throw new ValidationError(`${option}.${err.message}`, { cause: err });
    }
    throw err;
  }
  const workflows = deployment.app.workflows.map((wf) => wf.name);
  if (ingestion.workflow !== undefined && !workflows.includes(ingestion.workflow)) {
    throw new NotFoundError(
      `${option}.workflow '${ingestion.workflow}' is not one of the workflows (${workflows.join(', ')})`,
    );
  }
  if (Object.values(ingestion.pattern ?? {}).every((value) => value === undefined)) {
    throw new ValidationError(
      `${option}.pattern must match on at least one field (source, detailType, ...)`,
    );
  }
}

/**
 * Adds the `index`th EventBridge ingestion: its dead-letter queue, its function (which fires
 * through the HTTP API's ingest flow) and its rule, retried by the target for a day and by the
 * function's invocations twice. The mapping and the workflow are checked first.
 *
 * @example
 * addEventBridgeIngestion(deployment, 0, {
 *   pattern: { source: ['shop.orders'] },
 *   mapping: { sessionId: '$.detail.orderId', trigger: 'orderPlaced' },
 * });
 */
export function addEventBridgeIngestion(
  deployment: Deployment,
  index: number,
  ingestion: EventBridgeIngestion,
): EventBridgeIngestionResources {
  const { scope, encryptionKey } = deployment;
  checkIngestion(deployment, `Triggers '${scope.node.id}': eventBridge[${index}]`, ingestion);

  const deadLetterQueue = new sqs.Queue(scope, `EventBridgeDlq${index}`, {
    retentionPeriod: Duration.days(TASK_QUEUE.dlqRetentionDays),
    ...queueEncryption(encryptionKey),
  });
  const fn = deploymentFunction(deployment, `EventBridgeIngest${index}`, {
    function: 'eventbridge',
    description: `Fires the events of EventBridge rule ${index} into their sessions`,
    deadLetterQueue,
  });
  configureFunction(deployment, fn, TABLE_ACTIONS.eventBridge);
  fn.addEnvironment(ENV.eventMapping, JSON.stringify(ingestion.mapping));
  if (ingestion.workflow !== undefined) {
    fn.addEnvironment(ENV.eventWorkflow, ingestion.workflow);
  }
  fn.addEnvironment(ENV.deadLetterQueueUrl, deadLetterQueue.queueUrl);
  deadLetterQueue.grantSendMessages(fn);
  fn.configureAsyncInvoke({
    retryAttempts: EVENTBRIDGE_WIRING.asyncRetryAttempts,
    maxEventAge: Duration.seconds(EVENTBRIDGE_WIRING.asyncMaxEventAgeSeconds),
  });

  const rule = new events.Rule(scope, `EventBridgeRule${index}`, {
    description: `serverless-triggers: events fired into sessions by ${fn.node.id}`,
    eventPattern: ingestion.pattern,
    ...(ingestion.bus !== undefined ? { eventBus: ingestion.bus } : {}),
  });
  rule.addTarget(
    new targets.LambdaFunction(fn, {
      deadLetterQueue,
      retryAttempts: EVENTBRIDGE_WIRING.targetRetryAttempts,
      maxEventAge: Duration.seconds(EVENTBRIDGE_WIRING.targetMaxEventAgeSeconds),
    }),
  );
  // EventBridge dead-letters into a queue under this key: SQS needs the key for it. One
  // statement serves every ingestion, so the first adds it.
  if (encryptionKey !== undefined && index === 0) {
    letEventBridgeUseKey(encryptionKey, Stack.of(scope).account);
  }

  const resources = { rule, fn, deadLetterQueue };
  if (deployment.monitoring !== undefined) {
    monitorEventBridgeIngestion(deployment.monitoring, index, resources);
  }
  return resources;
}
