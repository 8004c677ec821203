/**
 * Stale sessions: the table's stale index, a scheduled function that counts the sessions in it
 * and publishes the metric, the metric's alarms and its dashboard widget.
 * May import: anything under lib/ and aws-cdk-lib.
 *
 * @module
 */
import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { ENV } from '../lib/adapters/aws-lambda/variables.ts';
import { STALE_METRIC } from '../lib/core/stale.ts';
import { ValidationError } from '../lib/errors.ts';
import { STALE_INDEX } from '../lib/store/layout.ts';
import { type Deployment, deploymentFunction } from './deployment.ts';
import { addAlarm } from './monitoring.ts';
import { grantStaleIndexQuery } from './permissions.ts';
import type {
  StaleSessionsAlarmOptions,
  StaleSessionsOptions,
  StaleSessionsResources,
} from './props.ts';

/** The options of `staleSessions`, checked and with their defaults. */
interface StaleSettings {
  readonly olderThanSeconds: number;
  readonly schedule: Duration;
  readonly alarm: StaleSessionsAlarmOptions | undefined;
  readonly threshold: number;
}

/** Checks the options of `staleSessions` (`option` names them in the messages). */
function staleSettings(
  deployment: Deployment,
  option: string,
  opts: StaleSessionsOptions,
): StaleSettings {
  const olderThanSeconds = opts.olderThan.toMilliseconds() / 1000;
  const schedule = opts.schedule ?? Duration.minutes(5);
  const minutes = schedule.toMilliseconds() / 60_000;
  if (!Number.isInteger(olderThanSeconds) || olderThanSeconds < 1) {
    throw new ValidationError(`${option}.olderThan must be a whole number of seconds, at least 1`);
  }
  if (!Number.isInteger(minutes) || minutes < 1) {
    throw new ValidationError(
      `${option}.schedule must be a whole number of minutes (it is ${schedule.toHumanString()})`,
    );
  }
  const alarm = opts.alarm === true ? {} : opts.alarm || undefined;
  if (alarm !== undefined && deployment.monitoring === undefined) {
    throw new ValidationError(`${option}.alarm contradicts alarms: false; turn one of them around`);
  }
  const threshold = alarm?.threshold ?? 1;
  if (!Number.isInteger(threshold) || threshold < 1) {
    throw new ValidationError(`${option}.alarm.threshold must be a whole number, at least 1`);
  }
  return { olderThanSeconds, schedule, alarm, threshold };
}

/**
 * The stale index on the table (keys only: heads enter it with their first unstarted instance
 * and leave with their last), its name in the environment of `headWriters` (the functions that
 * write heads or serve `GET /stale`, which the constructor routes), and a scheduled function
 * that counts stale sessions from the index alone, with its metric, alarms and widget.
 *
 * @example
 * addStaleSessions(deployment, [evaluator, ingest], { olderThan: Duration.hours(24) });
 */
export function addStaleSessions(
  deployment: Deployment,
  headWriters: readonly lambda.Function[],
  opts: StaleSessionsOptions,
): StaleSessionsResources {
  const { scope, table, monitoring } = deployment;
  const settings = staleSettings(deployment, `Triggers '${scope.node.id}': staleSessions`, opts);
  const { schedule, alarm } = settings;
  const age = opts.olderThan.toHumanString();

  table.addGlobalSecondaryIndex({
    indexName: STALE_INDEX.name,
    partitionKey: { name: STALE_INDEX.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: STALE_INDEX.sortKey, type: dynamodb.AttributeType.STRING },
    projectionType: dynamodb.ProjectionType.KEYS_ONLY,
  });
  for (const fn of headWriters) fn.addEnvironment(ENV.staleIndex, STALE_INDEX.name);

  const fn = deploymentFunction(deployment, 'StaleSessions', {
    function: 'stale',
    description: `Counts the sessions with instances unstarted for more than ${age}`,
    timeout: Duration.minutes(1),
  });
  fn.addEnvironment(ENV.tableName, table.tableName);
  fn.addEnvironment(ENV.staleIndex, STALE_INDEX.name);
  fn.addEnvironment(ENV.staleAfterSeconds, String(settings.olderThanSeconds));
  grantStaleIndexQuery(fn, table, deployment.encryptionKey);
  const rule = new events.Rule(scope, 'StaleSessionsSchedule', {
    description: 'serverless-triggers: counts stale sessions',
    schedule: events.Schedule.rate(schedule),
  });
  // A missed count is made good by the next one: retrying an old one would only report late.
  rule.addTarget(new targets.LambdaFunction(fn, { retryAttempts: 0 }));

  const metricProps = {
    namespace: STALE_METRIC.namespace,
    dimensionsMap: { [STALE_METRIC.dimension]: table.tableName },
    statistic: cloudwatch.Stats.MAXIMUM,
    period: schedule,
  };
  const metric = new cloudwatch.Metric({ ...metricProps, metricName: STALE_METRIC.staleSessions });
  const oldestAgeMetric = new cloudwatch.Metric({
    ...metricProps,
    metricName: STALE_METRIC.oldestAge,
  });
  let staleAlarm: cloudwatch.Alarm | undefined;
  if (alarm !== undefined && monitoring !== undefined) {
    staleAlarm = addAlarm(monitoring, 'StaleSessionsAlarm', {
      description: `Sessions have instances unstarted for more than ${age}: list them with triggers stale`,
      metric,
      threshold: settings.threshold,
      evaluationPeriods: alarm.evaluationPeriods ?? 1,
    });
    // Missing data is not breaching, so a count that keeps failing would silence the alarm.
    addAlarm(monitoring, 'StaleSessionsErrorsAlarm', {
      description: 'The stale-sessions count fails: the stale-sessions alarm is blind',
      metric: fn.metricErrors({ period: schedule, statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
    });
  }
  monitoring?.dashboard?.addWidgets(
    new cloudwatch.GraphWidget({
      title: `Stale sessions (instances unstarted for more than ${age})`,
      left: [metric],
      right: [oldestAgeMetric],
    }),
  );
  return { fn, rule, metric, oldestAgeMetric, ...(staleAlarm ? { alarm: staleAlarm } : {}) };
}
