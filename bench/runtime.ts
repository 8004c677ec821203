/**
 * One benchmark runtime: a workflow and its handlers on the local event-source runner, over
 * DynamoDB Local and the SQS emulator, with every cost and timing the benchmark reports collected.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { fireEvent, type IngestDeps } from '../lib/core/ingest.ts';
import type { LogEntry } from '../lib/core/log.ts';
import { WorkflowRegistry } from '../lib/core/registry.ts';
import { SettleTimeoutError } from '../lib/errors.ts';
import { localAwsConfig } from '../lib/local/emulators.ts';
import { DynamoRunner, type LocalInvocation } from '../lib/local/runner.ts';
import type { CapacityEntry } from '../lib/store/dynamo-store.ts';
import type { Kwargs, TaskHandler, Workflow } from '../lib/types.ts';
import { type BenchEmulators, type SqsCounts, sqsDelta } from './emulators.ts';
import { StoreObserver, type WriteEstimate } from './observer.ts';
import { emptyLambda, type OperationUsage, type Usage } from './usage.ts';

/**
 * Deletes a table on DynamoDB Local.
 *
 * @example
 * await dropTable(emulators.dynamodbEndpoint, 'triggers-floor-1a2b3c4d');
 */
export async function dropTable(endpoint: string, tableName: string): Promise<void> {
  const ddb = new DynamoDBClient(localAwsConfig(endpoint));
  try {
    await ddb.send(new DeleteTableCommand({ TableName: tableName }));
  } finally {
    ddb.destroy();
  }
}

/** Options of `BenchRuntime.start`. */
export interface BenchRuntimeOptions {
  workflow: Workflow;
  handlers: Record<string, TaskHandler>;
  emulators: BenchEmulators;
  /** Settings of the local event-source runner. @default - the runner's defaults */
  runner?: RunnerSettings;
}

/** The local runner's concurrency, polling and dispatch settings a benchmark may choose. */
export interface RunnerSettings {
  /** The stream pollers' pause between empty polls, ms. @default 25 */
  readonly streamPollIntervalMs?: number;
  /**
   * Poll the stream at a fixed rate instead, as Lambda's stream sources do (the AWS latency
   * model), ms. @default - off
   */
  readonly streamPollEveryMs?: number;
  /** Each local Lambda invocation waits this long before its handler runs, ms. @default 0 */
  readonly invocationOverheadMs?: number;
  /**
   * Who sends a scheduled instance to its queue: the evaluator after its commit (`'direct'`, as
   * deployed) or a dispatcher on the table's stream (`'stream'`, the path before).
   * @default 'direct'
   */
  readonly dispatch?: 'direct' | 'stream';
  /** Stream batches concurrently up to the wiring's `parallelizationFactor`. @default false */
  readonly streamParallelization?: boolean;
  /** Concurrent pollers per task queue. @default 1 */
  readonly queuePollers?: number;
}

/** The asynchronous hops a window crossed and how long it waited for stream polls. */
export interface WindowPath {
  /** Stream-source invocations (evaluator, dispatcher) that began in the window. */
  stream: number;
  /** Task-queue deliveries (task invocations) that began in the window. */
  queue: number;
  /** Time the window spent waiting for a stream source to poll, ms. */
  pollWaitMs: number;
}

/**
 * A workflow running on the local stack (the same evaluator, task-runner and, with stream
 * dispatch, dispatcher code the Lambdas run, on the local event-source runner), instrumented: DynamoDB capacity (the store's
 * meter), Lambda invocations and their durations (the runner's `onInvoke` hook), SQS requests
 * (counted by the emulator), handler start times, and when each session is quiet (a
 * `StoreObserver`).
 *
 * @example
 * const rt = await BenchRuntime.start({ workflow, handlers, emulators });
 * await rt.fire('s1', 'x');
 * await rt.observer.quiet('s1');
 * const usage = rt.take();
 * await rt.close();
 */
export class BenchRuntime {
  /** Follows sessions through the store's writes. */
  readonly observer: StoreObserver;
  /** When each handler started (`performance.now()`), by `session/instance`. */
  readonly handlerStarts = new Map<string, number>();
  /** When each handler returned or threw (`performance.now()`), by `session/instance`. */
  readonly handlerEnds = new Map<string, number>();
  /** The runtime's own warnings and errors (failed evaluations, dropped records, ...). */
  readonly problems: LogEntry[] = [];
  private capacity: CapacityEntry[] = [];
  private invocations: LocalInvocation[] = [];
  private ingest: number[] = [];
  private handlerRuns = 0;
  private sqsMark: SqsCounts;
  private readonly deps: IngestDeps;

