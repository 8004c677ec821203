/**
 * Throughput against the floor: simple sessions end to end with 1, 10 and 100 in flight, next to
 * bare conditional `PutItem` and `SendMessage` calls with the same concurrency, and the latency.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import {
  DISPATCHER_SOURCE,
  EVALUATOR_SOURCE,
  type StreamSourceSettings,
} from '../lib/adapters/aws-lambda/wiring.ts';
import { localAwsConfig } from '../lib/local/emulators.ts';
import { createSessionTable, createTaskQueue } from '../lib/local/provision.ts';
import type { BenchEmulators } from './emulators.ts';
import { BenchRuntime, dropTable, type RunnerSettings } from './runtime.ts';
import { type Distribution, distribution } from './stats.ts';
import { type FunctionName, type InvocationUsage, totals } from './usage.ts';

/** How long a session's task may take before the session counts as stalled. */
const STALL_MS = 180_000;

import type { Workload } from './workloads.ts';

/** One concurrency level's result. */
export interface ThroughputLevel {
  /** Sessions in flight at any moment (each client runs sessions back to back). */
  parallel: number;
  sessions: number;
  events: number;
  tasks: number;
  pipeline: { seconds: number; eventsPerSecond: number; tasksPerSecond: number };
  floor: {
    seconds: number;
    /** Conditional `PutItem` calls per second (one per event). */
    putsPerSecond: number;
    /** `SendMessage` calls per second (one per task). */
    sendsPerSecond: number;
  };
  /**
   * CPU time of the benchmark's own process (the local runner, every SDK client and the
   * in-process SQS emulator; not DynamoDB Local's JVM) per session, pipeline and floor.
   */
  cpuMsPerSession: { pipeline: number; floor: number };
  /** Pipeline events per second over floor puts per second (the same as tasks over sends). */
  ratio: number;
  /** From the last required trigger's acceptance to the handler's start, ms. */
  latencyMs: Distribution;
  /** Records per evaluator invocation. */
  evaluatorBatchSizes: Distribution;
  /** What one session cost under this load (batched across sessions). */
  perSession: {
    dynamodbCalls: number;
    transactions: number;
    sqsRequests: number;
    lambdaInvocations: number;
  };
  /** Sessions whose task had not finished after the stall timeout (a bug, if ever above 0). */
  stalled: number;
  /** Runtime warnings and errors, and stalled sessions' state (the first few). */
  problems: string[];
  problemCount: number;
  /**
   * Where the pipeline's time went, per function: invocations, mean records per invocation, the
   * summed time its invocations were under way over the run's time (`busyShare`, above 1 when
   * they overlap), how many can run at once (`lanes`: stream lanes or queue pollers), and
   * `busyShare / lanes`: near 1, that function is the bottleneck.
   */
  profile: Record<Exclude<FunctionName, 'ingest'>, FunctionProfile>;
}

/** How busy one function was during a throughput run. */
export interface FunctionProfile {
  invocations: number;
  meanRecords: number;
  busyShare: number;
  lanes: number;
  utilisation: number;
}

/** Options of `measureThroughput`. */
export interface ThroughputOptions {
  emulators: BenchEmulators;
  workload: Workload;
  /** Sessions per level, by parallelism. */
  levels: ReadonlyArray<{ parallel: number; sessions: number }>;
  /** The local runner's settings for the pipeline runs. */
  runner?: RunnerSettings;
  /** Called after each finished session (progress). */
  onSession?: () => void;
}

function busy(f: InvocationUsage, seconds: number, lanes: number): FunctionProfile {
  const busyShare = f.billedMs / 1000 / seconds;
  return {
    invocations: f.count,
    meanRecords: f.count === 0 ? 0 : f.records / f.count,
    busyShare,
    lanes,
    utilisation: busyShare / lanes,
  };
}

/** Milliseconds of CPU in a `process.cpuUsage()` difference. */
const cpuMs = (u: NodeJS.CpuUsage) => (u.user + u.system) / 1000;

/** Runs `count` jobs with `parallel` clients, each taking the next job when its last is done. */
async function closedLoop(
  parallel: number,
  count: number,
  job: (i: number) => Promise<void>,
): Promise<number> {
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: Math.min(parallel, count) }, async () => {
      while (next < count) {
        const i = next++;
        await job(i);
      }
    }),
  );
  return (performance.now() - started) / 1000;
}

/** The floor: the same puts and sends as the sessions, with nothing else. */
async function measureFloor(
  emulators: BenchEmulators,
  workload: Workload,
  parallel: number,
  sessions: number,
  onSession?: () => void,
): Promise<{ seconds: number; cpuMs: number }> {
  const ddb = new DynamoDBClient(localAwsConfig(emulators.dynamodbEndpoint));
  const sqs = new SQSClient(localAwsConfig(emulators.sqsEndpoint));
  const run = randomUUID().slice(0, 8);
  const tableName = `triggers-floor-${run}`;
  await createSessionTable(ddb, tableName);
  try {
    const { queueUrl } = await createTaskQueue(sqs, `triggers-floor-${run}`, {
      functionTimeoutSeconds: 3,
    });
    const put = (session: string, trigger: string, kwargs: unknown) =>
      ddb.send(
        new PutItemCommand({
          TableName: tableName,
          Item: {
            pk: { S: `S#${session}` },
            sk: { S: `EVT#${randomUUID()}` },
            kind: { S: 'fire' },
            trigger: { S: trigger },
            kwargs: { S: JSON.stringify(kwargs ?? {}) },
            firedAt: { S: new Date().toISOString() },
          },
          ConditionExpression: 'attribute_not_exists(#sk)',
          ExpressionAttributeNames: { '#sk': 'sk' },
        }),
      );
    const session = async (i: number) => {
      const id = `floor-${run}-${i}`;
      await Promise.all(workload.events.map((e) => put(id, e.trigger, e.kwargs)));
      await sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrl,
          MessageBody: JSON.stringify({ sessionId: id, instance: 't_a#0' }),
        }),
      );
    };
    await closedLoop(parallel, Math.min(parallel, 10), session);
    const cpu = process.cpuUsage();
    const seconds = await closedLoop(parallel, sessions, async (i) => {
      await session(i + 1_000_000);
      onSession?.();
    });
    return { seconds, cpuMs: cpuMs(process.cpuUsage(cpu)) };
  } finally {
    ddb.destroy();
    sqs.destroy();
    await dropTable(emulators.dynamodbEndpoint, tableName);
  }
}

