/**
 * The project's done-when targets, judged from a run's numbers. A missed target says by how
 * much, what bounds it (from the run's own profile) and the fix the numbers point to.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import { cpus } from 'node:os';
import type { WorkloadCost } from './cost.ts';
import type { FlatnessPoint } from './flatness.ts';
import type { DispatchModeLatency, LatencyMeasure, ModeledLatency, PathCost } from './latency.ts';
import type { ThroughputLevel } from './throughput.ts';

/** One target's verdict. */
export interface TargetResult {
  id:
    | 'simple-write-units'
    | 'simple-read-units'
    | 'flatness-1000'
    | 'throughput-100'
    | 'cost-vs-step-functions'
    | 'simple-invocations'
    | 'modeled-trigger-p50'
    | 'modeled-trigger-p95'
    | 'modeled-cascade-p50'
    | 'modeled-cascade-p95'
    | 'modeled-hops';
  description: string;
  /** The target, in words. */
  target: string;
  /** The measured value. */
  value: number;
  /** The bound the value is compared with. */
  limit: number;
  pass: boolean;
  /** How far from the limit, in words. */
  margin: string;
  /** What bounds the value (always given; most useful on a miss). */
  bound: string;
  /** The fix the numbers point to, on a miss. */
  fix?: string;
}

const pct = (x: number) => `${(x * 100).toFixed(0)}%`;

function opsLine(w: WorkloadCost, key: 'writeUnits' | 'readUnits'): string {
  return Object.entries(w.usage.dynamodb)
    .filter(([, o]) => o[key] > 0)
    .sort(([, a], [, b]) => b[key] - a[key])
    .map(
      ([op, o]) =>
        `${op} ${+o[key].toFixed(2)} (${+o.calls.toFixed(2)} calls${o.transactions > 0 ? `, ${+o.transactions.toFixed(2)} transactions` : ''})`,
    )
    .join(', ');
}

/**
 * Judges the targets.
 *
 * @example
 * const verdicts = judgeTargets({ simple, flatness: points, throughput: levels });
 */