  private constructor(
    private readonly runner: DynamoRunner,
    private readonly emulators: BenchEmulators,
    registry: WorkflowRegistry,
    /** The modelled overhead of each invocation, ms (not in its reported duration). */
    private readonly overheadMs: number,
  ) {
    this.observer = new StoreObserver(runner.store);
    this.deps = { store: runner.store, registry, clock: runner.clock };
    this.sqsMark = emulators.sqsCounts();
  }

  /** Provisions a table and queues on the emulators and starts the local runner. */
  static async start(opts: BenchRuntimeOptions): Promise<BenchRuntime> {
    const registry = new WorkflowRegistry([opts.workflow]);
    let self: BenchRuntime | undefined;
    const handlers: Record<string, TaskHandler> = {};
    for (const [name, handler] of Object.entries(opts.handlers)) {
      handlers[name] = async (ctx) => {
        const key = `${ctx.sessionId}/${ctx.instance}`;
        self?.handlerStarts.set(key, performance.now());
        if (self) self.handlerRuns += 1;
        try {
          return await handler(ctx);
        } finally {
          self?.handlerEnds.set(key, performance.now());
        }
      };
    }
    const env = {
      TRIGGERS_DYNAMODB_ENDPOINT: process.env.TRIGGERS_DYNAMODB_ENDPOINT,
      TRIGGERS_SQS_ENDPOINT: process.env.TRIGGERS_SQS_ENDPOINT,
    };
    // The runner finds its endpoints in the environment; point it at this run's emulators.
    process.env.TRIGGERS_DYNAMODB_ENDPOINT = opts.emulators.dynamodbEndpoint;
    process.env.TRIGGERS_SQS_ENDPOINT = opts.emulators.sqsEndpoint;
    let runner: DynamoRunner;
    try {
      runner = await DynamoRunner.start(
        registry,
        handlers,
        (entry) => {
          // Handlers' own logs are the application's; only the runtime's problems are kept.
          if ((entry.level === 'warn' || entry.level === 'error') && !('instance' in entry)) {
            self?.problems.push(entry);
          }
        },
        {
          meter: (entry) => self?.capacity.push(entry),
          onInvoke: (invocation) => self?.invocations.push(invocation),
          ...opts.runner,
        },
      );
    } finally {
      for (const [key, value] of Object.entries(env)) {
        if (value === undefined) Reflect.deleteProperty(process.env, key);
        else process.env[key] = value;
      }
    }
    self = new BenchRuntime(
      runner,
      opts.emulators,
      registry,
      opts.runner?.invocationOverheadMs ?? 0,
    );
    return self;
  }

  /**
   * Fires a trigger through the ingest flow (what the ingest Lambda runs) and resolves with the
   * moment it was accepted (`performance.now()`).
   */
  async fire(sessionId: string, trigger: string, kwargs?: Kwargs): Promise<number> {
    const started = performance.now();
    await fireEvent(this.deps, { sessionId, trigger, ...(kwargs !== undefined ? { kwargs } : {}) });
    const accepted = performance.now();
    this.ingest.push(accepted - started);
    return accepted;
  }

  /**
   * Waits until no local Lambda invocation and no SQS request (long polls aside) is under way,
   * three checks in a row: the bookkeeping that follows a session's last write (the invocation's
   * end, the message's delete) is then counted.
   */
  async drain(timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let calm = 0;
    while (calm < 3) {
      if (Date.now() > deadline)
        throw new SettleTimeoutError(`work still under way after ${timeoutMs} ms`);
      await new Promise((resolve) => setTimeout(resolve, 5));
      const busy = this.runner.invocationsInFlight > 0 || this.emulators.sqsInFlight() > 0;
      calm = busy ? 0 : calm + 1;
    }
  }

  /** Waits until the session is quiet and its bookkeeping is counted (`drain`). */
  async settled(sessionId: string, timeoutMs = 120_000): Promise<void> {
    try {
      await this.observer.quiet(sessionId, timeoutMs);
    } catch (err) {
      const timeout = new SettleTimeoutError(
        `${(err as Error).message}\n${await this.diagnose(sessionId)}`,
      );
      timeout.cause = err;
      throw timeout;
    }
    await this.drain();
  }

