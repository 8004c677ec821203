/**
 * The task queues: a queue and a dead-letter queue per task handler, which the evaluator sends
 * the handler's instances to, and the synth-time check that every task has its handler.
 * May import: anything under lib/ and aws-cdk-lib.
 *
 * @module
 */
import { Duration, Stack } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { ENV } from '../lib/adapters/aws-lambda/variables.ts';
import { TASK_QUEUE } from '../lib/adapters/aws-lambda/wiring.ts';
import { type CompiledWorkflow, checkHandlers } from '../lib/engine/workflow.ts';
import { NotFoundError, ValidationError } from '../lib/errors.ts';
import { type Deployment, setRuntimeEnvironment } from './deployment.ts';
import { monitorTaskHandler } from './monitoring.ts';
import { grantTableActions, queueEncryption, TABLE_ACTIONS } from './permissions.ts';
import type { TaskHandlerOptions, TaskHandlerResources } from './props.ts';

/**
 * The task handlers of a construct by name, in the order they were added.
 *
 * @example
 * const handlers: TaskHandlers = new Map();
 */
export type TaskHandlers = Map<string, TaskHandlerResources>;

/** Lambda's own default timeout, for a function whose timeout the construct cannot read. */
const LAMBDA_DEFAULT_TIMEOUT = Duration.seconds(3);

/**
 * Adds the queue (and its dead-letter queue) of the task handler `name`, which the evaluator
 * sends the handler's instances to, and the event source of `fn` on it, with partial batch
 * responses. A `lambda.Function` also gets the environment it needs.
 *
 * @example
 * addTaskQueue(deployment, handlers, evaluator, 'score', scoreFunction);
 */
export function addTaskQueue(
  deployment: Deployment,
  handlers: TaskHandlers,
  sender: lambda.Function,
  name: string,
  fn: lambda.IFunction,
  opts: TaskHandlerOptions = {},
): sqs.Queue {
  if (handlers.has(name)) {
    throw new ValidationError(`Triggers: a task handler named '${name}' was already added`);
  }
  const { scope, table, encryptionKey } = deployment;
  const index = handlers.size;
  const timeout =
    opts.timeout ??
    (fn instanceof lambda.Function ? fn.timeout : undefined) ??
    LAMBDA_DEFAULT_TIMEOUT;
  const deadLetterQueue = new sqs.Queue(scope, `TaskDlq${index}`, {
    retentionPeriod: Duration.days(TASK_QUEUE.dlqRetentionDays),
    ...queueEncryption(encryptionKey),
  });
  const queue = new sqs.Queue(scope, `TaskQueue${index}`, {
    visibilityTimeout: Duration.seconds(TASK_QUEUE.visibilityTimeoutSeconds(timeout.toSeconds())),
    receiveMessageWaitTime: Duration.seconds(TASK_QUEUE.receiveWaitTimeSeconds),
    deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: TASK_QUEUE.maxReceiveCount },
    ...queueEncryption(encryptionKey),
  });
  fn.addEventSource(
    new SqsEventSource(queue, {
      batchSize: TASK_QUEUE.batchSize,
      maxBatchingWindow: Duration.seconds(TASK_QUEUE.maxBatchingWindowSeconds),
      reportBatchItemFailures: true,
    }),
  );
  grantTableActions(fn, table, encryptionKey, TABLE_ACTIONS.task);
  queue.grantSendMessages(sender);
  // A cooldown longer than SQS allows is re-delayed: the function sends to its own queue.
  queue.grantSendMessages(fn);
  if (fn instanceof lambda.Function) {
    setRuntimeEnvironment(deployment, fn);
    fn.addEnvironment(ENV.queueUrls, Stack.of(scope).toJsonString({ [name]: queue.queueUrl }));
    fn.addEnvironment(ENV.functionTimeoutSeconds, String(timeout.toSeconds()));
  }
  handlers.set(name, { fn, queue, deadLetterQueue });
  if (deployment.monitoring !== undefined) {
    monitorTaskHandler(deployment.monitoring, index, name, queue, deadLetterQueue);
  }
  return queue;
}

/**
 * The queue URL of each task handler, by name: the evaluator's `TRIGGERS_QUEUE_URLS`.
 *
 * @example
 * queueUrls(handlers); // { score: '<queue url token>' }
 */
export function queueUrls(handlers: TaskHandlers): Record<string, string> {
  return Object.fromEntries([...handlers].map(([name, r]) => [name, r.queue.queueUrl]));
}

/**
 * The queue of the task handler `name`; throws `NotFoundError` when there is none.
 *
 * @example
 * queueOf(handlers, 'score');
 */
export function queueOf(handlers: TaskHandlers, name: string): sqs.Queue {
  const resources = handlers.get(name);
  if (resources === undefined) {
    throw new NotFoundError(
      `Triggers: no task handler named '${name}' (it has: ${[...handlers.keys()].join(', ') || 'none'})`,
    );
  }
  return resources.queue;
}

/**
 * What stops synth: each task whose handler (its `run`, or its `using` queue) has no task
 * handler function.
 *
 * @example
 * node.addValidation({ validate: () => missingTaskHandlers(compiled, handlers) });
 */
export function missingTaskHandlers(
  workflows: readonly CompiledWorkflow[],
  handlers: TaskHandlers,
): string[] {
  const names = [...handlers.keys()];
  const errors: string[] = [];
  for (const workflow of workflows) {
    const byHandler = new Map([...workflow.tasks].filter(([, task]) => task.using === undefined));
    try {
      checkHandlers({ ...workflow, tasks: byHandler }, names);
    } catch (err) {
      errors.push(`workflow '${workflow.name}': ${(err as Error).message}`);
    }
    for (const task of workflow.tasks.values()) {
      if (task.using !== undefined && !handlers.has(task.using)) {
        errors.push(
          `workflow '${workflow.name}': task '${task.name}' runs '${task.run}' using '${task.using}', but no task handler of that name is registered (known: ${names.sort().join(', ') || 'none'})`,
        );
      }
    }
  }
  return errors;
}
