/**
 * The shape of a run's results (`BenchResults`), what `latest.json` holds, and the names of the
 * chart files written beside it.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import type { WorkloadCost } from './cost.ts';
import type { FlatnessPoint } from './flatness.ts';
import type { ModeledLatency } from './latency.ts';
import type { LAMBDA_ASSUMPTIONS, PRICES } from './prices.ts';
import type { Distribution } from './stats.ts';
import type { TargetResult } from './targets.ts';
import type { ThroughputLevel } from './throughput.ts';

/** A throughput run under one runner configuration. */
export interface ThroughputConfiguration {
  name: string;
  /** What the configuration is, in words. */
  description: string;
  settings: { streamParallelization: boolean; queuePollers: number };
  levels: ThroughputLevel[];
}

/** Everything a benchmark run produced. */
export interface BenchResults {
  meta: {
    mode: 'full' | 'quick';
    startedAt: string;
    seconds: number;
    node: string;
    platform: string;
    cpus: number;
    /** 1-minute load average of the machine before and after the run (other work shares it). */
    loadAverage: { before: number; after: number };
    /** What `--quick` leaves out. */
    notes: string[];
  };
  /** The runner settings every stage shares. */
  runner: {
    streamPollIntervalMs: number;
    queueLongPollSeconds: number;
    batchingWindowSeconds: number;
    /** The settings of the cost, flatness and latency stages. */
    settings: { streamParallelization: boolean; queuePollers: number };
  };
  prices: typeof PRICES;
  lambda: typeof LAMBDA_ASSUMPTIONS;
  cost: WorkloadCost[];
  flatness: {
    lengths: number[];
    points: FlatnessPoint[];
    note: string;
    /** Units per page of the pages fired in bursts (many events per evaluation). */
    burst: { pages: number; readUnits: number; writeUnits: number; awsWriteUnits: number };
  };
  throughput: ThroughputConfiguration[];
  /** Latency on the local runner as it runs by default: stream polls 25 ms apart when idle. */
  latency: {
    /** Pages of the andEvery session fired one at a time: nothing else in flight. */
    unloaded: Distribution;
    /** Per throughput level of the deployed configuration. */
    byParallel: Array<{ parallel: number; latencyMs: Distribution }>;
    evaluatorBatchSizes: {
      paced: Distribution;
      burst: Distribution;
      byParallel: Array<{ parallel: number; sizes: Distribution }>;
    };
  };
  /**
   * Latency under the AWS latency model, for each dispatch path, with a simple session's cost on
   * each (absent from results written before the model existed).
   */
  modeledLatency?: ModeledLatency;
  targets: TargetResult[];
}

/**
 * The chart files a report writes, by what they show.
 *
 * @example
 * const svg = await readFile(join(dir, CHART_FILES.cost), 'utf8');
 */
export const CHART_FILES = {
  cost: 'cost-per-million.svg',
  flatness: 'flatness.svg',
  throughput: 'throughput.svg',
  latency: 'latency.svg',
  modeledLatency: 'latency-aws-model.svg',
} as const;