  /**
   * The asynchronous hops that began in a window: stream-source invocations (evaluator,
   * dispatcher) and task-queue deliveries (task invocations, of `queue` only when given) whose
   * `startedAt` lies in `[from, to]`, and how long the window waited for stream polls: from its
   * start to the first stream invocation's start, plus from each stream invocation's end to the
   * next one's start. Reads the invocations reported since the last `take()`; an invocation is
   * reported when it ends, so call it once the work is settled.
   */
  pathBetween(from: number, to: number, queue?: string): WindowPath {
    const inside = this.invocations
      .filter((i) => i.startedAt >= from && i.startedAt <= to)
      .sort((a, b) => a.startedAt - b.startedAt);
    const stream = inside.filter((i) => i.fn === 'evaluator' || i.fn === 'dispatcher');
    let pollWaitMs = 0;
    let ready = from;
    for (const i of stream) {
      pollWaitMs += Math.max(0, i.startedAt - ready);
      ready = i.startedAt + this.overheadMs + i.durationMs;
    }
    return {
      stream: stream.length,
      queue: inside.filter((i) => i.fn === 'task' && (queue === undefined || i.queue === queue))
        .length,
      pollWaitMs,
    };
  }

  /** What was consumed since the last `take()` (or the start), and starts counting afresh. */
  take(): Usage {
    const capacity = this.capacity.splice(0);
    const invocations = this.invocations.splice(0);
    const writes: WriteEstimate[] = this.observer.takeWrites();
    const dynamodb: Record<string, OperationUsage> = {};
    const row = (op: string): OperationUsage => {
      dynamodb[op] ??= { calls: 0, readUnits: 0, writeUnits: 0, awsWriteUnits: 0, transactions: 0 };
      return dynamodb[op];
    };
    for (const e of capacity) {
      const r = row(e.operation);
      r.calls += 1;
      r.readUnits += e.readUnits;
      r.writeUnits += e.writeUnits;
    }
    for (const w of writes) {
      const r = row(w.operation);
      r.awsWriteUnits += w.awsWriteUnits;
      if (w.transactional) r.transactions += 1;
    }
    const lambda = emptyLambda();
    for (const ms of this.ingest.splice(0)) {
      lambda.ingest.count += 1;
      lambda.ingest.records += 1;
      lambda.ingest.billedMs += Math.ceil(ms);
    }
    for (const inv of invocations) {
      // The benchmarks run without lifecycle events: no lifecycle source polls.
      if (inv.fn === 'lifecycle') continue;
      const f = lambda[inv.fn];
      f.count += 1;
      f.records += inv.records;
      f.billedMs += Math.ceil(inv.durationMs);
    }
    const now = this.emulators.sqsCounts();
    const sqs = sqsDelta(this.sqsMark, now);
    this.sqsMark = now;
    const handlerRuns = this.handlerRuns;
    this.handlerRuns = 0;
    return {
      dynamodb,
      lambda,
      sqs,
      evaluatorBatchSizes: invocations.filter((i) => i.fn === 'evaluator').map((i) => i.records),
      handlerRuns,
    };
  }

  /**
   * What a session looks like in the store, with the runtime's problems so far: for the message
   * of a run that stalls. Its reads are metered like any other.
   */
  async diagnose(sessionId: string): Promise<string> {
    const instances = await this.runner.store.listInstances(sessionId);
    const head = await this.runner.store.getHead(sessionId);
    const problems = this.problems
      .slice(0, 5)
      .map((p) => `${p.level}: ${p.message} ${JSON.stringify(p)}`);
    return [
      `instances: ${JSON.stringify(instances.map((i) => ({ name: i.name, status: i.status, updatedAt: i.updatedAt, leaseUntil: i.leaseUntil })))}`,
      `head: ${head ? JSON.stringify(head.state) : 'none'}`,
      `runtime problems (${this.problems.length}): ${problems.join(' | ') || 'none'}`,
    ].join('\n');
  }

  /**
   * Stops the runner's pollers and deletes its table, so that DynamoDB Local does not carry
   * this runtime's items and stream into the next measurement (the emulators stay up).
   */
  async close(): Promise<void> {
    await this.runner.close();
    await dropTable(this.emulators.dynamodbEndpoint, this.runner.store.tableName);
  }
}
