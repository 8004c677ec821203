/**
 * The construct's alarms and dashboard: one alarm shape for every alarm, and the widgets of the
 * streams, the task handlers, the EventBridge ingestions and the lifecycle events.
 * May import: anything under lib/ and aws-cdk-lib.
 *
 * @module
 */
import { Duration } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { EventBridgeIngestionResources, LifecycleEventsResources } from './props.ts';

/**
 * Where a construct's alarms and widgets go, when its `alarms` prop is on.
 *
 * @example
 * const monitoring: Monitoring = { scope: triggers, alarms: triggers.alarms };
 */
export interface Monitoring {
  /** The construct the alarms belong to. */
  readonly scope: Construct;
  /** Every alarm added, in order (the construct's public `alarms`). */
  readonly alarms: cloudwatch.Alarm[];
  /**
   * The dashboard, once the constructor has made it. The task handlers the props name are
   * added before it, so their queues get an alarm and no widget.
   */
  dashboard?: cloudwatch.Dashboard;
}

/**
 * One alarm: on when `metric` reaches `threshold` for `evaluationPeriods` periods in a row.
 * Missing data never sets it off: a quiet deployment publishes nothing.
 *
 * @example
 * const spec: AlarmSpec = { description: 'The evaluator fails', metric: errors, threshold: 1 };
 */
export interface AlarmSpec {
  /** What is wrong when it goes off, and what to do. */
  readonly description: string;
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  /**
   * How many periods in a row the metric must reach `threshold`.
   * @default 1
   */
  readonly evaluationPeriods?: number;
}

/**
 * Adds an alarm to the construct and to its `alarms`.
 *
 * @example
 * addAlarm(monitoring, 'EvaluatorErrorsAlarm', { description, metric: errors, threshold: 1 });
 */
export function addAlarm(monitoring: Monitoring, id: string, spec: AlarmSpec): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(monitoring.scope, id, {
    alarmDescription: spec.description,
    metric: spec.metric,
    threshold: spec.threshold,
    evaluationPeriods: spec.evaluationPeriods ?? 1,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  monitoring.alarms.push(alarm);
  return alarm;
}

/**
 * An alarm as soon as a dead-letter queue (or the stream failure queue) holds a message.
 *
 * @example
 * addDeadLetterAlarm(monitoring, 'TaskDlq0Alarm', dlq, "The dead-letter queue of task handler 'score'");
 */
export function addDeadLetterAlarm(
  monitoring: Monitoring,
  id: string,
  queue: sqs.Queue,
  what: string,
): cloudwatch.Alarm {
  return addAlarm(monitoring, id, {
    description: `${what} has messages: they need a look and a redrive`,
    metric: queue.metricApproximateNumberOfMessagesVisible({
      period: Duration.minutes(1),
      statistic: cloudwatch.Stats.MAXIMUM,
    }),
    threshold: 1,
  });
}

/**
 * What `monitorStreams` watches: the API and the stream's function with its failures
 * (a `Triggers` construct has them all).
 *
 * @example
 * monitorStreams(monitoring, triggers, Duration.minutes(5));
 */
export interface StreamParts {
  readonly api: apigwv2.HttpApi;
  readonly evaluator: lambda.Function;
  readonly streamFailureQueue: sqs.Queue;
}

/**
 * The alarms and widgets of the table stream's functions (falling behind, failing, records
 * given up on) and of the API's requests.
 *
 * @example
 * monitorStreams(monitoring, { api, evaluator, streamFailureQueue }, Duration.minutes(5));
 */
export function monitorStreams(
  monitoring: Monitoring,
  parts: StreamParts,
  iteratorAgeThreshold: Duration,
): void {
  const streamFunctions = [['Evaluator', parts.evaluator]] as const;
  const iteratorAge = streamFunctions.map(([, fn]) =>
    fn.metric('IteratorAge', { statistic: cloudwatch.Stats.MAXIMUM, period: Duration.minutes(1) }),
  );
  const errors = streamFunctions.map(([, fn]) =>
    fn.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
  );
  streamFunctions.forEach(([id], i) => {
    addAlarm(monitoring, `${id}IteratorAgeAlarm`, {
      description: `The ${id.toLowerCase()} falls behind the table stream`,
      metric: iteratorAge[i] as cloudwatch.Metric,
      threshold: iteratorAgeThreshold.toMilliseconds(),
      evaluationPeriods: 5,
    });
    addAlarm(monitoring, `${id}ErrorsAlarm`, {
      description: `The ${id.toLowerCase()} function fails`,
      metric: errors[i] as cloudwatch.Metric,
      threshold: 1,
    });
  });
  addDeadLetterAlarm(
    monitoring,
    'StreamFailuresAlarm',
    parts.streamFailureQueue,
    'The stream failure queue',
  );
  monitoring.dashboard?.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'API requests (fired events, reads)',
      left: [parts.api.metricCount(), parts.api.metricServerError(), parts.api.metricClientError()],
    }),
    new cloudwatch.GraphWidget({
      title: 'Evaluations',
      left: streamFunctions.map(([, fn]) => fn.metricInvocations()),
      right: errors,
    }),
    new cloudwatch.GraphWidget({ title: 'Stream iterator age (ms)', left: iteratorAge }),
    new cloudwatch.GraphWidget({
      title: 'Stream failures',
      left: [parts.streamFailureQueue.metricApproximateNumberOfMessagesVisible()],
    }),
  );
}