/**
 * Measures pipeline and floor throughput at each level: the floor is the same number of bare
 * conditional `PutItem` and `SendMessage` calls on the same emulators, with the same concurrency.
 * Latency from the last required trigger's acceptance to the handler's start is sampled in the
 * same runs, as are the evaluator's batch sizes. The workload must be a single-task session (the
 * simple session): a session is done when its one task's outcome is committed.
 *
 * @example
 * const levels = await measureThroughput({ emulators, workload: simpleWorkload(), levels: [{ parallel: 10, sessions: 100 }] });
 */
export async function measureThroughput(opts: ThroughputOptions): Promise<ThroughputLevel[]> {
  const out: ThroughputLevel[] = [];
  const { workload } = opts;
  const task = Object.keys(workload.workflow.tasks)[0] as string;
  const taskQueues = new Set(Object.values(workload.workflow.tasks).map((t) => t.using ?? t.run))
    .size;
  const streamLanes = (source: StreamSourceSettings) =>
    opts.runner?.streamParallelization ? source.parallelizationFactor : 1;
  for (const { parallel, sessions } of opts.levels) {
    const floor = await measureFloor(opts.emulators, workload, parallel, sessions, opts.onSession);

    const rt = await BenchRuntime.start({
      workflow: workload.workflow,
      handlers: workload.handlers,
      emulators: opts.emulators,
      ...(opts.runner ? { runner: opts.runner } : {}),
    });
    try {
      const latencies: number[] = [];
      const stalled = new Map<string, string>();
      const run = randomUUID().slice(0, 8);
      const session = async (id: string, sample: boolean) => {
        const accepted = await Promise.all(
          workload.events.map((e) => rt.fire(id, e.trigger, e.kwargs)),
        );
        try {
          await rt.observer.finished(id, `${task}#0`, STALL_MS);
        } catch (err) {
          stalled.set(id, `${(err as Error).message}\n${await rt.diagnose(id)}`);
          return;
        }
        const start = rt.handlerStarts.get(`${id}/${task}#0`);
        if (sample && start !== undefined) latencies.push(start - Math.max(...accepted));
      };
      // Warm-up: JIT and connection pools, as a deployment that has been running.
      await closedLoop(parallel, Math.min(parallel, 10), (i) => session(`warm-${run}-${i}`, false));
      for (let i = 0; i < Math.min(parallel, 10); i++) await rt.observer.quiet(`warm-${run}-${i}`);
      await rt.drain();
      rt.take();

      const cpu = process.cpuUsage();
      const seconds = await closedLoop(parallel, sessions, async (i) => {
        await session(`tp-${run}-${i}`, true);
        opts.onSession?.();
      });
      const pipelineCpuMs = cpuMs(process.cpuUsage(cpu));
      for (let i = 0; i < sessions; i++) {
        const id = `tp-${run}-${i}`;
        if (!stalled.has(id)) await rt.observer.quiet(id, STALL_MS);
      }
      await rt.drain();
      const usage = rt.take();
      const ops = Object.values(usage.dynamodb);
      const calls = {
        all: ops.reduce((n, o) => n + o.calls, 0),
        transactions: ops.reduce((n, o) => n + o.transactions, 0),
      };
      const events = sessions * workload.events.length;
      const eventsPerSecond = events / seconds;
      const putsPerSecond = events / floor.seconds;
      out.push({
        parallel,
        sessions,
        events,
        tasks: sessions - stalled.size,
        pipeline: { seconds, eventsPerSecond, tasksPerSecond: (sessions - stalled.size) / seconds },
        floor: { seconds: floor.seconds, putsPerSecond, sendsPerSecond: sessions / floor.seconds },
        cpuMsPerSession: { pipeline: pipelineCpuMs / sessions, floor: floor.cpuMs / sessions },
        ratio: eventsPerSecond / putsPerSecond,
        latencyMs: distribution(latencies),
        evaluatorBatchSizes: distribution(usage.evaluatorBatchSizes),
        perSession: {
          dynamodbCalls: calls.all / sessions,
          transactions: calls.transactions / sessions,
          sqsRequests: totals(usage).sqsRequests / sessions,
          lambdaInvocations: totals(usage).lambdaInvocations / sessions,
        },
        stalled: stalled.size,
        problems: [
          ...[...stalled.values()].slice(0, 3),
          ...rt.problems.slice(0, 5).map((p) => `${p.level}: ${p.message} ${JSON.stringify(p)}`),
        ],
        problemCount: stalled.size + rt.problems.length,
        profile: {
          evaluator: busy(usage.lambda.evaluator, seconds, streamLanes(EVALUATOR_SOURCE)),
          dispatcher: busy(usage.lambda.dispatcher, seconds, streamLanes(DISPATCHER_SOURCE)),
          task: busy(
            usage.lambda.task,
            seconds,
            Math.max(1, opts.runner?.queuePollers ?? 1) * taskQueues,
          ),
        },
      });
    } finally {
      await rt.close();
    }
  }
  return out;
}