export function judgeTargets(r: {
  simple: WorkloadCost;
  flatness: readonly FlatnessPoint[];
  /** The pipeline as deployed (the wiring's concurrency). */
  throughput: readonly ThroughputLevel[];
  /** Other runner configurations measured in the same run, for comparison. */
  otherThroughput?: ReadonlyArray<{ name: string; levels: readonly ThroughputLevel[] }>;
  /** The AWS latency model's figures: judged for the direct path, the old path for comparison. */
  modeled?: ModeledLatency;
}): TargetResult[] {
  const out: TargetResult[] = [];
  const s = r.simple;
  const w = s.totals.writeUnits;
  out.push({
    id: 'simple-write-units',
    description: 'write units of a simple session (two triggers, one task)',
    target: '≤ 24 write units',
    value: w,
    limit: 24,
    pass: w <= 24,
    margin:
      w <= 24 ? `${+(24 - w).toFixed(2)} units to spare` : `${+(w - 24).toFixed(2)} units over`,
    bound: `${opsLine(s, 'writeUnits')}; by AWS's published formula the same writes are ${+s.totals.awsWriteUnits.toFixed(2)} units`,
    ...(w <= 24
      ? {}
      : {
          fix: 'Fewer items per commit: see the levers in docs/performance.md (what bounds cost).',
        }),
  });
  const rd = s.totals.readUnits;
  out.push({
    id: 'simple-read-units',
    description: 'read units of a simple session',
    target: '≤ 6 read units',
    value: rd,
    limit: 6,
    pass: rd <= 6,
    margin:
      rd <= 6 ? `${+(6 - rd).toFixed(2)} units to spare` : `${+(rd - 6).toFixed(2)} units over`,
    bound: opsLine(s, 'readUnits'),
    ...(rd <= 6
      ? {}
      : { fix: 'Read the head once per batch and resolve kwargs references lazily.' }),
  });

  const at1000 = r.flatness.find((p) => p.length === 1000);
  const flat = at1000 ? Math.max(at1000.readRatio, at1000.writeRatio) : Number.NaN;
  out.push({
    id: 'flatness-1000',
    description: 'units of the 1,000th event of an andEvery session over the 10th',
    target: '≤ 1.2',
    value: flat,
    limit: 1.2,
    pass: flat <= 1.2,
    margin:
      flat <= 1.2 ? `${+(1.2 - flat).toFixed(2)} below the limit` : `${pct(flat / 1.2 - 1)} over`,
    bound: at1000
      ? `read ${at1000.readUnits} vs ${r.flatness[0]?.readUnits}, write ${at1000.writeUnits} vs ${r.flatness[0]?.writeUnits} units (AWS formula: ${at1000.awsWriteUnits} vs ${r.flatness[0]?.awsWriteUnits})`
      : 'not measured',
    ...(flat <= 1.2
      ? {}
      : {
          fix: 'Find the item that grows with history (the head) and move it out of the write path.',
        }),
  });

  const p100 = r.throughput.find((l) => l.parallel === 100);
  const ratio = p100?.ratio ?? Number.NaN;
  const profile = p100
    ? Object.entries(p100.profile)
        .map(
          ([fn, p]) =>
            `${fn} ${pct(p.utilisation)} busy over ${p.lanes} lane(s) (${p.invocations} invocations, ${p.meanRecords.toFixed(1)} records each)`,
        )
        .join('; ')
    : 'not measured';
  const cpuRatio = p100 ? p100.cpuMsPerSession.floor / p100.cpuMsPerSession.pipeline : Number.NaN;
  const cpuBound = Number.isFinite(cpuRatio) && Math.abs(cpuRatio - ratio) / ratio < 0.35;
  const cpu = p100
    ? `This process (the runner, every SDK client, the SQS emulator) used ${p100.cpuMsPerSession.pipeline.toFixed(1)} ms of CPU per session ` +
      `in the pipeline and ${p100.cpuMsPerSession.floor.toFixed(1)} ms in the floor, a ratio of ${cpuRatio.toFixed(2)}` +
      (cpuBound
        ? `, close to the measured ratio: on these ${cpus().length} CPUs, shared with DynamoDB Local, CPU per session is the bound, and the lanes' busy time is mostly waiting for it.`
        : '.')
    : '';
  out.push({
    id: 'throughput-100',
    description:
      'pipeline events/s over the raw floor (bare conditional puts and sends) at 100 sessions in parallel',
    target: '≥ 0.25',
    value: ratio,
    limit: 0.25,
    pass: ratio >= 0.25,
    margin:
      ratio >= 0.25 ? `${(ratio / 0.25).toFixed(2)}× the target` : `${pct(1 - ratio / 0.25)} short`,
    bound: p100
      ? `${p100.pipeline.eventsPerSecond.toFixed(1)} events/s vs a floor of ${p100.floor.putsPerSecond.toFixed(1)} puts/s. ` +
        `Per session the pipeline made ${p100.perSession.dynamodbCalls.toFixed(1)} DynamoDB calls (${p100.perSession.transactions.toFixed(1)} of them transactions), ` +
        `${p100.perSession.sqsRequests.toFixed(1)} SQS requests and ${p100.perSession.lambdaInvocations.toFixed(1)} invocations, where the floor makes 2 puts and 1 send. ` +
        `${cpu} Utilisation: ${profile}; latency p50 ${p100.latencyMs.p50.toFixed(0)} ms. ` +
        (r.otherThroughput ?? [])
          .map((c) => {
            const other = c.levels.find((l) => l.parallel === 100);
            return other
              ? `The ${c.name} measured ${other.ratio.toFixed(2)} in the same run. `
              : '';
          })
          .join('') +
        (p100.stalled > 0 ? `; ${p100.stalled} session(s) STALLED` : '')
      : 'not measured',
    ...(ratio >= 0.25
      ? {}
      : {
          fix:
            'Make fewer and lighter calls per session, which is what each session costs in CPU locally: a short batching ' +
            'window on the evaluator source (MaximumBatchingWindowInSeconds) lets the triggers of a session be applied by ' +
            'one evaluation. (Evaluating the sessions of a stream batch ' +
            "concurrently was tried: it lowered the evaluator lanes' utilisation but not the throughput.)",
        }),
  });

  const costRatio = s.ratios.stepFunctions;
  const needed = s.stepFunctions.perMillion.total / 10;
  const parts = s.perMillion;
  out.push({
    id: 'cost-vs-step-functions',
    description: 'Step Functions Standard estimate over our cost, per million simple sessions',
    target: '≥ 10×',
    value: costRatio,
    limit: 10,
    pass: costRatio >= 10,
    margin:
      costRatio >= 10
        ? `${(costRatio / 10).toFixed(2)}× the target`
        : `${pct(1 - costRatio / 10)} short: $${parts.total.toFixed(2)} per million must fall to $${needed.toFixed(2)} (−${pct(1 - needed / parts.total)})`,
    bound:
      `$${parts.total.toFixed(2)} per million: DynamoDB writes $${parts.dynamodbWrites.toFixed(2)} (${pct(parts.dynamodbWrites / parts.total)}; ${opsLine(s, 'writeUnits')}), ` +
      `Lambda requests $${parts.lambdaRequests.toFixed(2)} (${s.totals.lambdaInvocations} invocations: ${Object.entries(
        s.usage.lambda,
      )
        .map(([fn, f]) => `${fn} ${+f.count.toFixed(2)}`)
        .join(', ')}), ` +
      `SQS $${parts.sqsRequests.toFixed(2)} (${s.totals.sqsRequests} requests), Lambda duration $${parts.lambdaDuration.toFixed(2)}, DynamoDB reads $${parts.dynamodbReads.toFixed(2)}`,
    ...(costRatio >= 10
      ? {}
      : {
          fix: 'DynamoDB writes are the bulk (see the bound): the levers left are in docs/performance.md (what bounds cost).',
        }),
  });

  const direct = r.modeled?.modes.find((m) => m.dispatch === 'direct');
  const old = r.modeled?.modes.find((m) => m.dispatch === 'stream');
  out.push(invocationsTarget(s, direct?.simpleSessionCost, old?.simpleSessionCost));
  if (r.modeled) out.push(...modeledTargets(direct, old));
  return out;
}

