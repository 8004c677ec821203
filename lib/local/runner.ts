/**
 * The local event-source runner: DynamoDB Local's stream and the SQS emulator's queues driving
 * the Lambda adapters, for the `dynamodb-local` test backend and the local stack.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { CreateQueueCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { sqsSendTask } from '../adapters/aws-lambda/sqs-sender.ts';
import {
  handleDispatcherBatch,
  handleEvaluatorBatch,
  handleLifecycleBatch,
} from '../adapters/aws-lambda/streams.ts';
import { processTaskBatch } from '../adapters/aws-lambda/task-batch.ts';
import {
  DISPATCHER_SOURCE,
  EVALUATOR_SOURCE,
  LIFECYCLE_SOURCE,
  TASK_QUEUE,
} from '../adapters/aws-lambda/wiring.ts';
import { VirtualClock } from '../core/clock.ts';
import type { FaultHook } from '../core/faults.ts';
import { HeldMessages } from '../core/held-messages.ts';
import type { LifecycleEvent } from '../core/lifecycle.ts';
import type { LogSink } from '../core/log.ts';
import type { WorkflowRegistry } from '../core/registry.ts';
import type { SendTask, TaskMessage } from '../core/task-message.ts';
import { getOwn } from '../engine/kwargs.ts';
import { TIMER_QUEUE } from '../engine/workflow.ts';
import { TriggersError } from '../errors.ts';
import { type CapacityEntry, DynamoStore } from '../store/dynamo-store.ts';
import type { TaskHandler } from '../types.ts';
import { localAwsConfig, type RunningEmulators, startEmulators } from './emulators.ts';
import { createSessionTable, createTaskQueue } from './provision.ts';
import { QueuePoller } from './queue-poller.ts';
import { queuesEmpty, waitUntilQuiet } from './quiet.ts';
import { type StreamFailureRecord, StreamPoller } from './stream-poller.ts';

/**
 * The function timeout the local runner assumes for task handlers, in seconds. Short, so that
 * a delivery that crashed comes back soon (visibility timeout 6x, lease 2x).
 */
const FUNCTION_TIMEOUT_SECONDS = 3;

