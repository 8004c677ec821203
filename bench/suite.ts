/**
 * The benchmark suite: cost per workflow, flatness, throughput against the floor, latency on the
 * local runner and under the AWS latency model (both dispatch paths), on the local stack, judged
 * against the project's targets and written as JSON, Markdown and SVG.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EVALUATOR_SOURCE } from '../lib/adapters/aws-lambda/wiring.ts';
import { measureWorkloadCost } from './cost.ts';
import { type BenchEmulators, startBenchEmulators } from './emulators.ts';
import { measurePagesSession } from './flatness.ts';
import {
  type DispatchMode,
  type DispatchModeLatency,
  measureModeledLatency,
  modeledLatencySection,
  pathCost,
} from './latency.ts';
import { LAMBDA_ASSUMPTIONS, PRICES } from './prices.ts';
import { progress as makeProgress } from './progress.ts';
import { writeResults } from './report.ts';
import type { BenchResults, ThroughputConfiguration } from './run-results.ts';
import type { RunnerSettings } from './runtime.ts';
import { judgeTargets } from './targets.ts';
import { measureThroughput, type ThroughputLevel } from './throughput.ts';
import { chainWorkload, simpleWorkload, surveyWorkload } from './workloads.ts';

/** Options of `runBench`. */
export interface BenchOptions {
  /** The CI-sized run: fewer sessions, flatness up to 1,000 events. @default false */
  quick?: boolean;
  /** Where the results go. @default - `bench/results` of this checkout */
  outDir?: string;
  /** Progress bars (or lines, off a terminal). @default true */
  progress?: boolean;
  /** A DynamoDB Local endpoint already running. @default - one is started and stopped */
  dynamodbEndpoint?: string;
}

/** The stream pollers' pause after a poll that found nothing (the runner's default). */
const STREAM_POLL_INTERVAL_MS = 25;
/**
 * The local runner as deployed: the wiring's parallelization factor, several queue pollers, the
 * evaluator sending what it scheduled (direct dispatch).
 */
const DEPLOYED = {
  streamPollIntervalMs: STREAM_POLL_INTERVAL_MS,
  streamParallelization: true,
  queuePollers: 5,
  dispatch: 'direct',
} as const satisfies RunnerSettings;
/** The local runner's defaults: one batch at a time per stream, one poller per queue. */
const SERIAL = {
  streamPollIntervalMs: STREAM_POLL_INTERVAL_MS,
  streamParallelization: false,
  queuePollers: 1,
  dispatch: 'direct',
} as const satisfies RunnerSettings;
/** The dispatch paths the modeled-latency stage compares: the deployed one first. */
const DISPATCH_MODES: readonly DispatchMode[] = ['direct', 'stream'];

/** How much each mode runs. */
const PLANS = {
  full: {
    simple: { sessions: 5, warmups: 2 },
    survey: { sessions: 3, warmups: 2 },
    pages: {
      pacedUpTo: 1000,
      sessionLengths: [10, 100, 1000],
      flatnessAt: [10, 100, 1000, 10_000],
      burst: 500,
    },
    throughput: [
      { parallel: 1, sessions: 30 },
      { parallel: 10, sessions: 200 },
      { parallel: 100, sessions: 500 },
    ],
    serialToo: true,
    modeled: { simple: 100, chain: 100, survey: 10, samplesPerRuntime: 10 },
  },
  quick: {
    simple: { sessions: 1, warmups: 1 },
    survey: { sessions: 1, warmups: 1 },
    pages: { pacedUpTo: 10, sessionLengths: [10], flatnessAt: [10, 100, 1000], burst: 1000 },
    throughput: [
      { parallel: 1, sessions: 3 },
      { parallel: 10, sessions: 20 },
      { parallel: 100, sessions: 100 },
    ],
    serialToo: false,
    modeled: { simple: 15, chain: 15, survey: 2, samplesPerRuntime: 5 },
  },
} as const;

/**
 * `bench/results` of this checkout.
 *
 * @example
 * await runBench({ outDir: DEFAULT_OUT_DIR });
 */
export const DEFAULT_OUT_DIR = join(dirname(fileURLToPath(import.meta.url)), 'results');

/**
 * Runs the benchmark and writes `latest.json`, `latest.md` and the SVG charts.
 *
 * @example
 * const results = await runBench({ quick: true, outDir: '/tmp/bench' });
 * results.targets.every((t) => t.pass);
 */
