/**
 * The modeled latency: sessions run one at a time on the local runner set to poll and invoke as
 * AWS does (the AWS latency model), for each dispatch path, measuring how long a ready task and
 * a cascaded task wait for their handlers and how many asynchronous hops they cross.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import type { WorkloadCost } from './cost.ts';
import type { BenchEmulators } from './emulators.ts';
import { BenchRuntime, type RunnerSettings, type WindowPath } from './runtime.ts';
import { type Distribution, distribution } from './stats.ts';
import type { FunctionName } from './usage.ts';
import type { Workload } from './workloads.ts';

/**
 * The AWS latency model: what the local runner is set to when it stands in for AWS's event
 * sources, each value with where it comes from.
 *
 * @example
 * await DynamoRunner.start(registry, handlers, log, { streamPollEveryMs: AWS_LATENCY_MODEL.streamPollEveryMs });
 */
export const AWS_LATENCY_MODEL = {
  /** Each stream source polls its shard on a fixed 250 ms cycle, found records or not. */
  streamPollEveryMs: 250,
  /** Every Lambda invocation waits this long before its handler runs (a warm invocation). */
  invocationOverheadMs: 10,
  sources: {
    streamPollEveryMs:
      'AWS Lambda Developer Guide, "Using AWS Lambda with Amazon DynamoDB" (polling and batching streams): ' +
      'Lambda polls shards in a DynamoDB stream for records at a base rate of 4 times per second ' +
      '(https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html)',
    invocationOverheadMs:
      "An assumption, not a published figure: Lambda's own time to hand a batch to a warm " +
      'execution environment and take its response; cold starts are not modelled',
    queueLongPolling:
      'AWS Lambda Developer Guide, "Configuring scaling behavior for SQS event source mappings": ' +
      'for standard queues Lambda uses long polling and starts with five concurrent batches ' +
      '(https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html); Amazon SQS ' +
      'Developer Guide: long polling consumes messages as soon as they become available ' +
      '(https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/best-practices-using-appropriate-polling-mode.html)',
  },
} as const;

/** A dispatch path: who sends a newly scheduled instance to its task queue. */
export type DispatchMode = 'direct' | 'stream';

/** A count of hops over samples: the median (the common path) and the most seen. */
export interface HopCount {
  p50: number;
  max: number;
}

/** One latency measure over samples, with the hops each sample's window crossed. */
export interface LatencyMeasure {
  latencyMs: Distribution;
  /**
   * Stream-source invocations (evaluator, dispatcher) and task-queue deliveries (task
   * invocations on the handler's queue) that began inside each sample's window, from `onInvoke`.
   */
  hops: { stream: HopCount; queue: HopCount };
  /**
   * Of the latency, the time spent waiting for stream sources to poll (from the window's start,
   * or a stream invocation's end, to the next stream invocation's start); the rest is work and
   * queue delivery.
   */
  pollWaitMs: Distribution;
}

/** What one workload measured under one dispatch path. */
export interface WorkloadLatency {
  workload: string;
  description: string;
  /** Sessions measured (each fired one event at a time, nothing else in flight). */
  sessions: number;
  /** (a) The last required trigger accepted (its ingest put returned) → the handler's start. */
  triggerToHandler?: LatencyMeasure;
  /** (b) A handler returned → the start of the handler of the task waiting for its outcome. */
  handlerToHandler?: LatencyMeasure;
}

/** What a simple session cost under one dispatch path (measured by the cost stage's runner). */
export interface PathCost {
  readUnits: number;
  writeUnits: number;
  awsWriteUnits: number;
  lambdaInvocations: number;
  invocations: Record<FunctionName, number>;
  sqsRequests: number;
  /** Dollars per million simple sessions (modelled Lambda duration). */
  perMillion: number;
}

/** One dispatch path under the AWS latency model. */
export interface DispatchModeLatency {
  dispatch: DispatchMode;
  name: string;
  description: string;
  workloads: WorkloadLatency[];
  simpleSessionCost: PathCost;
  /** Samples lost (a handler that never started) and the runtime's own warnings, the first few. */
  problems: string[];
  problemCount: number;
}

/** The modeled-latency section of a run's results. */
export interface ModeledLatency {
  model: {
    streamPollEveryMs: number;
    invocationOverheadMs: number;
    sources: Record<string, string>;
    settings: { streamParallelization: boolean; queuePollers: number };
    /**
     * About how many (a) samples one runtime gives before it is restarted (fresh pollers at
     * fresh random phases).
     */
    samplesPerRuntime: number;
  };
  note: string;
  /** The deployed path (`direct`) first, then the old one (`stream`). */
  modes: DispatchModeLatency[];
}

