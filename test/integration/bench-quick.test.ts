/**
 * The quick benchmark as a smoke test: it runs end to end on DynamoDB Local and the SQS
 * emulator, writes its files, and every number it reports is well-formed. Timings and verdicts
 * are not asserted: they depend on the machine.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

  it('judges every target, with a bound for each and a fix for each miss', () => {
    expect(results.targets.map((t) => t.id)).toEqual([
      'simple-write-units',
      'simple-read-units',
      'flatness-1000',
      'throughput-100',
      'cost-vs-step-functions',
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