/** The path's unit budget for a simple session: what the dispatcher's path cost. */
const PATH_UNITS = { write: 9, read: 3 } as const;

function invocationSplit(c: PathCost): string {
  return Object.entries(c.invocations)
    .map(([fn, n]) => `${fn} ${+n.toFixed(2)}`)
    .join(', ');
}

/** Invocations per simple session on the deployed path, with both paths' units. */
function invocationsTarget(
  s: WorkloadCost,
  direct: PathCost | undefined,
  old: PathCost | undefined,
): TargetResult {
  const n = s.totals.lambdaInvocations;
  const units = (c: { writeUnits: number; readUnits: number }) =>
    `${+c.writeUnits.toFixed(2)} write / ${+c.readUnits.toFixed(2)} read units`;
  const withinUnits =
    s.totals.writeUnits <= PATH_UNITS.write && s.totals.readUnits <= PATH_UNITS.read;
  return {
    id: 'simple-invocations',
    description: 'Lambda invocations of a simple session (direct dispatch)',
    target: '≤ 6 invocations',
    value: n,
    limit: 6,
    pass: n <= 6,
    margin: n <= 6 ? `${+(6 - n).toFixed(2)} to spare` : `${+(n - 6).toFixed(2)} over`,
    bound:
      `${direct ? invocationSplit(direct) : Object.keys(s.usage.lambda).join(', ')}; ` +
      `${units(s.totals)} (the path's budget: ≤ ${PATH_UNITS.write} write / ≤ ${PATH_UNITS.read} read units, ${withinUnits ? 'met' : 'EXCEEDED'})` +
      (old
        ? `; the old path (stream dispatch, same run): ${old.lambdaInvocations} invocations (${invocationSplit(old)}), ${units(old)}`
        : ''),
    ...(n <= 6
      ? {}
      : {
          fix: 'Find the function whose count rose (see the bound): the direct path is two ingests, two evaluations and the task.',
        }),
  };
}

type MeasureKey = 'triggerToHandler' | 'handlerToHandler';

const MEASURE_NAMES: Record<MeasureKey, string> = {
  triggerToHandler: 'last required trigger accepted → handler start',
  handlerToHandler: 'handler returned → cascaded handler start',
};

const MEASURE_FIXES: Record<MeasureKey, string> = {
  triggerToHandler:
    "The wait for the evaluator's stream poll (up to a whole 250 ms cycle) is most of it (see the bound): the event could " +
    'reach the evaluator without waiting for the stream (the ingest function invoking it, or sending the event to a ' +
    'long-polled evaluation queue), with the stream left to catch what was not handed over.',
  handlerToHandler:
    "The cascade waits for the evaluator's next stream poll after the outcome commit (see the bound): the task runner " +
    'could evaluate the cascade itself right after committing the outcome and send what that schedules, as the evaluator ' +
    'now does, with the stream left to catch what it did not.',
};

function measuresOf(
  mode: DispatchModeLatency | undefined,
  key: MeasureKey,
): Array<{ workload: string; m: LatencyMeasure }> {
  return (mode?.workloads ?? []).flatMap((w) => {
    const m = w[key];
    return m ? [{ workload: w.workload, m }] : [];
  });
}

