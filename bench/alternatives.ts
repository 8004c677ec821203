/**
 * The same sessions priced on two other AWS ways to wait for events and run tasks: Step Functions
 * Standard with the callback (task token) pattern, and Lambda durable functions.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import type { Workflow } from '../lib/types.ts';
import { LAMBDA_ASSUMPTIONS, PRICES, type PriceName } from './prices.ts';
import { type CostBreakdown, sumCost } from './pricing.ts';
import type { ScriptedEvent } from './workloads.ts';

/** What a session does, in the terms the models count. */
export interface SessionShape {
  /** Events the application fires into the session (each arrives through an ingest function). */
  events: number;
  /** Of those, events some task waits on: each needs a wait state or a callback. */
  waits: number;
  /** Of those, `andEvery` firings: each is one more turn of a loop. */
  loopIterations: number;
  /** Task handler runs. */
  taskRuns: number;
}

/**
 * The shape of a session from its workflow, its events and the handler runs measured.
 *
 * @example
 * const shape = sessionShape(workflow, events, usage.handlerRuns);
 */
export function sessionShape(
  workflow: Workflow,
  events: readonly ScriptedEvent[],
  taskRuns: number,
): SessionShape {
  const tasks = Object.values(workflow.tasks);
  const awaited = new Set(
    tasks.flatMap((t) => [...t.after, ...(t.unless ?? []), ...(t.andEvery ? [t.andEvery] : [])]),
  );
  const every = new Set(tasks.flatMap((t) => (t.andEvery ? [t.andEvery] : [])));
  return {
    events: events.length,
    waits: events.filter((e) => awaited.has(e.trigger)).length,
    loopIterations: events.filter((e) => every.has(e.trigger)).length,
    taskRuns,
  };
}

/** One counted line of a model. */
export interface ModelLine {
  /** What is counted. */
  item: string;
  /** How many per session. */
  quantity: number;
  /** The price it is billed at. */
  price: PriceName | 'lambdaDurationMs';
  /** Dollars per session. */
  usd: number;
  /** Why it is there. */
  why: string;
}

/**
 * A priced model of one session on another AWS service. Both models (Step Functions, durable
 * functions) are explicit lower bounds, written out line by line in the report, not measurements.
 */
export interface ModelCost {
  name: string;
  lines: ModelLine[];
  /** Per session. */
  cost: CostBreakdown;
  /** What the model assumes, in words. */
  assumptions: string[];
}

const msUsd = (ms: number) =>
  (ms / 1000) * LAMBDA_ASSUMPTIONS.memoryGb * PRICES.lambdaArmGbSecond.usd;

function line(
  item: string,
  quantity: number,
  price: ModelLine['price'],
  why: string,
  msEach = 0,
): ModelLine {
  const usd =
    price === 'lambdaDurationMs' ? quantity * msUsd(msEach) : quantity * PRICES[price].usd;
  return { item, quantity, price, usd, why };
}

function breakdown(lines: readonly ModelLine[]): CostBreakdown {
  const sum = (pred: (l: ModelLine) => boolean) =>
    lines.filter(pred).reduce((n, l) => n + l.usd, 0);
  const parts = {
    dynamodbWrites: sum((l) => l.price === 'dynamodbWriteRequestUnit'),
    dynamodbReads: sum((l) => l.price === 'dynamodbReadRequestUnit'),
    sqsRequests: sum((l) => l.price === 'sqsStandardRequest'),
    lambdaRequests: sum((l) => l.price === 'lambdaRequest'),
    lambdaDuration: sum((l) => l.price === 'lambdaDurationMs'),
    orchestration: sum(
      (l) =>
        l.price === 'stepFunctionsStandardTransition' ||
        l.price === 'durableOperation' ||
        l.price === 'durableDataWrittenGb' ||
        l.price === 'durableDataRetainedGbMonth',
    ),
  };
  return { ...parts, total: sumCost(parts) };
}

/** The handler's own compute is the application's and the same in every model: 1 ms is billed. */
const HANDLER_MS = 1;

const A = LAMBDA_ASSUMPTIONS;
/** An ingest function: store the event, read the token or callback id, complete it. */
const INGEST_MS = A.invocationOverheadMs + 2 * A.dynamodbCallMs + A.apiCallMs;
/** A function that stores a task token. */
const REGISTER_MS = A.invocationOverheadMs + A.dynamodbCallMs;
/** A task function: the handler only. */
const TASK_MS = A.invocationOverheadMs + HANDLER_MS;
/** A durable function invocation: replay, store a callback id, checkpoint. */
const DURABLE_MS = A.invocationOverheadMs + A.dynamodbCallMs + A.apiCallMs;

/**
 * Step Functions Standard, callback pattern: one execution per session. A Parallel state has a
 * branch per awaited event; each waits in a Task state with `.waitForTaskToken` whose Lambda
 * stores the token; the ingest function stores the event, reads the token and calls
 * `SendTaskSuccess`; each task is a `lambda:invoke` Task state; an `andEvery` loop adds a
 * Choice per turn.
 *
 * @example
 * const sfn = stepFunctionsModel(shape);
 */