/** Options of `measureModeledLatency`. */
export interface ModeledLatencyOptions {
  emulators: BenchEmulators;
  dispatch: DispatchMode;
  /** The workloads and how many sessions of each to measure. */
  workloads: ReadonlyArray<{ workload: Workload; sessions: number }>;
  /** The runner as deployed (parallelization, queue pollers); the model is added to it. */
  runner: RunnerSettings;
  /**
   * About how many (a) samples to take on one runtime before starting a fresh one: each
   * runtime's pollers tick at their own random phase, and restarting keeps one draw of the
   * phases between the two stream sources (stream dispatch) from deciding every sample.
   */
  samplesPerRuntime: number;
  /** Called after each measured session (progress). */
  onSession?: () => void;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The median and the most of integer counts. */
function hopCount(values: readonly number[]): HopCount {
  const d = distribution(values);
  return { p50: d.p50, max: d.max };
}

function measure(
  latencies: readonly number[],
  paths: readonly WindowPath[],
): LatencyMeasure | undefined {
  if (latencies.length === 0) return undefined;
  return {
    latencyMs: distribution(latencies),
    hops: {
      stream: hopCount(paths.map((h) => h.stream)),
      queue: hopCount(paths.map((h) => h.queue)),
    },
    pollWaitMs: distribution(paths.map((h) => h.pollWaitMs)),
  };
}

/** The task queue an instance (`t_a#0`) is sent to. */
function queueOf(workload: Workload, instance: string): string | undefined {
  const task = workload.workflow.tasks[instance.split('#')[0] as string];
  return task ? (task.using ?? task.run) : undefined;
}

/**
 * A simple session's cost as one dispatch path's row.
 *
 * @example
 * const direct = pathCost(simpleCost);
 */
export function pathCost(w: WorkloadCost): PathCost {
  const l = w.usage.lambda;
  return {
    readUnits: w.totals.readUnits,
    writeUnits: w.totals.writeUnits,
    awsWriteUnits: w.totals.awsWriteUnits,
    lambdaInvocations: w.totals.lambdaInvocations,
    invocations: {
      ingest: l.ingest.count,
      evaluator: l.evaluator.count,
      dispatcher: l.dispatcher.count,
      task: l.task.count,
    },
    sqsRequests: w.totals.sqsRequests,
    perMillion: w.perMillion.total,
  };
}

/** Samples of one workload under one path. */
interface Samples {
  a: number[];
  aPaths: WindowPath[];
  b: number[];
  bPaths: WindowPath[];
}

/**
 * Runs one session, an event at a time, each fired once the previous one's work is done. Before
 * an event that readies a task it waits a random part of the stream's poll period, so that the
 * event lands anywhere in the pollers' cycle, as an arrival on AWS does, and not where the end
 * of the previous event's work left it.
 */
async function runSession(
  rt: BenchRuntime,
  workload: Workload,
  id: string,
  samples: Samples | undefined,
  problems: string[],
): Promise<void> {
  for (const e of workload.events) {
    const readies = e.readies ?? [];
    if (samples && readies.length > 0) {
      await sleep(Math.random() * AWS_LATENCY_MODEL.streamPollEveryMs);
    }
    const from = performance.now();
    const accepted = await rt.fire(id, e.trigger, e.kwargs);
    await rt.settled(id);
    if (!samples) continue;
    for (const instance of readies) {
      const start = rt.handlerStarts.get(`${id}/${instance}`);
      if (start === undefined) {
        problems.push(`${workload.name}: ${id}/${instance} never started after '${e.trigger}'`);
        continue;
      }
      samples.a.push(start - accepted);
      // From the fire, not its acceptance: the evaluator may pick the record up before the put's
      // response is handled here.
      samples.aPaths.push(rt.pathBetween(from, start, queueOf(workload, instance)));
    }
  }
  if (!samples) return;
  for (const c of workload.cascades ?? []) {
    const end = rt.handlerEnds.get(`${id}/${c.from}`);
    const start = rt.handlerStarts.get(`${id}/${c.to}`);
    if (end === undefined || start === undefined) {
      problems.push(`${workload.name}: ${id}/${c.to} never started after ${c.from}`);
      continue;
    }
    samples.b.push(start - end);
    samples.bPaths.push(rt.pathBetween(end, start, queueOf(workload, c.to)));
  }
}

/**
 * Measures one dispatch path under the AWS latency model: each workload's sessions run one at a
 * time (one event at a time, nothing else in flight) on the runner as deployed, with the stream
 * sources polling every `AWS_LATENCY_MODEL.streamPollEveryMs` and every invocation paying
 * `AWS_LATENCY_MODEL.invocationOverheadMs`. Reports (a) last required trigger accepted → handler
 * start and (b) handler returned → cascaded handler start, with the hops each crossed.
 *
 * @example
 * const direct = await measureModeledLatency({ emulators, dispatch: 'direct', workloads: [{ workload: simpleWorkload(), sessions: 15 }], runner: DEPLOYED, samplesPerRuntime: 5 });
 */
export async function measureModeledLatency(
  opts: ModeledLatencyOptions,
): Promise<Omit<DispatchModeLatency, 'simpleSessionCost'>> {
  const runner: RunnerSettings = {
    ...opts.runner,
    streamPollEveryMs: AWS_LATENCY_MODEL.streamPollEveryMs,
    invocationOverheadMs: AWS_LATENCY_MODEL.invocationOverheadMs,
    dispatch: opts.dispatch,
  };
  // Samples lost (a handler that never started) and the runtimes' own warnings.
  const lost: string[] = [];
  const warnings: string[] = [];
  let warningCount = 0;
  const workloads: WorkloadLatency[] = [];
  for (const { workload, sessions } of opts.workloads) {
    const samples: Samples = { a: [], aPaths: [], b: [], bPaths: [] };
    const readied = workload.events.reduce((n, e) => n + (e.readies?.length ?? 0), 0);
    const perRuntime = Math.max(1, Math.round(opts.samplesPerRuntime / Math.max(1, readied)));
    let done = 0;
    for (let block = 0; done < sessions; block++) {
      const rt = await BenchRuntime.start({
        workflow: workload.workflow,
        handlers: workload.handlers,
        emulators: opts.emulators,
        runner,
      });
      try {
        // One unmeasured session on the first runtime: JIT and connections, as a deployment
        // that has been running. Later runtimes share the process's warmed-up code.
        if (block === 0) await runSession(rt, workload, `warm-${opts.dispatch}`, undefined, []);
        rt.take();
        for (let i = 0; i < perRuntime && done < sessions; i++, done++) {
          await runSession(rt, workload, `lat-${opts.dispatch}-${done}`, samples, lost);
          rt.take();
          opts.onSession?.();
        }
        warningCount += rt.problems.length;
        warnings.push(
          ...rt.problems.slice(0, 3).map((p) => `${p.level}: ${p.message} ${JSON.stringify(p)}`),
        );
      } finally {
        await rt.close();
      }
    }
    const a = measure(samples.a, samples.aPaths);
    const b = measure(samples.b, samples.bPaths);
    workloads.push({
      workload: workload.name,
      description: workload.description,
      sessions,
      ...(a ? { triggerToHandler: a } : {}),
      ...(b ? { handlerToHandler: b } : {}),
    });
  }
  return {
    dispatch: opts.dispatch,
    name: opts.dispatch === 'direct' ? 'direct dispatch (deployed)' : 'stream dispatch (old path)',
    description:
      opts.dispatch === 'direct'
        ? 'the evaluator sends a scheduled instance to its task queue right after its commit: ingest → stream → evaluator → SQS → task'
        : 'a dispatcher on the table stream sends it: ingest → stream → evaluator → stream → dispatcher → SQS → task',
    workloads,
    problems: [...lost.slice(0, 5), ...warnings.slice(0, 5)],
    problemCount: lost.length + warningCount,
  };
}

/**
 * The modeled-latency section of a run's results: the model with its sources, a note on what it
 * measures, and the dispatch paths measured (the deployed one first).
 *
 * @example
 * const section = modeledLatencySection({ modes: [direct, stream], settings, samplesPerRuntime: 10 });
 */
export function modeledLatencySection(args: {
  modes: DispatchModeLatency[];
  settings: { streamParallelization: boolean; queuePollers: number };
  samplesPerRuntime: number;
}): ModeledLatency {
  const m = AWS_LATENCY_MODEL;
  return {
    model: {
      streamPollEveryMs: m.streamPollEveryMs,
      invocationOverheadMs: m.invocationOverheadMs,
      sources: { ...m.sources },
      settings: args.settings,
      samplesPerRuntime: args.samplesPerRuntime,
    },
    note:
      `The local runner stands in for AWS's event sources: each stream source polls on a fixed ${m.streamPollEveryMs} ms cycle ` +
      `(four polls a second, found records or not), every Lambda invocation waits ${m.invocationOverheadMs} ms before its handler ` +
      'runs (an assumed warm-invocation overhead), task queues are long-polled (a message is picked up as soon as it is visible), ' +
      'stream batches are handed out as deployed. Sessions run one at a time, one event at a time; before an event that readies a ' +
      `task the client waits a random 0-${m.streamPollEveryMs} ms, so it lands anywhere in the polling cycle. ` +
      `Each runtime is restarted after about ${args.samplesPerRuntime} samples, so that its pollers' random phases are drawn again. ` +
      'Hops are the stream-source invocations (evaluator, dispatcher) and task deliveries on the handler’s queue that began inside ' +
      "each sample's window, as the runner reported them. Not modelled: DynamoDB Streams' own propagation delay, cold starts, and " +
      "DynamoDB's and SQS's latency on AWS (here: DynamoDB Local and the SQS emulator on this machine).",
    modes: args.modes,
  };
}
