/**
 * The props of `Triggers` and the options and results of its methods.
 * May import: anything under lib/ and aws-cdk-lib.
 *
 * @module
 */
import type { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as events from 'aws-cdk-lib/aws-events';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as cr from 'aws-cdk-lib/custom-resources';
import type { EventMapping } from '../lib/core/eventbridge.ts';
import type { Workflow } from '../lib/types.ts';

/**
 * How the HTTP API authorizes requests.
 *
 * @example
 * const api: TriggersApiOptions = { authorizer: new HttpJwtAuthorizer('Jwt', issuerUrl) };
 */
export interface TriggersApiOptions {
  /**
   * `'iam'`: callers sign requests with SigV4 and need `execute-api:Invoke` (see `grantFire`,
   * `grantRead`). `'none'`: anyone who knows the URL may call it.
   * @default 'iam' (or the `authorizer`, when one is given)
   */
  readonly auth?: 'iam' | 'none';
  /**
   * An authorizer of your own (JWT, Lambda) for every route. Contradicts `auth`.
   * @default - IAM authorization
   */
  readonly authorizer?: apigwv2.IHttpRouteAuthorizer;
}

/**
 * Events from an EventBridge bus, fired into sessions: a rule with `pattern` on `bus`, whose
 * target is a small function that maps each event with `mapping` and fires it through the same
 * ingest flow, validation and idempotency as the HTTP API.
 *
 * @example
 * const orders: EventBridgeIngestion = {
 *   pattern: { source: ['shop.orders'], detailType: ['OrderPlaced'] },
 *   mapping: { sessionId: '$.detail.orderId', trigger: 'orderPlaced' },
 * };
 */
export interface EventBridgeIngestion {
  /**
   * The bus the rule listens on.
   * @default - the account's default event bus
   */
  readonly bus?: events.IEventBus;
  /** The events to fire: an EventBridge event pattern, matching at least one field. */
  readonly pattern: events.EventPattern;
  /**
   * Where the session id, trigger, kwargs and event id come from in each event: paths into the
   * event (`$.detail.orderId`, `$.detail-type`, `$.id`) or literals (anything that does not
   * begin with `$`). Checked at synth time.
   */
  readonly mapping: EventMapping;
  /**
   * The workflow a session gets when one of these events creates it.
   * @default - the construct's `defaultWorkflow`
   */
  readonly workflow?: string;
}

/**
 * What `addEventBridgeIngestion` created for an ingestion.
 *
 * @example
 * const { deadLetterQueue } = triggers.addEventBridgeIngestion(orders);
 */
export interface EventBridgeIngestionResources {
  /** The rule on the bus, whose target is `fn`. */
  readonly rule: events.Rule;
  /** Maps each event and fires it into its session. */
  readonly fn: lambda.Function;
  /**
   * Events that could not be fired: events the target could not deliver (EventBridge's own
   * dead-letter queue), invocations whose retries are spent (the function's), and events whose
   * mapped fire is invalid (sent by the function). Each message's body is the event.
   */
  readonly deadLetterQueue: sqs.Queue;
}

/**
 * Stale sessions: a metric of the sessions whose unstarted instances have waited longer than
 * `olderThan`, and optionally an alarm on it. Turns on the table's stale index (heads with
 * unstarted instances carry its keys), `GET /stale`, and a function that counts them on a
 * schedule and publishes the `StaleSessions` metric.
 *
 * @example
 * const stale: StaleSessionsOptions = { olderThan: Duration.hours(24), alarm: { threshold: 10 } };
 */
export interface StaleSessionsOptions {
  /** How long an unstarted instance may wait before its session counts as stale. */
  readonly olderThan: Duration;
  /**
   * An alarm when at least `threshold` sessions are stale (and one when the count fails).
   * Needs `alarms` on.
   * @default false
   */
  readonly alarm?: boolean | StaleSessionsAlarmOptions;
  /**
   * How often the stale sessions are counted: whole minutes. Also the metric's period.
   * @default Duration.minutes(5)
   */
  readonly schedule?: Duration;
}

/**
 * Options of the stale-sessions alarm.
 *
 * @example
 * const alarm: StaleSessionsAlarmOptions = { threshold: 10, evaluationPeriods: 3 };
 */
export interface StaleSessionsAlarmOptions {
  /**
   * How many stale sessions set it off.
   * @default 1
   */
  readonly threshold?: number;
  /**
   * How many schedule periods in a row the count must reach `threshold`.
   * @default 1
   */
  readonly evaluationPeriods?: number;
}

/**
 * What the `staleSessions` option created.
 *
 * @example
 * triggers.staleSessions?.alarm?.addAlarmAction(new SnsAction(topic));
 */
export interface StaleSessionsResources {
  /** Counts the stale sessions and publishes the metric. */
  readonly fn: lambda.Function;
  /** Invokes `fn` on the schedule. */
  readonly rule: events.Rule;
  /** `StaleSessions` (namespace `ServerlessTriggers`, dimension `TableName`), maximum per period. */
  readonly metric: cloudwatch.Metric;
  /** `OldestStaleAgeSeconds`: how long the oldest stale instance has waited, 0 when none. */
  readonly oldestAgeMetric: cloudwatch.Metric;
  /** The alarm on `metric`, when `alarm` is set. */
  readonly alarm?: cloudwatch.Alarm;
}

/**
 * Where lifecycle events go when `lifecycleEvents` is on.
 *
 * @example
 * const lifecycle: LifecycleEventsOptions = { eventBus: new events.EventBus(this, 'Audit') };
 */
export interface LifecycleEventsOptions {
  /** The bus lifecycle events are put on. */
  readonly eventBus: events.IEventBus;
}

/**
 * What the `lifecycleEvents` option created.
 *
 * @example
 * const { deadLetterQueue } = addLifecycleEvents(deployment, evaluator, true, Duration.minutes(5));
 */
export interface LifecycleEventsResources {
  /** Publishes the lifecycle events of the table stream's records. */
  readonly fn: lambda.Function;
  /** The stream records whose events could not be published once the retries were spent. */
  readonly deadLetterQueue: sqs.Queue;
  /** The bus the events are put on. */
  readonly eventBus: events.IEventBus;
}

/**
 * Props of `Triggers`.
 *
 * @example
 * const props: TriggersProps = { workflows: [survey], handlers: { score: scoreFunction } };
 */
export interface TriggersProps {
  /** The workflows sessions can run. Each is validated at synth time. */
  readonly workflows: Workflow[];
  /**
   * The workflow a session gets when its first event names none.
   * @default - the first of `workflows`
   */
  readonly defaultWorkflow?: string;
  /**
   * Task handler functions by the name tasks `run` (or use); each gets a queue, as with
   * `addTaskHandler`.
   * @default - none; add them with `addTaskHandler`
   */
  readonly handlers?: Record<string, lambda.IFunction>;
  /**
   * The HTTP API's authorization.
   * @default - IAM authorization on every route
   */
  readonly api?: TriggersApiOptions;
  /**
   * How long session items live after their last write (DynamoDB TTL).
   * @default - 90 days (the store's default)
   */
  readonly sessionTtl?: Duration;
  /**
   * What happens to the session table and the log groups when they leave the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * A customer-managed key for the table and the queues.
   * @default - the AWS managed key `aws/dynamodb` for the table, SQS-managed for the queues
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * CloudWatch alarms and a dashboard.
   * @default true
   */
  readonly alarms?: boolean;
  /**
   * How long the functions' logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * X-Ray tracing of the functions the construct creates.
   * @default lambda.Tracing.DISABLED
   */
  readonly tracing?: lambda.Tracing;
  /**
   * The stream iterator age at which the stream alarms go off.
   * @default Duration.minutes(5)
   */
  readonly iteratorAgeThreshold?: Duration;
  /**
   * Events from EventBridge to fire into sessions, each with its rule, function and dead-letter
   * queue, as with `addEventBridgeIngestion`.
   * @default - none
   */
  readonly eventBridge?: EventBridgeIngestion | EventBridgeIngestion[];
  /**
   * A metric, and optionally an alarm, for sessions whose unstarted instances have waited longer
   * than an age; also `GET /stale`. Session heads then carry the stale index's keys while they
   * have unstarted instances (a few index writes per session).
   * @default - off: no index, no extra write
   */
  readonly staleSessions?: StaleSessionsOptions;
  /**
   * Lifecycle events on EventBridge, at least once: `Trigger Fired`, `Instance Replayed`,
   * `Instance Skipped`, `Instance Failed` and `Session Finalized`, each with `source`
   * `serverless-triggers`, the name as `detail-type`, and a `detail` whose `id` is the same on
   * every redelivery (deduplicate on it). `true` puts them on the account's default bus,
   * `{ eventBus }` on that bus; rules and their targets are yours to add.
   *
   * They are published from the table stream, never from the hot path of ingest: the evaluator
   * notes what each evaluation did in the session head it commits (`TRIGGERS_LIFECYCLE=1`), and a
   * lifecycle function, on its own event source of the stream (`LIFECYCLE_SOURCE`: heads with
   * notes, instances that just failed or finished), puts the events with `PutEvents`. Records
   * whose events cannot be published, once the source's retries are spent, go to a dead-letter
   * queue with an alarm (when `alarms` is on). Off, none of this exists: no function, no event
   * source, no queue, no alarm, no variable.
   *
   * The template mode (`triggers dev --template`) runs the lifecycle function's event source
   * like the others: its `PutEvents` go through the local AWS endpoint (checked against the
   * function's role) to the template's own EventBridge rules.
   * @default false
   * @example
   * new Triggers(this, 'Triggers', { workflows: [survey], lifecycleEvents: true });
   * new events.Rule(this, 'OnFailed', {
   *   eventPattern: { source: ['serverless-triggers'], detailType: ['Instance Failed'] },
   *   targets: [new targets.SnsTopic(alerts)],
   * });
   */
  readonly lifecycleEvents?: boolean | LifecycleEventsOptions;
}

/**
 * What the construct created to store a deployed workflow version.
 *
 * @example
 * for (const { workflow, version } of triggers.workflowVersions) console.log(workflow, version);
 */
export interface WorkflowVersionResources {
  /** The workflow's name. */
  readonly workflow: string;
  /** Its version: `workflowVersion` of the definition deployed. */
  readonly version: string;
  /** Puts the definition into the table at deploy time; removes nothing. */
  readonly resource: cr.AwsCustomResource;
}

/**
 * Options of `Triggers.addTaskHandler`.
 *
 * @example
 * triggers.addTaskHandler('score', importedFunction, { timeout: Duration.minutes(2) });
 */
export interface TaskHandlerOptions {
  /**
   * The function's timeout, which sets the queue's visibility timeout. Needed for a function
   * imported by reference, whose timeout the construct cannot read.
   * @default - the function's own timeout, else Lambda's default of 3 seconds
   */
  readonly timeout?: Duration;
}

/**
 * What `addTaskHandler` created for a task handler (and the construct for its timers).
 *
 * @example
 * triggers.timers?.deadLetterQueue.metricApproximateNumberOfMessagesVisible();
 */
export interface TaskHandlerResources {
  /** The task handler's function. */
  readonly fn: lambda.IFunction;
  /** The queue the evaluator sends the handler's instances to. */
  readonly queue: sqs.Queue;
  /** Where an instance's messages go once `queue` has delivered them too often. */
  readonly deadLetterQueue: sqs.Queue;
}