/**
 * The dead-letter alarm and the widget of the `index`th EventBridge ingestion.
 *
 * @example
 * monitorEventBridgeIngestion(monitoring, 0, resources);
 */
export function monitorEventBridgeIngestion(
  monitoring: Monitoring,
  index: number,
  res: EventBridgeIngestionResources,
): void {
  addDeadLetterAlarm(
    monitoring,
    `EventBridgeDlq${index}Alarm`,
    res.deadLetterQueue,
    `The dead-letter queue of EventBridge ingestion ${index}`,
  );
  monitoring.dashboard?.addWidgets(
    new cloudwatch.GraphWidget({
      title: `EventBridge ingestion ${index}: events and dead letters`,
      left: [
        res.fn.metricInvocations({ label: 'events' }),
        res.fn.metricErrors({ label: 'errors' }),
      ],
      right: [
        res.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: 'dead letters' }),
      ],
    }),
  );
}

/**
 * The dead-letter alarm and the widget of the `index`th task handler, `name`.
 *
 * @example
 * monitorTaskHandler(monitoring, 0, 'score', queue, deadLetterQueue);
 */
export function monitorTaskHandler(
  monitoring: Monitoring,
  index: number,
  name: string,
  queue: sqs.Queue,
  deadLetterQueue: sqs.Queue,
): void {
  addDeadLetterAlarm(
    monitoring,
    `TaskDlq${index}Alarm`,
    deadLetterQueue,
    `The dead-letter queue of task handler '${name}'`,
  );
  monitoring.dashboard?.addWidgets(
    new cloudwatch.GraphWidget({
      title: `Task handler '${name}': scheduled and failed`,
      left: [
        queue.metricNumberOfMessagesSent({ label: 'scheduled' }),
        queue.metricNumberOfMessagesDeleted({ label: 'done' }),
      ],
      right: [deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: 'dead letters' })],
    }),
  );
}

/**
 * The alarms and the widget of the lifecycle events: their dead-letter queue holds a record,
 * their function falls behind the table stream.
 *
 * @example
 * monitorLifecycleEvents(monitoring, resources, Duration.minutes(5));
 */
export function monitorLifecycleEvents(
  monitoring: Monitoring,
  res: LifecycleEventsResources,
  iteratorAgeThreshold: Duration,
): void {
  addDeadLetterAlarm(
    monitoring,
    'LifecycleDlqAlarm',
    res.deadLetterQueue,
    'The dead-letter queue of the lifecycle events (stream records whose events were not published)',
  );
  const iteratorAge = res.fn.metric('IteratorAge', {
    statistic: cloudwatch.Stats.MAXIMUM,
    period: Duration.minutes(1),
  });
  addAlarm(monitoring, 'LifecycleIteratorAgeAlarm', {
    description: 'The lifecycle events function falls behind the table stream',
    metric: iteratorAge,
    threshold: iteratorAgeThreshold.toMilliseconds(),
    evaluationPeriods: 5,
  });
  monitoring.dashboard?.addWidgets(
    new cloudwatch.GraphWidget({
      title: 'Lifecycle events: invocations and dead letters',
      left: [
        res.fn.metricInvocations({ label: 'invocations' }),
        res.fn.metricErrors({ label: 'errors' }),
      ],
      right: [
        res.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ label: 'dead letters' }),
      ],
    }),
  );
}