function lambdaContext(name: string): Context {
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: name,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${name}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => FUNCTION_TIMEOUT_SECONDS * 1000,
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** A task message held on the virtual clock, with the queue it goes to once due. */
interface Addressed {
  queue: string;
  message: TaskMessage;
}

/**
 * One invocation of a local stand-in Lambda, as `DynamoRunner.start({ onInvoke })` reports it.
 *
 * @example
 * const seen: LocalInvocation = { fn: 'task', queue: 'passThru', records: 1, durationMs: 4.2 };
 */
export interface LocalInvocation {
  /** The function: the evaluator, the dispatcher, or a task queue's function. */
  fn: 'evaluator' | 'dispatcher' | 'lifecycle' | 'task';
  /** The task queue, for `fn: 'task'`. */
  queue?: string;
  /** Records (stream records or messages) in the invocation's batch. */
  records: number;
  /** Wall-clock time the handler took, in milliseconds (the modelled overhead not included). */
  durationMs: number;
  /** When the invocation began (`performance.now()`), before any modelled overhead. */
  startedAt: number;
}

/** Counts a runner's invocations under way and reports each one that ended. */
class InvocationCounter {
  inFlight = 0;

  constructor(
    private readonly onInvoke: ((invocation: LocalInvocation) => void) | undefined,
    private readonly overheadMs = 0,
  ) {}

  /** Wraps a batch handler so that its invocations are counted and reported. */
  wrap<E extends { Records: readonly unknown[] }, R>(
    fn: LocalInvocation['fn'],
    queue: string | undefined,
    handler: (event: E) => Promise<R>,
  ): (event: E) => Promise<R> {
    return async (event) => {
      this.inFlight += 1;
      const startedAt = performance.now();
      let started = startedAt;
      try {
        if (this.overheadMs > 0) {
          // Lambda's own cost of a warm invocation, before the handler runs.
          await new Promise((resolve) => setTimeout(resolve, this.overheadMs));
          started = performance.now();
        }
        return await handler(event);
      } finally {
        this.inFlight -= 1;
        this.onInvoke?.({
          fn,
          ...(queue !== undefined ? { queue } : {}),
          records: event.Records.length,
          durationMs: performance.now() - started,
          startedAt,
        });
      }
    };
  }
}

/**
 * The `'dynamodb-local'` backend: DynamoDB Local and the SQS emulator (started here, or found
 * through `TRIGGERS_DYNAMODB_ENDPOINT` / `TRIGGERS_SQS_ENDPOINT`), a table and a queue per
 * handler made from the wiring module, and the local event-source runner driving the same
 * evaluator, dispatcher and task-runner code the Lambdas run.
 *
 * One difference from AWS, on purpose: a cooldown is held on the runtime's virtual clock rather
 * than as an SQS `DelaySeconds`, so `settle()` never waits real time for it (`holdDelays: false`,
 * the local stack, sends it with the delay instead).
 *
 * @example
 * const runner = await DynamoRunner.start(new WorkflowRegistry([workflow]), { passThru }, log);
 * await runner.store.putEvent(event);
 * await runner.settle(60_000);
 * await runner.close();
 */
export class DynamoRunner {
  readonly clock = new VirtualClock();
  private readonly pollers: Array<StreamPoller | QueuePoller> = [];
  private readonly queues = new Map<string, { url: string; arn: string }>();
  private readonly held = new HeldMessages<Addressed>({
    clock: this.clock,
    release: (d) => this.send(d.queue, d.message, 0),
    quiet: (deadline) => this.quietBefore(deadline),
  });
  private sends = 0;
  private sending = 0;
  private readonly invocations: InvocationCounter;
  private readonly sqsSend: SendTask;
  /** The queue the stream sources send batches to once their retries are spent. */
  streamFailuresUrl = '';

  private constructor(
    readonly store: DynamoStore,
    private readonly emulators: RunningEmulators,
    private readonly sqs: SQSClient,
    private readonly holdDelays: boolean,
    onInvoke?: (invocation: LocalInvocation) => void,
    invocationOverheadMs?: number,
  ) {
    this.invocations = new InvocationCounter(onInvoke, invocationOverheadMs);
    this.sqsSend = sqsSendTask({
      sqs,
      clock: this.clock,
      queueUrl: (queue) => {
        const q = this.queues.get(queue);
        if (!q) throw new TriggersError(`no queue for '${queue}'`, { code: 'NO_QUEUE' });
        return q.url;
      },
    });
  }

  /** Starts (or finds) the emulators, provisions a table and queues, and starts polling. */
  static async start(
    registry: WorkflowRegistry,
    handlers: Readonly<Record<string, TaskHandler>>,
    log: LogSink,
    opts: {
      faults?: FaultHook;
      meter?: (entry: CapacityEntry) => void;
      /**
       * Hold cooldowns on the virtual clock (the test runtime) rather than send them with an
       * SQS delay (the local stack). @default true
       */
      holdDelays?: boolean;
      /** Called after every local Lambda invocation (benchmarks). @default - none */
      onInvoke?: (invocation: LocalInvocation) => void;
      /** Pause of the stream pollers between polls that found nothing, in ms. @default 25 */
      streamPollIntervalMs?: number;
      /**
       * Poll the stream at a fixed rate, as Lambda's stream sources do (250: four times a second),
       * instead of again at once after records and `streamPollIntervalMs` after nothing
       * (benchmarks: the AWS latency model). @default - off
       */
      streamPollEveryMs?: number;
      /**
       * Wait this long before each local Lambda invocation runs its handler: the overhead of a
       * warm invocation (benchmarks: the AWS latency model). @default 0
       */
      invocationOverheadMs?: number;
      /**
       * Who sends a newly scheduled instance to its queue. `'direct'`: the evaluator, right after
       * its commit, as deployed. `'stream'`: a dispatcher on the table's stream, the path before
       * direct dispatch (one stream hop more), kept for `persistDir` (the SQS emulator keeps no
       * messages across restarts, and the dispatcher re-sends every scheduled instance it reads
       * from the stream's start) and for the benchmark's comparison.
       * @default 'direct', or 'stream' with `persistDir`
       */
      dispatch?: 'direct' | 'stream';
      /**
       * Hand each stream source's batches to its handler concurrently, up to the wiring's
       * `parallelizationFactor`, as Lambda does. @default false - one batch at a time
       */
      streamParallelization?: boolean;
      /** Concurrent pollers per task queue (Lambda starts with five). @default 1 */
      queuePollers?: number;
      /**
       * Keep DynamoDB Local's data in this directory, under fixed table and queue names, so a
       * restart finds its sessions again (the stream is read from its start: work that was
       * pending is dispatched again, finished work is not run twice). @default - in memory,
       * with fresh names per start
       */
      persistDir?: string;
      /**
       * Receives the lifecycle events, in order per session: the evaluator notes what it does
       * and a lifecycle source on the stream (the construct's `lifecycleEvents` publisher, with
       * this sink instead of EventBridge) reads them back. `settle` waits for it.
       * @default - none: no notes, no lifecycle source
       */
      onLifecycle?: (events: readonly LifecycleEvent[]) => void | Promise<void>;
      /**
       * Give the table the stale index and have the store keep it (what `staleSessions` turns
       * on in the construct), so that stale sessions can be listed. @default false
       */
      staleIndex?: boolean;
    } = {},
  ): Promise<DynamoRunner> {
    const emulators = await startEmulators(
      process.env,
      opts.persistDir !== undefined ? { dynamodb: { dbPath: opts.persistDir } } : {},
    );
    try {
      const ddb = new DynamoDBClient(localAwsConfig(emulators.dynamodbEndpoint));
      const sqs = new SQSClient(localAwsConfig(emulators.sqsEndpoint));
      const run = opts.persistDir !== undefined ? 'local' : randomUUID().slice(0, 8);
      const tableName = `triggers-test-${run}`;
      const stale = opts.staleIndex === true ? { staleIndex: true } : {};
      const { streamArn } = await createSessionTable(ddb, tableName, stale);
      const runner: DynamoRunner = new DynamoRunner(
        new DynamoStore({
          tableName,
          client: ddb,
          ...stale,
          ...(opts.meter ? { meter: opts.meter } : {}),
        }),
        emulators,
        sqs,
        opts.holdDelays ?? true,
        opts.onInvoke,
        opts.invocationOverheadMs,
      );

      // Timers are built-in tasks of the timers queue: it exists when a workflow has timers.
      for (const name of registry.queues()) {
        const q = await createTaskQueue(
          sqs,
          `triggers-${run}-${name.replace(/[^A-Za-z0-9_-]/g, '_')}`,
          {
            functionTimeoutSeconds: FUNCTION_TIMEOUT_SECONDS,
          },
        );
        runner.queues.set(name, { url: q.queueUrl, arn: q.queueArn });
      }

      // The stream sources' on-failure destination, as the construct's StreamFailures queue.
      const failures = await sqs.send(
        new CreateQueueCommand({ QueueName: `triggers-${run}-stream-failures` }),
      );
      runner.streamFailuresUrl = failures.QueueUrl as string;
      const onFailure = async (record: StreamFailureRecord): Promise<void> => {
        await sqs.send(
          new SendMessageCommand({
            QueueUrl: runner.streamFailuresUrl,
            MessageBody: JSON.stringify(record),
          }),
        );
      };

      const streams = new DynamoDBStreamsClient(localAwsConfig(emulators.dynamodbEndpoint));
      const faults = opts.faults ? { faults: opts.faults } : {};
      const deps = { store: runner.store, registry, clock: runner.clock, log, ...faults };
      const dispatch = opts.dispatch ?? (opts.persistDir !== undefined ? 'stream' : 'direct');
      const pollInterval = {
        ...(opts.streamPollIntervalMs !== undefined
          ? { pollIntervalMs: opts.streamPollIntervalMs }
          : {}),
        ...(opts.streamPollEveryMs !== undefined ? { pollEveryMs: opts.streamPollEveryMs } : {}),
      };
      /** One stream source: the evaluator's or the dispatcher's, with the same options. */
      const streamSource = (
        functionName: 'evaluator' | 'dispatcher' | 'lifecycle',
        settings: typeof EVALUATOR_SOURCE,
        handle: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | undefined>,
      ) =>
        new StreamPoller({
          client: streams,
          streamArn,
          settings,
          onFailure,
          functionName,
          ...(opts.streamParallelization
            ? { parallelization: settings.parallelizationFactor }
            : {}),
          handler: runner.invocations.wrap(functionName, undefined, handle),
          ...pollInterval,
          log,
        });
      const lifecycle = opts.onLifecycle;
      const evaluatorDeps = {
        ...deps,
        ...(dispatch === 'direct' ? { send: runner.send } : {}),
        ...(lifecycle ? { lifecycle: true } : {}),
      };
      runner.pollers.push(
        streamSource('evaluator', EVALUATOR_SOURCE, (event) =>
          handleEvaluatorBatch(evaluatorDeps, event),
        ),
      );
      if (lifecycle) {
        const publish = async (events: readonly LifecycleEvent[]) => {
          await lifecycle(events);
        };
        runner.pollers.push(
          streamSource('lifecycle', LIFECYCLE_SOURCE, (event) =>
            handleLifecycleBatch(
              { registry, store: runner.store, publish, log, clock: runner.clock },
              event,
            ),
          ),
        );
      }
      if (dispatch === 'stream') {
        runner.pollers.push(
          streamSource('dispatcher', DISPATCHER_SOURCE, (event) =>
            handleDispatcherBatch(runner.send, event, faults),
          ),
        );
      }
      const pollersPerQueue = Math.max(1, opts.queuePollers ?? 1);
      const queuePollers = [...runner.queues].flatMap((q) => Array(pollersPerQueue).fill(q));
      for (const [name, q] of queuePollers as Array<[string, { url: string; arn: string }]>) {
        runner.pollers.push(
          new QueuePoller({
            client: sqs,
            queueUrl: q.url,
            queueArn: q.arn,
            batchSize: TASK_QUEUE.batchSize,
            handler: runner.invocations.wrap('task', name, (event) =>
              processTaskBatch(
                {
                  ...deps,
                  send: runner.send,
                  handlerFor: (handler) => getOwn(handlers, handler),
                  leaseSeconds: TASK_QUEUE.leaseSeconds(FUNCTION_TIMEOUT_SECONDS),
                },
                event,
                lambdaContext(`task-${name}`),
              ),
            ),
            log,
          }),
        );
      }
      for (const p of runner.pollers) p.start();
      return runner;
    } catch (err) {
      await emulators.stop();
      throw err;
    }
  }

  private readonly send: SendTask = async (queue, message, delaySeconds) => {
    if (delaySeconds > 0 && this.holdDelays) {
      // A timer's message is held until the clock's moving (`advance`) makes it due.
      this.held.hold({ queue, message }, delaySeconds, queue === TIMER_QUEUE);
      return;
    }
    this.sending += 1;
    try {
      // As on AWS: a delay over SQS's 15 minutes is sent on again by the task runner until
      // the message's `notBefore`.
      await this.sqsSend(queue, message, delaySeconds);
      this.sends += 1;
    } finally {
      this.sending -= 1;
    }
  };

  private activity(): number {
    return this.pollers.reduce((n, p) => n + p.deliveredCount, this.sends);
  }

  /**
   * Waits until nothing moves (see `quietBefore`), then moves the virtual clock to the earliest
   * held cooldown, if any, and goes on.
   */
  settle(timeoutMs: number): Promise<void> {
    return this.held.settle(timeoutMs);
  }

  /**
   * Moves the virtual clock forward by `seconds`, a due timer or cooldown at a time (each
   * settled before the next), so that what falls due fires in time order; then settles.
   */
  advance(seconds: number, timeoutMs: number): Promise<void> {
    return this.held.advance(seconds, timeoutMs);
  }

  /**
   * Resolves once nothing moves: every poller found nothing on its last pass and holds no batch,
   * no send is under way, the queues are empty, and the delivered counts stood still for three
   * checks in a row. Rejects with `SettleTimeoutError` once `deadline` passes.
   */
  private quietBefore(deadline: number): Promise<void> {
    return waitUntilQuiet(deadline, {
      activity: () => this.activity(),
      idle: async () =>
        this.sending === 0 &&
        this.pollers.every((p) => p.idle) &&
        (await queuesEmpty(
          this.sqs,
          [...this.queues.values()].map((q) => q.url),
        )),
      timedOut: () =>
        'settle() timed out with work still in flight (a handler that never returns?)',
    });
  }

  /** Local Lambda invocations (evaluator, dispatcher, task batches) under way right now. */
  get invocationsInFlight(): number {
    return this.invocations.inFlight;
  }

  /** The DynamoDB endpoint in use. */
  get dynamodbEndpoint(): string {
    return this.emulators.dynamodbEndpoint;
  }

  /** The SQS endpoint in use. */
  get sqsEndpoint(): string {
    return this.emulators.sqsEndpoint;
  }

  /** Stops the pollers and every emulator it started. */
  async close(): Promise<void> {
    await Promise.all(this.pollers.map((p) => p.stop()));
    this.held.clear();
    await this.emulators.stop();
  }
}
