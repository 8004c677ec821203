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
import type { ThroughputLevel } from './throughput.ts';

/** One target's verdict. */
export interface TargetResult {
  id:
    | 'simple-write-units'
    | 'simple-read-units'
    | 'flatness-1000'
    | 'throughput-100'
    | 'cost-vs-step-functions';
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
  return out;
}