/** The modeled latency and hop targets, judged on the direct path. */
function modeledTargets(
  direct: DispatchModeLatency | undefined,
  old: DispatchModeLatency | undefined,
): TargetResult[] {
  const out: TargetResult[] = [];
  const specs = [
    { id: 'modeled-trigger-p50', key: 'triggerToHandler', at: 'p50', limit: 150 },
    { id: 'modeled-trigger-p95', key: 'triggerToHandler', at: 'p95', limit: 300 },
    { id: 'modeled-cascade-p50', key: 'handlerToHandler', at: 'p50', limit: 150 },
    { id: 'modeled-cascade-p95', key: 'handlerToHandler', at: 'p95', limit: 300 },
  ] as const;
  for (const spec of specs) {
    const rows = measuresOf(direct, spec.key);
    const worst = rows.reduce<(typeof rows)[number] | undefined>(
      (w, x) => (w === undefined || x.m.latencyMs[spec.at] > w.m.latencyMs[spec.at] ? x : w),
      undefined,
    );
    const value = worst ? worst.m.latencyMs[spec.at] : Number.NaN;
    const pass = value <= spec.limit;
    const line = (x: { workload: string; m: LatencyMeasure }) =>
      `${x.workload} ${x.m.latencyMs[spec.at].toFixed(0)} ms (${x.m.latencyMs.samples} samples)`;
    const olds = measuresOf(old, spec.key);
    out.push({
      id: spec.id,
      description: `${MEASURE_NAMES[spec.key]}, ${spec.at}, AWS latency model (direct dispatch; worst workload)`,
      target: `≤ ${spec.limit} ms`,
      value,
      limit: spec.limit,
      pass,
      margin: !worst
        ? 'not measured'
        : pass
          ? `${(spec.limit - value).toFixed(0)} ms to spare`
          : `${(value - spec.limit).toFixed(0)} ms over (${pct(value / spec.limit - 1)})`,
      bound: worst
        ? `${spec.at} by workload: ${rows.map(line).join(', ')}; of the worst, the median wait for stream polls was ` +
          `${worst.m.pollWaitMs.p50.toFixed(0)} ms (p95 ${worst.m.pollWaitMs.p95.toFixed(0)} ms), the rest is work and queue delivery` +
          (olds.length > 0
            ? `; the old path (stream dispatch, same run): ${olds.map(line).join(', ')}`
            : '')
        : 'not measured',
      ...(pass ? {} : { fix: MEASURE_FIXES[spec.key] }),
    });
  }

  const hopRows = (mode: DispatchModeLatency | undefined) =>
    (['triggerToHandler', 'handlerToHandler'] as const).flatMap((key) =>
      measuresOf(mode, key).map((x) => ({
        label: `${x.workload} ${key === 'triggerToHandler' ? '(a)' : '(b)'}`,
        hops: x.m.hops,
      })),
    );
  const rows = hopRows(direct);
  const value =
    rows.length === 0
      ? Number.NaN
      : Math.max(...rows.map((x) => Math.max(x.hops.stream.p50, x.hops.queue.p50)));
  const pass = value <= 1;
  const line = (x: (typeof rows)[number]) =>
    `${x.label} ${x.hops.stream.p50} + ${x.hops.queue.p50} (at most ${x.hops.stream.max} + ${x.hops.queue.max})`;
  const worst = rows.find((x) => Math.max(x.hops.stream.p50, x.hops.queue.p50) === value);
  const olds = hopRows(old);
  out.push({
    id: 'modeled-hops',
    description:
      'asynchronous hops to a handler on the common path (median of stream + queue hops per sample; direct dispatch)',
    target: '≤ 1 stream + 1 queue',
    value,
    limit: 1,
    pass,
    margin:
      rows.length === 0
        ? 'not measured'
        : pass
          ? 'at most 1 stream + 1 queue hop on every measured path'
          : `${worst ? `${worst.label}: ${worst.hops.stream.p50} stream + ${worst.hops.queue.p50} queue` : ''} at the median`,
    bound:
      rows.length === 0
        ? 'not measured'
        : `stream + queue hops, median (at most): ${rows.map(line).join(', ')}` +
          (olds.length > 0 ? `; the old path (stream dispatch): ${olds.map(line).join(', ')}` : ''),
    ...(pass
      ? {}
      : {
          fix: 'An extra stream hop is back on the path: check that the evaluator sends what it scheduled itself (direct dispatch) and that nothing else waits for the stream.',
        }),
  });
  return out;
}