export function stepFunctionsModel(shape: SessionShape): ModelCost {
  const transitions = 1 + shape.waits + shape.taskRuns + shape.loopIterations;
  const lines = [
    line(
      'state transitions',
      transitions,
      'stepFunctionsStandardTransition',
      `1 Parallel + ${shape.waits} callback Task states + ${shape.taskRuns} task Task states + ${shape.loopIterations} loop Choice states`,
    ),
    line(
      'Lambda requests: ingest',
      shape.events,
      'lambdaRequest',
      'each event: store it, read its token, SendTaskSuccess',
    ),
    line(
      'Lambda requests: token registration',
      shape.waits,
      'lambdaRequest',
      'the Task state invokes a function that stores its task token',
    ),
    line('Lambda requests: tasks', shape.taskRuns, 'lambdaRequest', 'one invocation per task'),
    line(
      'Lambda duration: ingest',
      shape.events,
      'lambdaDurationMs',
      `${INGEST_MS} ms each: overhead, a put, a get, SendTaskSuccess`,
      INGEST_MS,
    ),
    line(
      'Lambda duration: token registration',
      shape.waits,
      'lambdaDurationMs',
      `${REGISTER_MS} ms each: overhead, a put`,
      REGISTER_MS,
    ),
    line(
      'Lambda duration: tasks',
      shape.taskRuns,
      'lambdaDurationMs',
      `${TASK_MS} ms each: overhead and the handler`,
      TASK_MS,
    ),
    line(
      'DynamoDB writes: events',
      shape.events,
      'dynamodbWriteRequestUnit',
      'a conditional put per event: idempotency, and events that arrive before their token',
    ),
    line(
      'DynamoDB writes: task tokens',
      shape.waits,
      'dynamodbWriteRequestUnit',
      'a put per token (under 1 KB)',
    ),
    line(
      'DynamoDB reads: token look-ups',
      shape.waits,
      'dynamodbReadRequestUnit',
      'strongly consistent get of the token by the ingest function',
    ),
  ];
  return {
    name: 'Step Functions Standard (callback pattern)',
    lines,
    cost: breakdown(lines),
    assumptions: [
      'One state transition per state entered; the Parallel state counted once. A lower bound:' +
        ' retries, Pass/Succeed states, and buffering events that arrive before their wait state' +
        ' are not counted.',
      'StartExecution and SendTaskSuccess calls carry no charge of their own on Standard' +
        ' workflows; only transitions are billed.',
      "Task handlers' own work is the application's and the same in every model: billed at 1 ms.",
      'Lambda durations use the same per-call latency model as the pipeline (prices.ts).',
      'API Gateway (the same in every model) and CloudWatch Logs are left out.',
    ],
  };
}

/** Bytes of checkpoint data a durable operation is assumed to write. */
const CHECKPOINT_BYTES = 1024;
/** Default retention of a durable execution's history, days. */
const RETENTION_DAYS = 14;

/**
 * Lambda durable functions: one durable execution per session. It awaits a callback per
 * awaited event (the ingest function stores the event, looks up the callback id and completes
 * it), runs each task as a step, and is re-invoked (replayed) once per completed callback.
 *
 * @example
 * const durable = durableFunctionsModel(shape);
 */
export function durableFunctionsModel(shape: SessionShape): ModelCost {
  const operations = shape.waits + shape.taskRuns;
  const invocations = 1 + shape.waits;
  const gbWritten = (operations * CHECKPOINT_BYTES) / 1024 ** 3;
  const lines = [
    line(
      'durable operations',
      operations,
      'durableOperation',
      `${shape.waits} callbacks + ${shape.taskRuns} steps`,
    ),
    line(
      'checkpoint data written, GB',
      gbWritten,
      'durableDataWrittenGb',
      `${CHECKPOINT_BYTES} bytes per operation (assumed)`,
    ),
    line(
      'checkpoint data retained, GB-month',
      (gbWritten * RETENTION_DAYS) / 30,
      'durableDataRetainedGbMonth',
      `default retention of ${RETENTION_DAYS} days`,
    ),
    line(
      'Lambda requests: ingest',
      shape.events,
      'lambdaRequest',
      'each event: store it, look up the callback id, complete the callback',
    ),
    line(
      'Lambda requests: durable function',
      invocations,
      'lambdaRequest',
      'the first invocation and one replay per completed callback',
    ),
    line(
      'Lambda duration: ingest',
      shape.events,
      'lambdaDurationMs',
      `${INGEST_MS} ms each: overhead, a put, a get, completing the callback`,
      INGEST_MS,
    ),
    line(
      'Lambda duration: durable invocations',
      invocations,
      'lambdaDurationMs',
      `${DURABLE_MS} ms each: overhead, storing a callback id, a checkpoint`,
      DURABLE_MS,
    ),
    line(
      'Lambda duration: steps',
      shape.taskRuns,
      'lambdaDurationMs',
      `${HANDLER_MS} ms each: the handler inside the durable invocation`,
      HANDLER_MS,
    ),
    line(
      'DynamoDB writes: events',
      shape.events,
      'dynamodbWriteRequestUnit',
      'a conditional put per event: idempotency, and events that arrive before their callback',
    ),
    line(
      'DynamoDB writes: callback ids',
      shape.waits,
      'dynamodbWriteRequestUnit',
      'a put per callback id, so the ingest function can find it',
    ),
    line(
      'DynamoDB reads: callback look-ups',
      shape.waits,
      'dynamodbReadRequestUnit',
      'strongly consistent get of the callback id',
    ),
  ];
  return {
    name: 'Lambda durable functions',
    lines,
    cost: breakdown(lines),
    assumptions: [
      `Durable operations priced at $${(PRICES.durableOperation.usd * 1e6).toFixed(2)} per million, UNVERIFIED (see prices.ts); data written and retained at assumed rates.`,
      'One operation per callback and per step; starting the execution is not counted as an' +
        ' operation, and each completed callback costs one replay invocation (a lower bound:' +
        ' storing the callback id inside a step would add an operation per wait).',
      "Task handlers' own work is the application's and the same in every model: billed at 1 ms.",
      'Lambda durations use the same per-call latency model as the pipeline (prices.ts).',
      'API Gateway (the same in every model) and CloudWatch Logs are left out.',
    ],
  };
}
