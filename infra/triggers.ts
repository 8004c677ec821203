/**
 * The construct `Triggers`: the session table, the ingest and evaluator functions,
 * the table stream's event sources and the HTTP API; the other parts are added from here.
 * May import: anything under lib/ and aws-cdk-lib.
 *
 * @module
 */
import { Duration, Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpIamAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { ENV } from '../lib/adapters/aws-lambda/variables.ts';
import { EVALUATOR_SOURCE, TASK_QUEUE } from '../lib/adapters/aws-lambda/wiring.ts';
import { ROUTES, type RouteSpec } from '../lib/core/routes.ts';
import { type CompiledWorkflow, compileWorkflow, TIMER_QUEUE } from '../lib/engine/workflow.ts';
import { NotFoundError, ValidationError } from '../lib/errors.ts';
import { TABLE } from '../lib/store/layout.ts';
import {
  configureFunction,
  type Deployment,
  deploymentFunction,
  streamEventSource,
} from './deployment.ts';
import { addEventBridgeIngestion } from './eventbridge.ts';
import { deploymentCode, type TriggersFunctionOptions } from './functions.ts';
import { addLifecycleEvents } from './lifecycle-events.ts';
import { type Monitoring, monitorStreams } from './monitoring.ts';
import { grantRoutes, queueEncryption, TABLE_ACTIONS } from './permissions.ts';
import type {
  EventBridgeIngestion,
  EventBridgeIngestionResources,
  StaleSessionsResources,
  TaskHandlerOptions,
  TaskHandlerResources,
  TriggersProps,
  WorkflowVersionResources,
} from './props.ts';
import { addStaleSessions } from './stale-sessions.ts';
import {
  addTaskQueue,
  missingTaskHandlers,
  queueOf,
  queueUrls,
  type TaskHandlers,
} from './task-queues.ts';
import { storeWorkflowVersions } from './workflow-versions.ts';

/** Refuses contradictory props; the workflows, compiled (which validates them). */
function checkProps(id: string, props: TriggersProps): CompiledWorkflow[] {
  if (props.api?.auth !== undefined && props.api.authorizer !== undefined) {
    throw new ValidationError(
      `Triggers '${id}': api.auth '${props.api.auth}' contradicts api.authorizer; give one of them`,
    );
  }
  if (props.workflows.length === 0) {
    throw new ValidationError(`Triggers '${id}': workflows must name at least one workflow`);
  }
  const compiled = props.workflows.map((workflow) => compileWorkflow(workflow));
  if (
    props.defaultWorkflow !== undefined &&
    !compiled.some((wf) => wf.name === props.defaultWorkflow)
  ) {
    throw new NotFoundError(
      `Triggers '${id}': defaultWorkflow '${props.defaultWorkflow}' is not one of the workflows (${compiled.map((wf) => wf.name).join(', ')})`,
    );
  }
  return compiled;
}

/** The session table: the store's keys, stream and TTL, point-in-time recovery, encrypted. */
function sessionTable(
  scope: Construct,
  key: kms.IKey | undefined,
  removalPolicy: RemovalPolicy,
): dynamodb.Table {
  return new dynamodb.Table(scope, 'Table', {
    partitionKey: { name: TABLE.partitionKey, type: dynamodb.AttributeType.STRING },
    sortKey: { name: TABLE.sortKey, type: dynamodb.AttributeType.STRING },
    billingMode: dynamodb.BillingMode[TABLE.billing],
    stream: dynamodb.StreamViewType[TABLE.streamView],
    timeToLiveAttribute: TABLE.ttlAttribute,
    pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
    ...(key !== undefined
      ? { encryption: dynamodb.TableEncryption.CUSTOMER_MANAGED, encryptionKey: key }
      : { encryption: dynamodb.TableEncryption.AWS_MANAGED }),
    removalPolicy,
  });
}

/**
 * The routes a construct serves: those of `ROUTES`, with `GET /stale` only with
 * `staleSessions`, and last (where the template has always had it).
 */
function routesServed(staleSessions: boolean): RouteSpec[] {
  const all: readonly RouteSpec[] = Object.values(ROUTES);
  const stale = staleSessions ? all.filter((route) => route.staleSessions) : [];
  return [...all.filter((route) => !route.staleSessions), ...stale];
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
  /**
   * Applies fired events to sessions (table stream: event inserts) and sends the instances it
   * scheduled to their task queues, right after its commit.
   */
  readonly evaluator: lambda.Function;
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
   * Publishes lifecycle events to EventBridge from the table stream, when `lifecycleEvents` is
   * on.
   */
  readonly lifecycleFunction?: lambda.IFunction;
  /**
   * Where the lifecycle function's stream records go once their retries are spent (an alarm
   * watches it), when `lifecycleEvents` is on.
   */
  readonly lifecycleDeadLetterQueue?: sqs.IQueue;

  /**
   * The timers' function and queue (with its dead-letter queue), when a workflow has timers: a
   * timer is a built-in task, scheduled with its delay when its `from` trigger first fires, and
   * run by this function, which fires the timer's trigger. Delays over SQS's 15 minutes are
   * sent on until due.
   */
  readonly timers?: TaskHandlerResources;
  private readonly taskHandlers: TaskHandlers = new Map();
  private readonly deployment: Deployment;
  private readonly routes: readonly RouteSpec[];
  private readonly iamAuth: boolean;

  constructor(scope: Construct, id: string, props: TriggersProps) {
    super(scope, id);
    const compiled = checkProps(id, props);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const iteratorAgeThreshold = props.iteratorAgeThreshold ?? Duration.minutes(5);
    this.iamAuth = props.api?.authorizer === undefined && (props.api?.auth ?? 'iam') === 'iam';
    const functionOptions: TriggersFunctionOptions = {
      removalPolicy,
      ...(props.logRetention !== undefined ? { logRetention: props.logRetention } : {}),
      ...(props.tracing !== undefined ? { tracing: props.tracing } : {}),
    };
    this.table = sessionTable(this, props.encryptionKey, removalPolicy);
    const app = {
      workflows: props.workflows,
      ...(props.defaultWorkflow !== undefined ? { defaultWorkflow: props.defaultWorkflow } : {}),
    };
    const monitoring: Monitoring | undefined =
      (props.alarms ?? true) ? { scope: this, alarms: this.alarms } : undefined;
    const deployment: Deployment = {
      scope: this,
      table: this.table,
      encryptionKey: props.encryptionKey,
      sessionTtl: props.sessionTtl,
      app,
      code: deploymentCode(app),
      functionOptions,
      monitoring,
    };
    this.deployment = deployment;

    this.ingest = deploymentFunction(deployment, 'Ingest', {
      function: 'ingest',
      description: 'Serves the triggers HTTP API: fires events, reads sessions',
    });
    this.evaluator = deploymentFunction(deployment, 'Evaluator', {
      function: 'evaluator',
      description: 'Applies fired events to their sessions and sends the tasks they schedule',
    });
    configureFunction(deployment, this.ingest, TABLE_ACTIONS.ingest);
    configureFunction(deployment, this.evaluator, TABLE_ACTIONS.evaluator);
    this.workflowVersions.push(
      ...storeWorkflowVersions(deployment, this.evaluator, props.workflows),
    );
    // Direct dispatch: the evaluator sends what it scheduled to the task queues itself.
    this.evaluator.addEnvironment(
      ENV.queueUrls,
      Lazy.string({ produce: () => Stack.of(this).toJsonString(queueUrls(this.taskHandlers)) }),
    );

    this.streamFailureQueue = new sqs.Queue(this, 'StreamFailures', {
      retentionPeriod: Duration.days(TASK_QUEUE.dlqRetentionDays),
      ...queueEncryption(props.encryptionKey),
    });
    this.evaluator.addEventSource(
      streamEventSource(this.table, EVALUATOR_SOURCE, this.streamFailureQueue),
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
    this.routes = routesServed(props.staleSessions !== undefined);
    for (const route of this.routes) {
      const methods = [apigwv2.HttpMethod[route.method]];
      this.api.addRoutes({ path: route.path, methods, integration, authorizer });
    }
    this.apiUrl = this.api.apiEndpoint;

    for (const [name, fn] of Object.entries(props.handlers ?? {})) this.addTaskHandler(name, fn);
    // Timers are built-in tasks: the construct's own function runs them from the timers queue.
    if (compiled.some((wf) => wf.timers.size > 0)) {
      const fn = deploymentFunction(deployment, 'Timer', {
        function: 'timer',
        description: 'Fires the timers of sessions when they fall due',
      });
      this.addTaskHandler(TIMER_QUEUE, fn);
      this.timers = this.taskHandlers.get(TIMER_QUEUE);
    }

    if (monitoring !== undefined) {
      this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard');
      monitoring.dashboard = this.dashboard;
      monitorStreams(monitoring, this, iteratorAgeThreshold);
    }
    if (props.lifecycleEvents) {
      const lifecycle = addLifecycleEvents(
        deployment,
        this.evaluator,
        props.lifecycleEvents,
        iteratorAgeThreshold,
      );
      this.lifecycleFunction = lifecycle.fn;
      this.lifecycleDeadLetterQueue = lifecycle.deadLetterQueue;
    }
    for (const ingestion of [props.eventBridge ?? []].flat()) {
      this.addEventBridgeIngestion(ingestion);
    }
    if (props.staleSessions !== undefined) {
      const headWriters = [this.evaluator, this.ingest];
      this.staleSessions = addStaleSessions(deployment, headWriters, props.staleSessions);
    }

    this.node.addValidation({ validate: () => missingTaskHandlers(compiled, this.taskHandlers) });
  }

  /**
   * Adds the function of a task handler: a queue (and its dead-letter queue) named after the
   * handler, which the evaluator sends the handler's instances to, and an event source with
   * partial batch responses. A `lambda.Function` also gets the environment it needs.
   *
   * @example
   * triggers.addTaskHandler('score', scoreFunction);
   */
  addTaskHandler(name: string, fn: lambda.IFunction, opts: TaskHandlerOptions = {}): sqs.Queue {
    return addTaskQueue(this.deployment, this.taskHandlers, this.evaluator, name, fn, opts);
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
    const resources = addEventBridgeIngestion(this.deployment, index, ingestion);
    this.eventBridgeIngestions.push(resources);
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
    return queueOf(this.taskHandlers, name);
  }

  /**
   * Lets `grantee` fire events: `execute-api:Invoke` on `POST /sessions/{sessionId}/events`.
   * Only for IAM authorization.
   *
   * @example
   * triggers.grantFire(backendFunction);
   */
  grantFire(grantee: iam.IGrantable): iam.Grant {
    return this.grantInvoke(grantee, [ROUTES.fire]);
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
    return this.grantInvoke(
      grantee,
      this.routes.filter((route) => route.method === 'GET'),
    );
  }

  private grantInvoke(grantee: iam.IGrantable, routes: readonly RouteSpec[]): iam.Grant {
    if (!this.iamAuth) {
      throw new ValidationError(
        'Triggers: grants of API access need IAM authorization (api.auth is not iam)',
      );
    }
    return grantRoutes(this.api, grantee, routes);
  }
}
