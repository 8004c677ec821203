/**
 * What a deployed Lambda runs against, read from its environment (the variables of `ENV`): the
 * session table, the task queues, the region, for emulators their endpoints, and for the
 * lifecycle publisher its event bus.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SQSClient } from '@aws-sdk/client-sqs';
import { z } from 'zod';
import { type Clock, systemClock } from '../../core/clock.ts';
import type { LogEntry, LogSink } from '../../core/log.ts';
import { WorkflowRegistry } from '../../core/registry.ts';
import type { SendTask } from '../../core/task-message.ts';
import { getOwn } from '../../engine/kwargs.ts';
import { EnvironmentError, TriggersError } from '../../errors.ts';
import { DynamoStore } from '../../store/dynamo-store.ts';
import type { LogLevel, TaskHandler, Workflow } from '../../types.ts';
import { sqsSendTask } from './sqs-sender.ts';
import { ENV } from './variables.ts';
import { TASK_QUEUE } from './wiring.ts';

/** What an app module exports: its workflows, its task handlers, its default workflow. */
export interface TriggersApp {
  workflows: Workflow[];
  /** Task handlers by the name tasks `run`. @default - none (entry points without tasks) */
  handlers?: Record<string, TaskHandler>;
  /** The workflow new sessions get. @default - the first of `workflows` */
  defaultWorkflow?: string;
}

/** The environment variables are read from. */
export type LambdaEnv = Readonly<Record<string, string | undefined>>;

/** What the Lambdas of a deployment run against. */
export interface LambdaRuntime {
  store: DynamoStore;
  registry: WorkflowRegistry;
  clock: Clock;
  log: LogSink;
  /** Sends task messages to the queues of `TRIGGERS_QUEUE_URLS`. */
  send: SendTask;
  /** How long a task claim holds, from `TRIGGERS_FUNCTION_TIMEOUT_SECONDS`. @default - the runner's */
  leaseSeconds?: number;
  /**
   * The evaluator notes what each evaluation did in the head it commits, for the lifecycle
   * publisher: `TRIGGERS_LIFECYCLE=1`, which the construct sets with `lifecycleEvents`.
   * @default - off
   */
  lifecycle?: boolean;
}

/** Replacements for what `runtimeFromEnv` would create, for tests and local runners. */
export interface LambdaRuntimeOverrides {
  /** @default - one client per region and endpoint, shared by every runtime of the process */
  dynamodb?: DynamoDBClient;
  /** @default - one client per region and endpoint, shared by every runtime of the process */
  sqs?: SQSClient;
  /** The lifecycle publisher's client (`lifecycleRuntimeFromEnv`). @default - one for the region */
  eventBridge?: EventBridgeClient;
  /** @default - the system clock */
  clock?: Clock;
  /** @default - JSON lines on stdout, at `TRIGGERS_LOG_LEVEL` */
  log?: LogSink;
}

const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const satisfies readonly LogLevel[];

const jsonText = z.string().transform((text, ctx): unknown => {
  try {
    return JSON.parse(text);
  } catch {
    ctx.addIssue({ code: 'custom', message: 'must be JSON', input: text });
    return z.NEVER;
  }
});

/** A whole, positive number of seconds, when set. */
const seconds = z.coerce
  .number({ error: 'must be a number of seconds' })
  .int({ error: 'must be a whole number of seconds' })
  .positive({ error: 'must be positive' })
  .optional();

const envSchema = z.object({
  [ENV.tableName]: z
    .string({ error: 'is required: the name of the session table' })
    .regex(/^[A-Za-z0-9_.-]{3,255}$/, { error: 'must be a DynamoDB table name' }),
  [ENV.queueUrls]: jsonText
    .pipe(
      z.record(z.string().min(1), z.url({ error: 'must be a queue URL' }), {
        error: 'must be a JSON object of queue name to queue URL',
      }),
    )
    .optional(),
  [ENV.dynamodbEndpoint]: z.url({ error: 'must be a URL' }).optional(),
  [ENV.sqsEndpoint]: z.url({ error: 'must be a URL' }).optional(),
  [ENV.functionTimeoutSeconds]: seconds,
  [ENV.logLevel]: z
    .enum(LOG_LEVELS, { error: `must be one of ${LOG_LEVELS.join(', ')}` })
    .optional(),
  [ENV.sessionTtlSeconds]: seconds,
  [ENV.staleIndex]: z
    .string()
    .regex(/^[A-Za-z0-9_.-]{3,255}$/, { error: 'must be a DynamoDB index name' })
    .optional(),
  [ENV.staleAfterSeconds]: seconds,
  [ENV.lifecycle]: z.literal('1', { error: "must be '1' (on) when set" }).optional(),
  [ENV.eventBusName]: z
    .string()
    .regex(/^[A-Za-z0-9/._:-]{1,1600}$/, { error: 'must be an event bus name or ARN' })
    .optional(),
  [ENV.region]: z.string().optional(),
});

/** The deployment's settings, as read from the environment, by variable name. */
export type LambdaSettings = z.infer<typeof envSchema>;

/**
 * Reads and checks the deployment's variables; an empty variable counts as unset. Throws
 * `EnvironmentError` naming the first variable that is missing or invalid.
 *
 * @example
 * const settings = settingsFromEnv(process.env);
 * settings.TRIGGERS_TABLE_NAME; // 'triggers-sessions'
 */
export function settingsFromEnv(env: LambdaEnv): LambdaSettings {
  const set = Object.fromEntries(
    Object.keys(envSchema.shape).flatMap((name) => {
      const value = env[name];
      return value === undefined || value === '' ? [] : [[name, value]];
    }),
  );
  const parsed = envSchema.safeParse(set);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0] as z.core.$ZodIssue;
  const [variable, ...rest] = issue.path.map(String);
  const where = rest.length > 0 ? ` (at '${rest.join('.')}')` : '';
  throw new EnvironmentError(variable ?? 'input', `${issue.message}${where}`, {
    cause: parsed.error,
  });
}

