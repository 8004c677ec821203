/**
 * The quick benchmark as a smoke test: it runs end to end on DynamoDB Local and the SQS
 * emulator, writes its files, and every number it reports is well-formed. Timings and verdicts
 * are not asserted: they depend on the machine.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LatencyMeasure } from '../../bench/latency.ts';
import type { BenchResults } from '../../bench/run-results.ts';
import { CHART_FILES } from '../../bench/run-results.ts';
import { runBench } from '../../bench/suite.ts';

/** A finite number, and above zero unless `zeroOk`. */
function expectCount(value: unknown, what: string, zeroOk = false): void {
  expect(typeof value, what).toBe('number');
  expect(Number.isFinite(value), `${what} is finite`).toBe(true);
  if (zeroOk) expect(value as number, what).toBeGreaterThanOrEqual(0);
  else expect(value as number, what).toBeGreaterThan(0);
}

/** A latency measure's percentiles in order, its poll waits finite, its hop counts whole. */
function expectMeasure(m: LatencyMeasure | undefined, what: string): void {
  expect(m, what).toBeDefined();
  const { latencyMs: d, pollWaitMs: wait, hops } = m as LatencyMeasure;
  expectCount(d.samples, `${what} samples`);
  for (const p of ['min', 'p50', 'p95', 'p99', 'max'] as const) {
    expectCount(d[p], `${what} ${p}`, true);
    expectCount(wait[p], `${what} poll wait ${p}`, true);
  }
  expect(d.p50, `${what} p50 ≤ p95`).toBeLessThanOrEqual(d.p95);
  expect(d.p95, `${what} p95 ≤ p99`).toBeLessThanOrEqual(d.p99);
  expect(d.p99, `${what} p99 ≤ max`).toBeLessThanOrEqual(d.max);
  for (const [kind, count] of Object.entries(hops)) {
    for (const v of [count.p50, count.max]) {
      expect(Number.isInteger(v), `${what} ${kind} hops ${v} is a whole number`).toBe(true);
      expect(v, `${what} ${kind} hops`).toBeGreaterThanOrEqual(0);
    }
    expect(count.p50, `${what} ${kind} hops median ≤ max`).toBeLessThanOrEqual(count.max);
  }
}

