/**
 * The CDK construct `Triggers` (also `serverless-triggers/cdk`): the session table, the ingest,
 * evaluator and dispatcher functions, the HTTP API, a queue per task handler and their alarms,
 * all wired from `lib/wiring.ts`, the module the local runner reads too.
 *
 * @module
 */
import { Duration, Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import {
  DynamoEventSource,
  SqsDlq,
  SqsEventSource,
  type StreamEventSourceProps,
} from 'aws-cdk-lib/aws-lambda-event-sources';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as cr from 'aws-cdk-lib/custom-resources';
import { Construct } from 'constructs';
import type { TriggersApp } from '../lib/adapters/aws-lambda/environment.ts';
import {
  DISPATCHER_SOURCE,
  EVALUATOR_SOURCE,
  type StreamSourceSettings,
  TASK_QUEUE,
} from '../lib/adapters/aws-lambda/wiring.ts';
import {
  compileEventMapping,
  EVENTBRIDGE_WIRING,
  type EventMapping,
  EventMappingError,
} from '../lib/core/eventbridge.ts';
import { STALE_INDEX, STALE_METRIC } from '../lib/core/stale.ts';
import { workflowVersion, workflowVersionPutItem } from '../lib/core/versions.ts';
import { checkHandlers, compileWorkflow, TIMER_QUEUE } from '../lib/engine/workflow.ts';
import { TABLE } from '../lib/store/layout.ts';
import type { Workflow } from '../lib/types.ts';
import { deploymentCode, TriggersFunction, type TriggersFunctionOptions } from './functions.ts';

export type { EventMapping } from '../lib/core/eventbridge.ts';

export {
  type PrebuiltFunction,
  TaskHandlerFunction,
  type TaskHandlerFunctionProps,
  TriggersFunction,
  type TriggersFunctionOptions,
  type TriggersFunctionProps,
} from './functions.ts';

/** How the HTTP API authorizes requests. */
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

/** What `addEventBridgeIngestion` created for an ingestion. */
export interface EventBridgeIngestionResources {
  readonly rule: events.Rule;
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

/** Options of the stale-sessions alarm. */
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

/** What the `staleSessions` option created. */
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

/** Props of `Triggers`. */
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
   * @default - AWS-owned encryption for the table, SQS-managed encryption for the queues
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
}

/** What the construct created to store a deployed workflow version. */
export interface WorkflowVersionResources {
  /** The workflow's name. */
  readonly workflow: string;
  /** Its version: `workflowVersion` of the definition deployed. */
  readonly version: string;
  /** Puts the definition into the table at deploy time; removes nothing. */
  readonly resource: cr.AwsCustomResource;
}

/** Options of `Triggers.addTaskHandler`. */
export interface TaskHandlerOptions {
  /**
   * The function's timeout, which sets the queue's visibility timeout. Needed for a function
   * imported by reference, whose timeout the construct cannot read.
   * @default - the function's own timeout, else Lambda's default of 3 seconds
   */
  readonly timeout?: Duration;
}

/** What `addTaskHandler` created for a task handler. */
export interface TaskHandlerResources {
  readonly fn: lambda.IFunction;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;
}

const LAMBDA_DEFAULT_TIMEOUT = Duration.seconds(3);

/** Item actions each function needs (transactions are authorized per item action). */
const TABLE_ACTIONS = {
  ingest: [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:ConditionCheckItem',
  ],
  evaluator: [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:Query',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:ConditionCheckItem',
  ],
  task: [
    'dynamodb:GetItem',
    'dynamodb:BatchGetItem',
    'dynamodb:PutItem',
    'dynamodb:UpdateItem',
    'dynamodb:ConditionCheckItem',
  ],
  /** Fires only: one conditional put per event. */
  eventBridge: ['dynamodb:PutItem'],
} as const;

/** The contract's routes, plus the read-only timeline and workflows routes. */
const ROUTES = [
  { path: '/sessions/{sessionId}/events', method: apigwv2.HttpMethod.POST, id: 'Fire' },
  { path: '/sessions/{sessionId}', method: apigwv2.HttpMethod.GET, id: 'GetSession' },
  { path: '/sessions/{sessionId}/events', method: apigwv2.HttpMethod.GET, id: 'GetEvents' },
  { path: '/workflows', method: apigwv2.HttpMethod.GET, id: 'GetWorkflows' },
  {
    path: '/sessions/{sessionId}/instances/{instance}/replay',
    method: apigwv2.HttpMethod.POST,
    id: 'Replay',
  },
  {
    path: '/sessions/{sessionId}/instances/{instance}/skip',
    method: apigwv2.HttpMethod.POST,
    id: 'Skip',
  },
] as const;

/** `GET /stale`, routed when `staleSessions` is on. */
const STALE_ROUTE = { path: '/stale', method: apigwv2.HttpMethod.GET, id: 'GetStale' } as const;

function streamSourceProps(
  settings: StreamSourceSettings,
  onFailure: sqs.IQueue,
): StreamEventSourceProps {
  return {
    startingPosition: lambda.StartingPosition[settings.startingPosition],
    batchSize: settings.batchSize,
    maxBatchingWindow: Duration.seconds(settings.maxBatchingWindowSeconds),
    bisectBatchOnError: settings.bisectBatchOnError,
    retryAttempts: settings.retryAttempts,
    reportBatchItemFailures: settings.reportBatchItemFailures,
    parallelizationFactor: settings.parallelizationFactor,
    filters: settings.filters.map((pattern) => lambda.FilterCriteria.filter(pattern)),
    onFailure: new SqsDlq(onFailure),
  };
}

/**
 * Serverless triggers on AWS: fire events at the HTTP API, and every task of the workflows runs
 * exactly once when its triggers have fired, on the task handler function its `run` names.
 *
 * @example
 * const triggers = new Triggers(this, 'Triggers', { workflows: [survey] });
 * triggers.addTaskHandler('score', new TaskHandlerFunction(this, 'Score', { app, handler: 'score' }));
 * triggers.grantFire(backendRole);
 */
export class Triggers extends Construct {
  /** The session table. */
  readonly table: dynamodb.Table;
  /** The HTTP API of the contract's routes. */
  readonly api: apigwv2.HttpApi;
  /** The URL of the API's default stage. */
  readonly apiUrl: string;
  /** The function behind the HTTP API. */
  readonly ingest: lambda.Function;
  /** Applies fired events to sessions (table stream: event inserts). */
  readonly evaluator: lambda.Function;
  /** Sends newly scheduled instances to their queues (table stream: instances). */
  readonly dispatcher: lambda.Function;
  /** Where stream records go after the wiring's retries are spent. */
  readonly streamFailureQueue: sqs.Queue;
  /** The alarms, empty when `alarms` is off; add actions to them. */
  readonly alarms: cloudwatch.Alarm[] = [];
  /** The dashboard, when `alarms` is on. */
  readonly dashboard?: cloudwatch.Dashboard;
  /** The EventBridge ingestions, in the order they were added. */
  readonly eventBridgeIngestions: EventBridgeIngestionResources[] = [];
  /**
   * The deployed version of each workflow, stored in the table at deploy time so that sessions
   * pinned to it can be evaluated by any later deployment.
   */
  readonly workflowVersions: WorkflowVersionResources[] = [];
  /** The stale-sessions function, schedule, metric and alarm, when `staleSessions` is set. */
  readonly staleSessions?: StaleSessionsResources;

  /**
   * The timers' function and queue (with its dead-letter queue), when a workflow has timers: a
   * timer is a built-in task, scheduled with its delay when its `from` trigger first fires, and
   * run by this function, which fires the timer's trigger. Delays over SQS's 15 minutes are
   * sent on until due.
   */
  readonly timers?: TaskHandlerResources;
  private readonly taskHandlers = new Map<string, TaskHandlerResources>();
  private readonly queueUrls: Record<string, string> = {};
  private readonly encryptionKey: kms.IKey | undefined;
  private readonly sessionTtl: Duration | undefined;
  private readonly iamAuth: boolean;
  private readonly alarmsOn: boolean;
  private readonly app: TriggersApp;
  /** The deployment's own functions' code: the package's bundles and the workflows. */
  private readonly code: lambda.Code;
  private readonly functionOptions: TriggersFunctionOptions;
  private eventsMayUseKey = false;

  constructor(scope: Construct, id: string, props: TriggersProps) {
    super(scope, id);
    if (props.api?.auth !== undefined && props.api.authorizer !== undefined) {
      throw new Error(
        `Triggers '${id}': api.auth '${props.api.auth}' contradicts api.authorizer; give one of them`,
      );
    }
    if (props.workflows.length === 0) {
      throw new Error(`Triggers '${id}': workflows must name at least one workflow`);
    }
    const compiled = props.workflows.map((workflow) => compileWorkflow(workflow));
    if (
      props.defaultWorkflow !== undefined &&
      !compiled.some((wf) => wf.name === props.defaultWorkflow)
    ) {
      throw new Error(
        `Triggers '${id}': defaultWorkflow '${props.defaultWorkflow}' is not one of the workflows (${compiled.map((wf) => wf.name).join(', ')})`,
      );
    }

    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.encryptionKey = props.encryptionKey;
    this.sessionTtl = props.sessionTtl;
    this.alarmsOn = props.alarms ?? true;
    this.iamAuth = props.api?.authorizer === undefined && (props.api?.auth ?? 'iam') === 'iam';
    const functionOptions: TriggersFunctionOptions = {
      removalPolicy,
      ...(props.logRetention !== undefined ? { logRetention: props.logRetention } : {}),
      ...(props.tracing !== undefined ? { tracing: props.tracing } : {}),
    };

    this.table = new dynamodb.Table(this, 'Table', {
      partitionKey: { name: TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: TABLE.sortKey, type: dynamodb.AttributeType.STRING },
      billingMode: dynamodb.BillingMode[TABLE.billing],
      stream: dynamodb.StreamViewType[TABLE.streamView],
      timeToLiveAttribute: TABLE.ttlAttribute,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      ...(this.encryptionKey !== undefined
        ? {
            encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED,
            encryptionKey: this.encryptionKey,
          }
        : { encryption: dynamodb.TableEncryption.AWS_MANAGED }),
      removalPolicy,
    });

    const app = {
      workflows: props.workflows,
      ...(props.defaultWorkflow !== undefined ? { defaultWorkflow: props.defaultWorkflow } : {}),
    };
    this.app = app;
    this.code = deploymentCode(app);
    this.functionOptions = functionOptions;
    this.ingest = new TriggersFunction(this, 'Ingest', {
      ...functionOptions,
      code: this.code,
      function: 'ingest',
      description: 'Serves the triggers HTTP API: fires events, reads sessions',
    });
    this.evaluator = new TriggersFunction(this, 'Evaluator', {
      ...functionOptions,
      code: this.code,
      function: 'evaluator',
      description: 'Applies fired events to their sessions',
    });
    this.dispatcher = new TriggersFunction(this, 'Dispatcher', {
      ...functionOptions,
      code: this.code,
      function: 'dispatcher',
      description: 'Sends scheduled task instances to their queues',
    });

    this.configure(this.ingest, TABLE_ACTIONS.ingest);
    this.configure(this.evaluator, TABLE_ACTIONS.evaluator);
    this.storeWorkflowVersions(props.workflows);
    this.configure(this.dispatcher, []);
    this.dispatcher.addEnvironment(
      'TRIGGERS_QUEUE_URLS',
      Lazy.string({ produce: () => Stack.of(this).toJsonString(this.queueUrls) }),
    );

    this.streamFailureQueue = new sqs.Queue(this, 'StreamFailures', {
      retentionPeriod: Duration.days(TASK_QUEUE.dlqRetentionDays),
      ...this.queueEncryption(),
    });
    this.evaluator.addEventSource(
      new DynamoEventSource(
        this.table,
        streamSourceProps(EVALUATOR_SOURCE, this.streamFailureQueue),
      ),
    );
    this.dispatcher.addEventSource(
      new DynamoEventSource(
        this.table,
        streamSourceProps(DISPATCHER_SOURCE, this.streamFailureQueue),
      ),
    );

    const accessLogs = new logs.LogGroup(this, 'ApiAccessLogs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy,
    });
    this.api = new apigwv2.HttpApi(this, 'Api', {
      description: 'serverless-triggers: fire events, read sessions, replay and skip instances',
      createDefaultStage: false,
    });
    this.api.addStage('DefaultStage', {
      stageName: '$default',
      autoDeploy: true,
      accessLogSettings: { destination: new apigwv2.LogGroupLogDestination(accessLogs) },
    });
    const authorizer: apigwv2.IHttpRouteAuthorizer =
      props.api?.authorizer ??
      (this.iamAuth ? new HttpIamAuthorizer() : new apigwv2.HttpNoneAuthorizer());

    const integration = new HttpLambdaIntegration('Ingest', this.ingest);
    for (const route of [...ROUTES, ...(props.staleSessions ? [STALE_ROUTE] : [])]) {
      this.api.addRoutes({ path: route.path, methods: [route.method], integration, authorizer });
    }
    this.apiUrl = this.api.apiEndpoint;

    for (const [name, fn] of Object.entries(props.handlers ?? {})) this.addTaskHandler(name, fn);
    // Timers are built-in tasks: the construct's own function runs them from the timers queue.
    if (props.workflows.some((wf) => compileWorkflow(wf).timers.size > 0)) {
      const fn = new TriggersFunction(this, 'Timer', {
        ...functionOptions,
        code: this.code,
        function: 'timer',
        description: 'Fires the timers of sessions when they fall due',
      });
      this.addTaskHandler(TIMER_QUEUE, fn);
      this.timers = this.taskHandlers.get(TIMER_QUEUE);
    }

    if (this.alarmsOn) {
      this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard');
      this.addCoreMonitoring(props.iteratorAgeThreshold ?? Duration.minutes(5));
    }
    for (const ingestion of [props.eventBridge ?? []].flat())
      this.addEventBridgeIngestion(ingestion);
    if (props.staleSessions !== undefined) {
      this.staleSessions = this.addStaleSessions(id, props.staleSessions);
    }

    this.node.addValidation({
      validate: () => {
        const names = [...this.taskHandlers.keys()];
        const errors: string[] = [];
        for (const workflow of compiled) {
          const byHandler = new Map(
            [...workflow.tasks].filter(([, task]) => task.using === undefined),
          );
          try {
            checkHandlers({ ...workflow, tasks: byHandler }, names);
          } catch (err) {
            errors.push(`workflow '${workflow.name}': ${(err as Error).message}`);
          }
          for (const task of workflow.tasks.values()) {
            if (task.using !== undefined && !this.taskHandlers.has(task.using)) {
              errors.push(
                `workflow '${workflow.name}': task '${task.name}' runs '${task.run}' using '${task.using}', but no task handler of that name is registered (known: ${names.sort().join(', ') || 'none'})`,
              );
            }
          }
        }
        return errors;
      },
    });
  }

  /**
   * Adds the function of a task handler: a queue (and its dead-letter queue) named after the
   * handler, which the dispatcher sends the handler's instances to, and an event source with
   * partial batch responses. A `lambda.Function` also gets the environment it needs.
   *
   * @example
   * triggers.addTaskHandler('score', scoreFunction);
   */
  addTaskHandler(name: string, fn: lambda.IFunction, opts: TaskHandlerOptions = {}): sqs.Queue {
    if (this.taskHandlers.has(name)) {
      throw new Error(`Triggers: a task handler named '${name}' was already added`);
    }
    const index = this.taskHandlers.size;
    const timeout =
      opts.timeout ??
      (fn instanceof lambda.Function ? fn.timeout : undefined) ??
      LAMBDA_DEFAULT_TIMEOUT;
    const deadLetterQueue = new sqs.Queue(this, `TaskDlq${index}`, {
      retentionPeriod: Duration.days(TASK_QUEUE.dlqRetentionDays),
      ...this.queueEncryption(),
    });
    const queue = new sqs.Queue(this, `TaskQueue${index}`, {
      visibilityTimeout: Duration.seconds(TASK_QUEUE.visibilityTimeoutSeconds(timeout.toSeconds())),
      receiveMessageWaitTime: Duration.seconds(TASK_QUEUE.receiveWaitTimeSeconds),
      deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: TASK_QUEUE.maxReceiveCount },
      ...this.queueEncryption(),
    });
    fn.addEventSource(
      new SqsEventSource(queue, {
        batchSize: TASK_QUEUE.batchSize,
        maxBatchingWindow: Duration.seconds(TASK_QUEUE.maxBatchingWindowSeconds),
        reportBatchItemFailures: true,
      }),
    );
    this.table.grant(fn, ...TABLE_ACTIONS.task);
    this.encryptionKey?.grantEncryptDecrypt(fn);
    queue.grantSendMessages(this.dispatcher);
    // A cooldown longer than SQS allows is re-delayed: the function sends to its own queue.
    queue.grantSendMessages(fn);
    if (fn instanceof lambda.Function) {
      this.setRuntimeEnvironment(fn);
      fn.addEnvironment(
        'TRIGGERS_QUEUE_URLS',
        Stack.of(this).toJsonString({ [name]: queue.queueUrl }),
      );
      fn.addEnvironment('TRIGGERS_FUNCTION_TIMEOUT_SECONDS', String(timeout.toSeconds()));
    }
    this.queueUrls[name] = queue.queueUrl;
    this.taskHandlers.set(name, { fn, queue, deadLetterQueue });
    if (this.alarmsOn) this.addTaskMonitoring(name, queue, deadLetterQueue);
    return queue;
  }

  /**
   * Fires the events of an EventBridge rule into sessions: a rule with the ingestion's pattern
   * on its bus, targeting a function that maps each event and fires it through the HTTP API's
   * ingest flow (same validation, limits and idempotency: the same event id twice is applied
   * once). The target retries for a day, the function's invocations twice; what still fails,
   * and every event whose mapped fire is invalid, lands in the ingestion's dead-letter queue,
   * which has an alarm. The mapping and the workflow are checked here, at synth time.
   *
   * @example
   * triggers.addEventBridgeIngestion({
   *   bus: ordersBus,
   *   pattern: { source: ['shop.orders'], detailType: ['OrderPlaced'] },
   *   mapping: { sessionId: '$.detail.orderId', trigger: 'orderPlaced' },
   * });
   */
  addEventBridgeIngestion(ingestion: EventBridgeIngestion): EventBridgeIngestionResources {
    const index = this.eventBridgeIngestions.length;
    const option = `Triggers '${this.node.id}': eventBridge[${index}]`;
    try {
      compileEventMapping(ingestion.mapping);
    } catch (err) {
      if (err instanceof EventMappingError) throw new Error(`${option}.${err.message}`);
      throw err;
    }
    const workflows = this.app.workflows.map((wf) => wf.name);
    if (ingestion.workflow !== undefined && !workflows.includes(ingestion.workflow)) {
      throw new Error(
        `${option}.workflow '${ingestion.workflow}' is not one of the workflows (${workflows.join(', ')})`,
      );
    }
    if (Object.values(ingestion.pattern ?? {}).every((value) => value === undefined)) {
      throw new Error(
        `${option}.pattern must match on at least one field (source, detailType, ...)`,
      );
    }

    const deadLetterQueue = new sqs.Queue(this, `EventBridgeDlq${index}`, {
      retentionPeriod: Duration.days(TASK_QUEUE.dlqRetentionDays),
      ...this.queueEncryption(),
    });
    const fn = new TriggersFunction(this, `EventBridgeIngest${index}`, {
      ...this.functionOptions,
      code: this.code,
      function: 'eventbridge',
      description: `Fires the events of EventBridge rule ${index} into their sessions`,
      deadLetterQueue,
    });
    this.configure(fn, TABLE_ACTIONS.eventBridge);
    fn.addEnvironment(EVENTBRIDGE_WIRING.env.mapping, JSON.stringify(ingestion.mapping));
    if (ingestion.workflow !== undefined) {
      fn.addEnvironment(EVENTBRIDGE_WIRING.env.workflow, ingestion.workflow);
    }
    fn.addEnvironment(EVENTBRIDGE_WIRING.env.deadLetterQueueUrl, deadLetterQueue.queueUrl);
    deadLetterQueue.grantSendMessages(fn);
    fn.configureAsyncInvoke({
      retryAttempts: EVENTBRIDGE_WIRING.asyncRetryAttempts,
      maxEventAge: Duration.seconds(EVENTBRIDGE_WIRING.asyncMaxEventAgeSeconds),
    });

    const rule = new events.Rule(this, `EventBridgeRule${index}`, {
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
    if (this.encryptionKey !== undefined && !this.eventsMayUseKey) {
      // EventBridge dead-letters into a queue under this key: SQS needs the key for it.
      this.encryptionKey.addToResourcePolicy(
        new iam.PolicyStatement({
          principals: [new iam.ServicePrincipal('events.amazonaws.com')],
          actions: ['kms:Decrypt', 'kms:GenerateDataKey'],
          resources: ['*'],
          conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } },
        }),
      );
      this.eventsMayUseKey = true;
    }

    const resources = { rule, fn, deadLetterQueue };
    this.eventBridgeIngestions.push(resources);
    if (this.alarmsOn) this.addEventBridgeMonitoring(index, resources);
    return resources;
  }

  /** The functions of the task handlers added so far (the timers' included), by name. */
  get taskHandlerFunctions(): ReadonlyMap<string, lambda.IFunction> {
    return new Map([...this.taskHandlers].map(([name, r]) => [name, r.fn]));
  }

  /**
   * The queue of the task handler `name`; throws when there is none.
   *
   * @example
   * triggers.queueFor('score').metricApproximateAgeOfOldestMessage();
   */
  queueFor(name: string): sqs.Queue {
    const resources = this.taskHandlers.get(name);
    if (resources === undefined) {
      throw new Error(
        `Triggers: no task handler named '${name}' (it has: ${[...this.taskHandlers.keys()].join(', ') || 'none'})`,
      );
    }
    return resources.queue;
  }

  /**
   * Lets `grantee` fire events: `execute-api:Invoke` on `POST /sessions/{sessionId}/events`.
   * Only for IAM authorization.
   *
   * @example
   * triggers.grantFire(backendFunction);
   */
  grantFire(grantee: iam.IGrantable): iam.Grant {
    return this.grantInvoke(grantee, 'POST', '/sessions/*/events');
  }

  /**
   * Lets `grantee` read sessions and the workflows served: `execute-api:Invoke` on
   * `GET /sessions/{sessionId}`, `GET /sessions/{sessionId}/events` and `GET /workflows` (and
   * `GET /stale` with `staleSessions`).
   * Only for IAM authorization.
   *
   * @example
   * triggers.grantRead(dashboardRole);
   */
  grantRead(grantee: iam.IGrantable): iam.Grant {
    const stale = this.staleSessions !== undefined ? [STALE_ROUTE.path] : [];
    return this.grantInvoke(grantee, 'GET', '/sessions/*', '/workflows', ...stale);
  }

  private grantInvoke(grantee: iam.IGrantable, method: string, ...paths: string[]): iam.Grant {
    if (!this.iamAuth) {
      throw new Error(
        'Triggers: grants of API access need IAM authorization (api.auth is not iam)',
      );
    }
    return iam.Grant.addToPrincipal({
      grantee,
      actions: ['execute-api:Invoke'],
      resourceArns: paths.map((path) => this.api.arnForExecuteApi(method, path)),
    });
  }

  private queueEncryption(): sqs.QueueProps {
    return {
      enforceSSL: true,
      ...(this.encryptionKey !== undefined
        ? { encryption: sqs.QueueEncryption.KMS, encryptionMasterKey: this.encryptionKey }
        : { encryption: sqs.QueueEncryption.SQS_MANAGED }),
    };
  }

  private setRuntimeEnvironment(fn: lambda.Function): void {
    fn.addEnvironment('TRIGGERS_TABLE_NAME', this.table.tableName);
    if (this.sessionTtl !== undefined) {
      fn.addEnvironment('TRIGGERS_SESSION_TTL_SECONDS', String(this.sessionTtl.toSeconds()));
    }
  }

  /**
   * Stores each workflow's deployed version in the table: a custom resource per workflow whose
   * create and update put the definition unless it is there, and whose delete does nothing, so
   * every version ever deployed stays. The evaluator, the one function that pins sessions to a
   * version, is updated only after its versions are stored, so whichever code a function runs
   * during a rollout (or after a rollback), the versions sessions are pinned to are in the table.
   */
  private storeWorkflowVersions(workflows: readonly Workflow[]): void {
    const policy = cr.AwsCustomResourcePolicy.fromStatements([
      new iam.PolicyStatement({ actions: ['dynamodb:PutItem'], resources: [this.table.tableArn] }),
    ]);
    for (const workflow of workflows) {
      const version = workflowVersion(workflow);
      const put: cr.AwsSdkCall = {
        service: 'DynamoDB',
        action: 'PutItem',
        parameters: workflowVersionPutItem(this.table.tableName, workflow),
        physicalResourceId: cr.PhysicalResourceId.of(`${workflow.name}@${version}`),
        ignoreErrorCodesMatching: 'ConditionalCheckFailedException',
      };
      const resource = new cr.AwsCustomResource(this, `WorkflowVersion-${workflow.name}`, {
        resourceType: 'Custom::TriggersWorkflowVersion',
        onCreate: put,
        onUpdate: put,
        policy,
        installLatestAwsSdk: false,
      });
      this.encryptionKey?.grantEncryptDecrypt(resource);
      this.evaluator.node.addDependency(resource);
      this.workflowVersions.push({ workflow: workflow.name, version, resource });
    }
  }

  private configure(fn: lambda.Function, tableActions: readonly string[]): void {
    this.setRuntimeEnvironment(fn);
    if (tableActions.length > 0) {
      this.table.grant(fn, ...tableActions);
      this.encryptionKey?.grantEncryptDecrypt(fn);
    }
  }

  /**
   * The stale index on the table (keys only: heads enter it with their first unstarted
   * instance and leave with their last), its name in the environment of the functions that
   * write heads or serve `GET /stale` (routed in the constructor), and a scheduled function that counts stale
   * sessions from the index alone, with its metric, alarm and dashboard widget.
   */
  private addStaleSessions(id: string, opts: StaleSessionsOptions): StaleSessionsResources {
    const option = `Triggers '${id}': staleSessions`;
    const olderThan = opts.olderThan.toMilliseconds() / 1000;
    const schedule = opts.schedule ?? Duration.minutes(5);
    const minutes = schedule.toMilliseconds() / 60_000;
    if (!Number.isInteger(olderThan) || olderThan < 1) {
      throw new Error(`${option}.olderThan must be a whole number of seconds, at least 1`);
    }
    if (!Number.isInteger(minutes) || minutes < 1) {
      throw new Error(
        `${option}.schedule must be a whole number of minutes (it is ${schedule.toHumanString()})`,
      );
    }
    const alarm = opts.alarm === true ? {} : opts.alarm || undefined;
    if (alarm !== undefined && !this.alarmsOn) {
      throw new Error(`${option}.alarm contradicts alarms: false; turn one of them around`);
    }
    const threshold = alarm?.threshold ?? 1;
    if (!Number.isInteger(threshold) || threshold < 1) {
      throw new Error(`${option}.alarm.threshold must be a whole number, at least 1`);
    }

    this.table.addGlobalSecondaryIndex({
      indexName: STALE_INDEX.name,
      partitionKey: { name: STALE_INDEX.partitionKey, type: dynamodb.AttributeType.STRING },
      sortKey: { name: STALE_INDEX.sortKey, type: dynamodb.AttributeType.STRING },
      projectionType: dynamodb.ProjectionType.KEYS_ONLY,
    });
    for (const fn of [this.evaluator, this.ingest]) {
      fn.addEnvironment(STALE_METRIC.env.index, STALE_INDEX.name);
    }

    const fn = new TriggersFunction(this, 'StaleSessions', {
      ...this.functionOptions,
      code: this.code,
      function: 'stale',
      description: `Counts the sessions with instances unstarted for more than ${opts.olderThan.toHumanString()}`,
      timeout: Duration.minutes(1),
    });
    fn.addEnvironment('TRIGGERS_TABLE_NAME', this.table.tableName);
    fn.addEnvironment(STALE_METRIC.env.index, STALE_INDEX.name);
    fn.addEnvironment(STALE_METRIC.env.olderThan, String(olderThan));
    iam.Grant.addToPrincipal({
      grantee: fn,
      actions: ['dynamodb:Query'],
      resourceArns: [`${this.table.tableArn}/index/${STALE_INDEX.name}`],
    });
    this.encryptionKey?.grantDecrypt(fn);
    const rule = new events.Rule(this, 'StaleSessionsSchedule', {
      description: 'serverless-triggers: counts stale sessions',
      schedule: events.Schedule.rate(schedule),
    });
    // A missed count is made good by the next one: retrying an old one would only report late.
    rule.addTarget(new targets.LambdaFunction(fn, { retryAttempts: 0 }));

    const metricProps = {
      namespace: STALE_METRIC.namespace,
      dimensionsMap: { [STALE_METRIC.dimension]: this.table.tableName },
      statistic: cloudwatch.Stats.MAXIMUM,
      period: schedule,
    };
    const metric = new cloudwatch.Metric({
      ...metricProps,
      metricName: STALE_METRIC.staleSessions,
    });
    const oldestAgeMetric = new cloudwatch.Metric({
      ...metricProps,
      metricName: STALE_METRIC.oldestAge,
    });
    let staleAlarm: cloudwatch.Alarm | undefined;
    if (alarm !== undefined) {
      staleAlarm = this.addAlarm('StaleSessionsAlarm', {
        alarmDescription: `Sessions have instances unstarted for more than ${opts.olderThan.toHumanString()}: list them with triggers stale`,
        metric,
        threshold,
        evaluationPeriods: alarm.evaluationPeriods ?? 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      // Missing data is not breaching, so a count that keeps failing would silence the alarm.
      this.addAlarm('StaleSessionsErrorsAlarm', {
        alarmDescription: 'The stale-sessions count fails: the stale-sessions alarm is blind',
        metric: fn.metricErrors({ period: schedule, statistic: cloudwatch.Stats.SUM }),
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    this.dashboard?.addWidgets(
      new cloudwatch.GraphWidget({
        title: `Stale sessions (instances unstarted for more than ${opts.olderThan.toHumanString()})`,
        left: [metric],
        right: [oldestAgeMetric],
      }),
    );
    return { fn, rule, metric, oldestAgeMetric, ...(staleAlarm ? { alarm: staleAlarm } : {}) };
  }

  private addAlarm(id: string, props: cloudwatch.AlarmProps): cloudwatch.Alarm {
    const alarm = new cloudwatch.Alarm(this, id, props);
    this.alarms.push(alarm);
    return alarm;
  }

  private dlqAlarm(id: string, queue: sqs.Queue, what: string): cloudwatch.Alarm {
    return this.addAlarm(id, {
      alarmDescription: `${what} has messages: they need a look and a redrive`,
      metric: queue.metricApproximateNumberOfMessagesVisible({
        period: Duration.minutes(1),
        statistic: cloudwatch.Stats.MAXIMUM,
      }),
      threshold: 1,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
  }

  private addCoreMonitoring(iteratorAgeThreshold: Duration): void {
    const streamFunctions = [
      ['Evaluator', this.evaluator],
      ['Dispatcher', this.dispatcher],
    ] as const;
    const iteratorAge = streamFunctions.map(([, fn]) =>
      fn.metric('IteratorAge', {
        statistic: cloudwatch.Stats.MAXIMUM,
        period: Duration.minutes(1),
      }),
    );
    const errors = streamFunctions.map(([, fn]) =>
      fn.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
    );
    streamFunctions.forEach(([id], i) => {
      this.addAlarm(`${id}IteratorAgeAlarm`, {
        alarmDescription: `The ${id.toLowerCase()} falls behind the table stream`,
        metric: iteratorAge[i] as cloudwatch.Metric,
        threshold: iteratorAgeThreshold.toMilliseconds(),
        evaluationPeriods: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      this.addAlarm(`${id}ErrorsAlarm`, {
        alarmDescription: `The ${id.toLowerCase()} function fails`,
        metric: errors[i] as cloudwatch.Metric,
        threshold: 1,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    });
    this.dlqAlarm('StreamFailuresAlarm', this.streamFailureQueue, 'The stream failure queue');
    this.dashboard?.addWidgets(
      new cloudwatch.GraphWidget({
        title: 'API requests (fired events, reads)',
        left: [this.api.metricCount(), this.api.metricServerError(), this.api.metricClientError()],
      }),
      new cloudwatch.GraphWidget({
        title: 'Evaluations and dispatches',
        left: streamFunctions.map(([, fn]) => fn.metricInvocations()),
        right: errors,
      }),
      new cloudwatch.GraphWidget({ title: 'Stream iterator age (ms)', left: iteratorAge }),
      new cloudwatch.GraphWidget({
        title: 'Stream failures',
        left: [this.streamFailureQueue.metricApproximateNumberOfMessagesVisible()],
      }),
    );
  }

  private addEventBridgeMonitoring(index: number, res: EventBridgeIngestionResources): void {
    this.dlqAlarm(
      `EventBridgeDlq${index}Alarm`,
      res.deadLetterQueue,
      `The dead-letter queue of EventBridge ingestion ${index}`,
    );
    this.dashboard?.addWidgets(
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

  private addTaskMonitoring(name: string, queue: sqs.Queue, dlq: sqs.Queue): void {
    const index = this.taskHandlers.size - 1;
    this.dlqAlarm(`TaskDlq${index}Alarm`, dlq, `The dead-letter queue of task handler '${name}'`);
    this.dashboard?.addWidgets(
      new cloudwatch.GraphWidget({
        title: `Task handler '${name}': scheduled and failed`,
        left: [
          queue.metricNumberOfMessagesSent({ label: 'scheduled' }),
          queue.metricNumberOfMessagesDeleted({ label: 'done' }),
        ],
        right: [dlq.metricApproximateNumberOfMessagesVisible({ label: 'dead letters' })],
      }),
    );
  }
}