const RANK: Record<LogLevel, number> = { debug: 0, info: 1, warn: 2, error: 3 };

/**
 * A log sink that writes each entry as one JSON line (CloudWatch Logs keeps each line as one
 * structured event), dropping entries below `level`.
 *
 * @example
 * const log = jsonLineSink({ level: 'info' });
 * log({ level: 'info', message: 'evaluated', timestamp: new Date().toISOString(), sessionId: 's1' });
 */
export function jsonLineSink(
  opts: { level?: LogLevel; write?: (line: string) => void } = {},
): LogSink {
  const threshold = RANK[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  return (entry: LogEntry) => {
    if (RANK[entry.level] < threshold) return;
    let line: string;
    try {
      line = JSON.stringify(entry);
    } catch (err) {
      // A BigInt or a cycle in the attributes: keep the entry, lose the attributes.
      line = JSON.stringify({
        level: entry.level,
        message: entry.message,
        timestamp: entry.timestamp,
        logError: err instanceof Error ? err.message : String(err),
      });
    }
    write(line);
  };
}

// One client per configuration for the life of the process: Lambda reuses it across
// invocations, which keeps connections warm.
const dynamodbClients = new Map<string, DynamoDBClient>();
const sqsClients = new Map<string, SQSClient>();

function sharedClient<T>(
  cache: Map<string, T>,
  config: { region?: string; endpoint?: string },
  create: () => T,
): T {
  const key = JSON.stringify([config.region ?? null, config.endpoint ?? null]);
  let client = cache.get(key);
  if (client === undefined) {
    client = create();
    cache.set(key, client);
  }
  return client;
}

function clientConfig(region: string | undefined, endpoint: string | undefined) {
  return {
    ...(region !== undefined ? { region } : {}),
    ...(endpoint !== undefined ? { endpoint } : {}),
  };
}

/**
 * The queue URL lookup of `TRIGGERS_QUEUE_URLS`: throws `EnvironmentError` when the variable is
 * unset, and a `NO_QUEUE` error for a queue it does not name.
 *
 * @example
 * queueUrlFrom({ scoreSurvey: url })('scoreSurvey'); // url
 */
export function queueUrlFrom(
  queueUrls: Readonly<Record<string, string>> | undefined,
): (queue: string) => string {
  return (queue) => {
    if (queueUrls === undefined) {
      throw new EnvironmentError(
        ENV.queueUrls,
        'is required to send tasks: a JSON object of queue name to queue URL',
      );
    }
    const queueUrl = getOwn(queueUrls, queue);
    if (queueUrl === undefined) {
      throw new TriggersError(
        `no URL for queue '${queue}' in ${ENV.queueUrls} (it has: ${Object.keys(queueUrls).join(', ') || 'none'})`,
        { code: 'NO_QUEUE' },
      );
    }
    return queueUrl;
  };
}

/**
 * The runtime of a deployed Lambda, from its environment: a `DynamoStore` on
 * `TRIGGERS_TABLE_NAME`, the app's workflows, the system clock, JSON-line logs on stdout and a
 * `send` to the queues of `TRIGGERS_QUEUE_URLS`. SDK clients are shared per region and
 * endpoint. Throws `EnvironmentError` naming a missing or invalid variable, and
 * `WorkflowError` for invalid workflows.
 *
 * @example
 * import app from './app.ts';
 * export const handler = createEvaluatorHandler(runtimeFromEnv(app));
 */
export function runtimeFromEnv(
  app: TriggersApp,
  env: LambdaEnv = process.env,
  overrides: LambdaRuntimeOverrides = {},
): LambdaRuntime {
  const settings = settingsFromEnv(env);
  const region = settings.AWS_REGION;
  const ddbConfig = clientConfig(region, settings.TRIGGERS_DYNAMODB_ENDPOINT);
  const sqsConfig = clientConfig(region, settings.TRIGGERS_SQS_ENDPOINT);
  const dynamodb =
    overrides.dynamodb ??
    sharedClient(dynamodbClients, ddbConfig, () => new DynamoDBClient(ddbConfig));
  const sqs = overrides.sqs ?? sharedClient(sqsClients, sqsConfig, () => new SQSClient(sqsConfig));
  const clock = overrides.clock ?? systemClock;
  const timeout = settings.TRIGGERS_FUNCTION_TIMEOUT_SECONDS;
  return {
    store: new DynamoStore({
      tableName: settings.TRIGGERS_TABLE_NAME,
      client: dynamodb,
      ...(settings.TRIGGERS_SESSION_TTL_SECONDS !== undefined
        ? { ttlSeconds: settings.TRIGGERS_SESSION_TTL_SECONDS }
        : {}),
      ...(settings.TRIGGERS_STALE_INDEX !== undefined
        ? { staleIndex: { name: settings.TRIGGERS_STALE_INDEX } }
        : {}),
    }),
    registry: new WorkflowRegistry(app.workflows, app.defaultWorkflow),
    clock,
    log: overrides.log ?? jsonLineSink({ level: settings.TRIGGERS_LOG_LEVEL ?? 'info' }),
    send: sqsSendTask({ sqs, queueUrl: queueUrlFrom(settings.TRIGGERS_QUEUE_URLS), clock }),
    ...(timeout !== undefined ? { leaseSeconds: TASK_QUEUE.leaseSeconds(timeout) } : {}),
    ...(settings.TRIGGERS_LIFECYCLE === '1' ? { lifecycle: true } : {}),
  };
}
