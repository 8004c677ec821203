/**
 * Cost per workflow: whole sessions run one at a time on the local stack, each event fired once
 * the previous one's work is done, with everything they consume counted.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import {
  durableFunctionsModel,
  type ModelCost,
  type SessionShape,
  sessionShape,
  stepFunctionsModel,
} from './alternatives.ts';
import type { BenchEmulators } from './emulators.ts';
import { type CostBreakdown, perMillion, priceUsage } from './pricing.ts';
import { BenchRuntime, type RunnerSettings } from './runtime.ts';
import { addUsage, totals, type Usage, type UsageCounts, type UsageTotals } from './usage.ts';
import type { ScriptedEvent, Workload } from './workloads.ts';

/** The measured and modelled cost of one workload's session. */
export interface WorkloadCost {
  name: string;
  description: string;
  /** Sessions measured (their usage is averaged). */
  sessions: number;
  /** How the events were fired. */
  firing: string;
  shape: SessionShape;
  /** Usage of one session (the average over `sessions`). */
  usage: UsageCounts;
  totals: UsageTotals;
  /** Dollars per million sessions: DynamoDB Local's write units, modelled Lambda duration. */
  perMillion: CostBreakdown;
  /** The same with AWS's published formula for the same writes. */
  perMillionAwsFormula: CostBreakdown;
  /** The same with the Lambda durations measured locally. */
  perMillionLocalDuration: CostBreakdown;
  stepFunctions: ModelCost & { perMillion: CostBreakdown };
  durableFunctions: ModelCost & { perMillion: CostBreakdown };
  /** Alternative's cost over ours (measured units). */
  ratios: { stepFunctions: number; durableFunctions: number };
}

/** Divides a usage sample evenly into `n` sessions' worth. */
function perSession(u: Usage, n: number): UsageCounts {
  const div = (x: number) => x / n;
  return {
    dynamodb: Object.fromEntries(
      Object.entries(u.dynamodb).map(([op, o]) => [
        op,
        {
          calls: div(o.calls),
          readUnits: div(o.readUnits),
          writeUnits: div(o.writeUnits),
          awsWriteUnits: div(o.awsWriteUnits),
          transactions: div(o.transactions),
        },
      ]),
    ),
    lambda: {
      ingest: scale(u.lambda.ingest, n),
      evaluator: scale(u.lambda.evaluator, n),
      dispatcher: scale(u.lambda.dispatcher, n),
      task: scale(u.lambda.task, n),
    },
    sqs: Object.fromEntries(Object.entries(u.sqs).map(([op, c]) => [op, div(c)])),
    handlerRuns: div(u.handlerRuns),
  };
}

function scale(f: { count: number; records: number; billedMs: number }, n: number) {
  return { count: f.count / n, records: f.records / n, billedMs: f.billedMs / n };
}

/**
 * Prices one session's usage and the alternatives' models of the same session.
 *
 * @example
 * const cost = priceWorkload({ workload, usage, sessions: 3, firing: 'paced' });
 */
export function priceWorkload(args: {
  name: string;
  description: string;
  workflow: Workload['workflow'];
  events: readonly ScriptedEvent[];
  /** The usage of all `sessions` sessions together. */
  usage: Usage;
  sessions: number;
  firing: string;
}): WorkloadCost {
  const usage = perSession(args.usage, args.sessions);
  const t = totals(usage);
  const shape = sessionShape(args.workflow, args.events, usage.handlerRuns);
  const ours = perMillion(priceUsage(usage, 1));
  const sfn = stepFunctionsModel(shape);
  const durable = durableFunctionsModel(shape);
  const sfnPerMillion = perMillion(sfn.cost);
  const durablePerMillion = perMillion(durable.cost);
  return {
    name: args.name,
    description: args.description,
    sessions: args.sessions,
    firing: args.firing,
    shape,
    usage,
    totals: t,
    perMillion: ours,
    perMillionAwsFormula: perMillion(priceUsage(usage, 1, { writeUnits: 'aws-formula' })),
    perMillionLocalDuration: perMillion(priceUsage(usage, 1, { duration: 'measured-local' })),
    stepFunctions: { ...sfn, perMillion: sfnPerMillion },
    durableFunctions: { ...durable, perMillion: durablePerMillion },
    ratios: {
      stepFunctions: sfnPerMillion.total / ours.total,
      durableFunctions: durablePerMillion.total / ours.total,
    },
  };
}

/**
 * Runs `sessions` sessions of a workload one at a time, each event after the previous one's
 * work (evaluation, task, cascade) finished, after `warmups` unmeasured sessions, and prices the
 * average session. One session at a time means no batching across sessions: the most
 * invocations a session can cause.
 *
 * @example
 * const cost = await measureWorkloadCost({ emulators, workload: simpleWorkload(), sessions: 3, warmups: 2 });
 */
export async function measureWorkloadCost(opts: {
  emulators: BenchEmulators;
  workload: Workload;
  sessions: number;
  warmups: number;
  runner?: RunnerSettings;
  onEvent?: () => void;
}): Promise<WorkloadCost> {
  const { workload } = opts;
  const rt = await BenchRuntime.start({
    workflow: workload.workflow,
    handlers: workload.handlers,
    emulators: opts.emulators,
    ...(opts.runner ? { runner: opts.runner } : {}),
  });
  try {
    const runSession = async (id: string) => {
      for (const e of workload.events) {
        await rt.fire(id, e.trigger, e.kwargs);
        await rt.settled(id);
        opts.onEvent?.();
      }
    };
    for (let i = 0; i < opts.warmups; i++) await runSession(`warm-${workload.name}-${i}`);
    rt.take();
    const samples: Usage[] = [];
    for (let i = 0; i < opts.sessions; i++) {
      await runSession(`cost-${workload.name}-${i}`);
      samples.push(rt.take());
    }
    return priceWorkload({
      name: workload.name,
      description: workload.description,
      workflow: workload.workflow,
      events: workload.events,
      usage: addUsage(samples),
      sessions: opts.sessions,
      firing: 'paced: each event fired once the previous one was applied and its tasks finished',
    });
  } finally {
    await rt.close();
  }
}