export async function runBench(opts: BenchOptions = {}): Promise<BenchResults> {
  const mode = opts.quick ? 'quick' : 'full';
  const plan = PLANS[mode];
  const show = makeProgress(opts.progress ?? true);
  const startedAt = new Date().toISOString();
  const began = performance.now();
  const loadBefore = loadavg()[0] ?? 0;
  // Each stage gets fresh emulators: DynamoDB Local slows down as it accumulates the streams of
  // earlier stages' tables, even deleted ones, and a stage should not pay for another's history.
  const fresh = <T>(stage: (emulators: BenchEmulators) => Promise<T>): Promise<T> =>
    withEmulators(opts.dynamodbEndpoint, stage);
  const simple = simpleWorkload();
  const survey = surveyWorkload();
  const chain = chainWorkload();
  const costEvents =
    2 * (plan.simple.sessions + plan.simple.warmups) * simple.events.length +
    (plan.survey.sessions + plan.survey.warmups) * survey.events.length;
  let stage = show.stage('cost per workflow', costEvents);
  const [simpleCost, surveyCost, simpleStreamCost] = await fresh(async (emulators) => [
    await measureWorkloadCost({
      emulators,
      workload: simple,
      ...plan.simple,
      runner: DEPLOYED,
      onEvent: () => stage.tick(),
    }),
    await measureWorkloadCost({
      emulators,
      workload: survey,
      ...plan.survey,
      runner: DEPLOYED,
      onEvent: () => stage.tick(),
    }),
    // The old path's hidden cost, in the same run: the dispatcher's invocations and reads.
    await measureWorkloadCost({
      emulators,
      workload: simple,
      ...plan.simple,
      runner: { ...DEPLOYED, dispatch: 'stream' },
      onEvent: () => stage.tick(),
    }),
  ]);
  stage.done(
    `simple: ${simpleCost.totals.writeUnits} write, ${simpleCost.totals.readUnits} read units, ` +
      `${simpleCost.totals.lambdaInvocations} invocations (old path: ${simpleStreamCost.totals.lambdaInvocations}); ` +
      `$${simpleCost.perMillion.total.toFixed(2)} per million vs $${simpleCost.stepFunctions.perMillion.total.toFixed(2)} on Step Functions`,
  );

  const configurations: ThroughputConfiguration[] = [];
  const configs = [
    {
      name: 'as deployed',
      description: `the wiring's parallelization factor (${EVALUATOR_SOURCE.parallelizationFactor} concurrent batches per stream shard, records of one session in order) and ${DEPLOYED.queuePollers} pollers per task queue, as Lambda's event sources run`,
      settings: DEPLOYED,
    },
    ...(plan.serialToo
      ? [
          {
            name: 'serial local runner',
            description:
              "the local runner's defaults: one batch at a time per stream, one poller per queue",
            settings: SERIAL,
          },
        ]
      : []),
  ];
  for (const config of configs) {
    const sessions = plan.throughput.reduce((n, l) => n + 2 * l.sessions, 0);
    stage = show.stage(`throughput: ${config.name}`, sessions);
    const levels: ThroughputLevel[] = [];
    for (const level of plan.throughput) {
      const [measured] = await fresh((emulators) =>
        measureThroughput({
          emulators,
          workload: simple,
          levels: [level],
          runner: config.settings,
          onSession: () => stage.tick(),
        }),
      );
      if (measured) levels.push(measured);
    }
    configurations.push({
      ...config,
      settings: {
        streamParallelization: config.settings.streamParallelization,
        queuePollers: config.settings.queuePollers,
      },
      levels,
    });
    stage.done(levels.map((l) => `${l.parallel}: ${l.ratio.toFixed(2)} of the floor`).join(', '));
  }
  const lastPage = Math.max(plan.pages.pacedUpTo, ...plan.pages.flatnessAt);
  stage = show.stage('andEvery session, flatness', lastPage);
  const pages = await fresh((emulators) =>
    measurePagesSession({
      emulators,
      ...plan.pages,
      runner: DEPLOYED,
      onPages: (n) => stage.tick(n),
    }),
  );
  stage.done(
    pages.points.map((p) => `${p.length}: ${p.readUnits} R / ${p.writeUnits} W`).join(', '),
  );

  const modes: DispatchModeLatency[] = [];
  const modeled = plan.modeled;
  for (const dispatch of DISPATCH_MODES) {
    stage = show.stage(
      `AWS latency model: ${dispatch}`,
      modeled.simple + modeled.chain + modeled.survey,
    );
    const measured = await fresh((emulators) =>
      measureModeledLatency({
        emulators,
        dispatch,
        workloads: [
          { workload: simple, sessions: modeled.simple },
          { workload: chain, sessions: modeled.chain },
          { workload: survey, sessions: modeled.survey },
        ],
        runner: DEPLOYED,
        samplesPerRuntime: modeled.samplesPerRuntime,
        onSession: () => stage.tick(),
      }),
    );
    modes.push({
      ...measured,
      simpleSessionCost: pathCost(dispatch === 'direct' ? simpleCost : simpleStreamCost),
    });
    stage.done(
      measured.workloads
        .flatMap((w) => [
          ...(w.triggerToHandler
            ? [`${w.workload} (a) p50 ${w.triggerToHandler.latencyMs.p50.toFixed(0)} ms`]
            : []),
          ...(w.handlerToHandler
            ? [`${w.workload} (b) p50 ${w.handlerToHandler.latencyMs.p50.toFixed(0)} ms`]
            : []),
        ])
        .join(', '),
    );
  }
  const modeledLatency = modeledLatencySection({
    modes,
    settings: {
      streamParallelization: DEPLOYED.streamParallelization,
      queuePollers: DEPLOYED.queuePollers,
    },
    samplesPerRuntime: modeled.samplesPerRuntime,
  });

  const deployed = configurations[0]?.levels ?? [];

  const notes: string[] = [];
  const stalled = configurations.flatMap((c) => c.levels).reduce((n, l) => n + l.stalled, 0);
  const modeledProblems = modes.reduce((n, m) => n + m.problemCount, 0);
  if (modeledProblems > 0) {
    notes.push(
      `The AWS latency model stage reported ${modeledProblems} problem(s) (lost samples or runtime warnings); the first are in latest.json (modeledLatency.modes[].problems).`,
    );
  }
  if (stalled > 0) {
    notes.push(
      `${stalled} session(s) of the throughput runs STALLED (their task had not finished after three minutes); their state is in latest.json (throughput[].levels[].problems).`,
    );
  }
  if (mode === 'quick') {
    notes.push(
      'Quick run: flatness at 10, 100 and 1,000 events only (no 10,000); the andEvery session cost for 10 events only ' +
        '(100 and 1,000 in the full run); fewer sessions per measurement (the AWS latency model: ' +
        `${modeled.simple} simple, ${modeled.chain} chain and ${modeled.survey} survey sessions per path); throughput of the deployed configuration only.`,
    );
  }
  const results: BenchResults = {
    meta: {
      mode,
      startedAt,
      seconds: (performance.now() - began) / 1000,
      node: process.versions.node,
      platform: `${process.platform} ${process.arch}`,
      cpus: cpus().length,
      loadAverage: { before: loadBefore, after: loadavg()[0] ?? 0 },
      notes,
    },
    runner: {
      streamPollIntervalMs: DEPLOYED.streamPollIntervalMs,
      queueLongPollSeconds: 1,
      batchingWindowSeconds: EVALUATOR_SOURCE.maxBatchingWindowSeconds,
      settings: {
        streamParallelization: DEPLOYED.streamParallelization,
        queuePollers: DEPLOYED.queuePollers,
      },
    },
    prices: PRICES,
    lambda: LAMBDA_ASSUMPTIONS,
    cost: [simpleCost, surveyCost, ...pages.sessionCosts],
    flatness: {
      lengths: [...plan.pages.flatnessAt],
      points: pages.points,
      burst: pages.burst,
      note:
        'Each row is one `page` event fired alone on a session with nothing in flight, measured from its ' +
        'ingest to its outcome (and the evaluation of a cascade, if anything listens to it); the ratio is to the 10th page. "paced" rows had every earlier ' +
        'page fired the same way; "burst-filled" rows had the pages since the last measured one fired in bursts ' +
        `of up to ${plan.pages.burst} to reach the length sooner (history is history either way).` +
        (mode === 'quick' ? ' Quick run: lengths 10, 100 and 1,000 only.' : ''),
    },
    throughput: configurations,
    latency: {
      unloaded: pages.latencyMs,
      byParallel: deployed.map((l) => ({ parallel: l.parallel, latencyMs: l.latencyMs })),
      evaluatorBatchSizes: {
        paced: pages.evaluatorBatchSizes.paced,
        burst: pages.evaluatorBatchSizes.burst,
        byParallel: deployed.map((l) => ({ parallel: l.parallel, sizes: l.evaluatorBatchSizes })),
      },
    },
    modeledLatency,
    targets: judgeTargets({
      simple: simpleCost,
      flatness: pages.points,
      throughput: deployed,
      otherThroughput: configurations.slice(1),
      modeled: modeledLatency,
    }),
  };
  await writeResults(opts.outDir ?? DEFAULT_OUT_DIR, results);
  return results;
}

/** Runs a stage on emulators started for it, and stops them after. */
async function withEmulators<T>(
  dynamodbEndpoint: string | undefined,
  stage: (emulators: BenchEmulators) => Promise<T>,
): Promise<T> {
  const emulators = await startBenchEmulators(
    dynamodbEndpoint !== undefined ? { dynamodbEndpoint } : {},
  );
  try {
    return await stage(emulators);
  } finally {
    await emulators.stop();
  }
}