describe('npm run bench -- --quick', () => {
  let outDir: string;
  let results: BenchResults;

  beforeAll(async () => {
    outDir = await mkdtemp(join(tmpdir(), 'triggers-bench-'));
    // Fresh emulators per stage, as `npm run bench` runs: not the test run's shared DynamoDB
    // Local, which by this point holds every other test's tables and streams and has slowed
    // down several-fold (seen in CI: minutes instead of seconds).
    results = await runBench({ quick: true, outDir, progress: false });
  }, 900_000);

  afterAll(async () => {
    if (outDir) await rm(outDir, { recursive: true, force: true });
  });

  it('writes the JSON, the Markdown report and every chart it links', async () => {
    const json = JSON.parse(await readFile(join(outDir, 'latest.json'), 'utf8')) as BenchResults;
    expect(json.meta.mode).toBe('quick');
    const markdown = await readFile(join(outDir, 'latest.md'), 'utf8');
    for (const file of Object.values(CHART_FILES)) {
      expect(markdown).toContain(`](${file})`);
      expect(await readFile(join(outDir, file), 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\n$/);
    }
  });

  it('reports a positive, finite cost for every workload and both alternatives', () => {
    expect(results.cost.map((w) => w.name)).toEqual(['simple', 'survey', 'andEvery-10']);
    for (const w of results.cost) {
      expectCount(w.totals.writeUnits, `${w.name} write units`);
      expectCount(w.totals.readUnits, `${w.name} read units`);
      expectCount(w.totals.awsWriteUnits, `${w.name} AWS-formula write units`);
      expectCount(w.totals.sqsRequests, `${w.name} SQS requests`);
      expectCount(w.totals.lambdaInvocations, `${w.name} Lambda invocations`);
      expectCount(w.shape.taskRuns, `${w.name} task runs`);
      expectCount(w.perMillion.total, `${w.name} dollars per million`);
      expectCount(w.stepFunctions.perMillion.total, `${w.name} Step Functions dollars`);
      expectCount(w.durableFunctions.perMillion.total, `${w.name} durable functions dollars`);
      expectCount(w.ratios.stepFunctions, `${w.name} Step Functions ratio`);
      expectCount(w.ratios.durableFunctions, `${w.name} durable functions ratio`);
    }
  });

  it('measures flatness at 10, 100 and 1,000 events, as ratios to the 10th', () => {
    expect(results.flatness.points.map((p) => p.length)).toEqual([10, 100, 1000]);
    for (const p of results.flatness.points) {
      expectCount(p.readUnits, `read units at ${p.length}`);
      expectCount(p.writeUnits, `write units at ${p.length}`);
      expectCount(p.readRatio, `read ratio at ${p.length}`);
      expectCount(p.writeRatio, `write ratio at ${p.length}`);
    }
    expect(results.flatness.points[0]?.writeRatio).toBe(1);
  });

  it('measures throughput and the floor at 1, 10 and 100 sessions in parallel', () => {
    const levels = results.throughput[0]?.levels ?? [];
    expect(levels.map((l) => l.parallel)).toEqual([1, 10, 100]);
    for (const l of levels) {
      expectCount(l.pipeline.eventsPerSecond, `events/s at ${l.parallel}`);
      expectCount(l.pipeline.tasksPerSecond, `tasks/s at ${l.parallel}`);
      expectCount(l.floor.putsPerSecond, `floor puts/s at ${l.parallel}`);
      expectCount(l.ratio, `pipeline/floor at ${l.parallel}`);
      expect(l.latencyMs.samples).toBe(l.sessions);
      expectCount(l.latencyMs.p50, `latency p50 at ${l.parallel}`);
      expectCount(l.evaluatorBatchSizes.samples, `evaluator invocations at ${l.parallel}`);
    }
  });

  it('reports latency percentiles with the poll interval and evaluator batch sizes', () => {
    expectCount(results.runner.streamPollIntervalMs, 'stream poll interval');
    const { unloaded } = results.latency;
    expectCount(unloaded.samples, 'latency samples');
    expect(unloaded.p50).toBeLessThanOrEqual(unloaded.p95);
    expect(unloaded.p95).toBeLessThanOrEqual(unloaded.p99);
    expectCount(unloaded.p50, 'latency p50');
    expectCount(results.latency.evaluatorBatchSizes.paced.mean, 'paced evaluator batch size');
  });

  it('states the AWS latency model with a source for each parameter', () => {
    const model = results.modeledLatency?.model;
    expectCount(model?.streamPollEveryMs, 'modeled stream poll period');
    expectCount(model?.invocationOverheadMs, 'modeled invocation overhead');
    expectCount(model?.samplesPerRuntime, 'samples per runtime');
    for (const key of ['streamPollEveryMs', 'invocationOverheadMs', 'queueLongPolling']) {
      expect(model?.sources[key]?.length ?? 0, `source of ${key}`).toBeGreaterThan(0);
    }
  });

  it('measures both dispatch paths under the model: (a) for every workload, (b) for the chain', () => {
    const modes = results.modeledLatency?.modes ?? [];
    expect(modes.map((m) => m.dispatch)).toEqual(['direct', 'stream']);
    for (const mode of modes) {
      expect(mode.workloads.map((w) => w.workload)).toEqual(['simple', 'chain', 'survey']);
      for (const w of mode.workloads) {
        expectMeasure(w.triggerToHandler, `${mode.dispatch} ${w.workload} (a)`);
        if (w.workload === 'chain') {
          expectMeasure(w.handlerToHandler, `${mode.dispatch} chain (b)`);
        } else {
          expect(
            w.handlerToHandler,
            `${mode.dispatch} ${w.workload} has no cascade`,
          ).toBeUndefined();
        }
      }
    }
  });

  it("reports a simple session's units, invocations and SQS requests on each path", () => {
    for (const mode of results.modeledLatency?.modes ?? []) {
      const c = mode.simpleSessionCost;
      expectCount(c.writeUnits, `${mode.dispatch} write units`);
      expectCount(c.readUnits, `${mode.dispatch} read units`);
      expectCount(c.awsWriteUnits, `${mode.dispatch} AWS-formula write units`);
      expectCount(c.lambdaInvocations, `${mode.dispatch} invocations`);
      expectCount(c.sqsRequests, `${mode.dispatch} SQS requests`);
      expectCount(c.perMillion, `${mode.dispatch} dollars per million`);
      for (const [fn, n] of Object.entries(c.invocations)) {
        expectCount(n, `${mode.dispatch} ${fn} invocations`, true);
      }
      expect(
        Object.values(c.invocations).reduce((n, x) => n + x, 0),
        `${mode.dispatch} invocations by function add up`,
      ).toBeCloseTo(c.lambdaInvocations, 6);
    }
  });

  it('writes the model, a table per path and the fast-poll figures into the report', async () => {
    const markdown = await readFile(join(outDir, 'latest.md'), 'utf8');
    expect(markdown).toContain('### Under the AWS latency model');
    for (const mode of results.modeledLatency?.modes ?? []) {
      expect(markdown).toContain(`**${mode.name}**`);
    }
    expect(markdown).toContain(`### Local runner, ${results.runner.streamPollIntervalMs} ms polls`);
  });

  it('judges every target, with a bound for each and a fix for each miss', () => {
    expect(results.targets.map((t) => t.id)).toEqual([
      'simple-write-units',
      'simple-read-units',
      'flatness-1000',
      'throughput-100',
      'cost-vs-step-functions',
      'simple-invocations',
      'modeled-trigger-p50',
      'modeled-trigger-p95',
      'modeled-cascade-p50',
      'modeled-cascade-p95',
      'modeled-hops',
    ]);
    for (const t of results.targets) {
      expectCount(t.value, `${t.id} value`);
      expectCount(t.limit, `${t.id} limit`);
      expect(typeof t.pass, `${t.id} verdict`).toBe('boolean');
      expect(t.margin.length, `${t.id} margin`).toBeGreaterThan(0);
      expect(t.bound.length, `${t.id} bound`).toBeGreaterThan(0);
      if (!t.pass) expect(t.fix?.length ?? 0, `${t.id} fix`).toBeGreaterThan(0);
    }
  });
});
