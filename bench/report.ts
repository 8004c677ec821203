/**
 * A run's results written out: `latest.json` (everything), `latest.md` (tables and the models,
 * linking the charts) and the SVG charts beside them.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { barChart, lineChart } from './charts.ts';
import { renderMarkdown } from './markdown.ts';
import { type BenchResults, CHART_FILES } from './run-results.ts';

/**
 * JSON in the layout the repository's formatter keeps (objects expanded, short arrays of
 * numbers and strings on one line), so a written result does not fail the lint.
 *
 * @example
 * await writeFile('latest.json', formatJson(results));
 */
export function formatJson(value: unknown): string {
  const render = (v: unknown, indent: string): string => {
    if (v === null || typeof v !== 'object') {
      return typeof v === 'number' && !Number.isFinite(v) ? 'null' : (JSON.stringify(v) ?? 'null');
    }
    const inner = `${indent}  `;
    if (Array.isArray(v)) {
      if (v.length === 0) return '[]';
      if (v.every((x) => x === null || typeof x !== 'object')) {
        const line = `[${v.map((x) => render(x, inner)).join(', ')}]`;
        if (line.length + indent.length < 60) return line;
      }
      return `[\n${v.map((x) => `${inner}${render(x, inner)}`).join(',\n')}\n${indent}]`;
    }
    const entries = Object.entries(v as Record<string, unknown>).filter(([, x]) => x !== undefined);
    if (entries.length === 0) return '{}';
    return `{\n${entries.map(([k, x]) => `${inner}${JSON.stringify(k)}: ${render(x, inner)}`).join(',\n')}\n${indent}}`;
  };
  return `${render(value, '')}\n`;
}

const COLORS = {
  ours: '#2e86de',
  oursLight: '#9cc9f5',
  floorLight: '#c8cfd2',
  sfn: '#c0392b',
  durable: '#e67e22',
  floor: '#7f8c8d',
  alt: '#27ae60',
};

/**
 * The SVG charts of a run, by file name.
 *
 * @example
 * for (const [name, svg] of Object.entries(renderCharts(results))) await writeFile(name, svg);
 */
export function renderCharts(r: BenchResults): Record<string, string> {
  const deployed = r.throughput[0];
  const modes = r.modeledLatency?.modes ?? [];
  const direct = modes.find((m) => m.dispatch === 'direct');
  const old = modes.find((m) => m.dispatch === 'stream');
  const measures = (direct?.workloads ?? []).flatMap((w) => [
    ...(w.triggerToHandler ? [{ workload: w.workload, key: 'triggerToHandler' as const }] : []),
    ...(w.handlerToHandler ? [{ workload: w.workload, key: 'handlerToHandler' as const }] : []),
  ]);
  const at = (mode: typeof direct, m: (typeof measures)[number], p: 'p50' | 'p95'): number =>
    mode?.workloads.find((w) => w.workload === m.workload)?.[m.key]?.latencyMs[p] ?? Number.NaN;
  return {
    [CHART_FILES.cost]: barChart({
      title: 'Dollars per million sessions (log scale)',
      yLabel: 'USD per million sessions',
      log: true,
      series: [
        { name: 'this pipeline', color: COLORS.ours },
        { name: 'Step Functions Standard', color: COLORS.sfn },
        { name: 'Lambda durable functions', color: COLORS.durable },
      ],
      groups: r.cost.map((w) => ({
        label: w.name,
        values: [
          w.perMillion.total,
          w.stepFunctions.perMillion.total,
          w.durableFunctions.perMillion.total,
        ],
      })),
      format: (v) =>
        v >= 1000
          ? `$${(v / 1000).toFixed(v >= 10_000 ? 0 : 1)}k`
          : `$${v >= 10 ? v.toFixed(0) : v.toFixed(1)}`,
    }),
    [CHART_FILES.flatness]: lineChart({
      title: 'Units per andEvery event by session length',
      xLabel: 'session length (pages), log scale',
      yLabel: 'units per event',
      logX: true,
      minYMax: 1,
      series: [
        {
          name: 'write units (Local)',
          color: COLORS.ours,
          points: r.flatness.points.map((p) => ({ x: p.length, y: p.writeUnits })),
        },
        {
          name: 'write units (AWS formula)',
          color: COLORS.durable,
          points: r.flatness.points.map((p) => ({ x: p.length, y: p.awsWriteUnits })),
        },
        {
          name: 'read units',
          color: COLORS.alt,
          points: r.flatness.points.map((p) => ({ x: p.length, y: p.readUnits })),
        },
      ],
    }),
    [CHART_FILES.throughput]: barChart({
      title: "Pipeline events/s over the floor's puts/s, same emulators, same minute",
      yLabel: 'pipeline / floor',
      series: r.throughput.map((c, i) => ({
        name: c.name,
        color: i === 0 ? COLORS.ours : COLORS.alt,
      })),
      groups: (deployed?.levels ?? []).map((l) => ({
        label: `${l.parallel} in parallel`,
        values: r.throughput.map(
          (c) => c.levels.find((x) => x.parallel === l.parallel)?.ratio ?? Number.NaN,
        ),
      })),
      reference: { y: 0.25, label: 'target at 100 in parallel: 0.25' },
      format: (v) => v.toFixed(2),
    }),
    [CHART_FILES.latency]: barChart({
      title: 'Last trigger accepted → handler start (log scale)',
      yLabel: 'milliseconds',
      log: true,
      series: [
        { name: 'p50', color: COLORS.ours },
        { name: 'p95', color: COLORS.durable },
        { name: 'p99', color: COLORS.sfn },
      ],
      groups: [
        {
          label: 'one at a time',
          values: [r.latency.unloaded.p50, r.latency.unloaded.p95, r.latency.unloaded.p99],
        },
        ...r.latency.byParallel.map((l) => ({
          label: `${l.parallel} in parallel`,
          values: [l.latencyMs.p50, l.latencyMs.p95, l.latencyMs.p99],
        })),
      ],
    }),
    [CHART_FILES.modeledLatency]: barChart({
      title: 'AWS latency model: (a) trigger → handler, (b) handler → handler',
      yLabel: 'milliseconds',
      series: [
        { name: 'p50, direct', color: COLORS.ours },
        { name: 'p95, direct', color: COLORS.oursLight },
        { name: 'p50, old path', color: COLORS.floor },
        { name: 'p95, old path', color: COLORS.floorLight },
      ],
      groups: measures.map((m) => ({
        label: `${m.workload} ${m.key === 'triggerToHandler' ? '(a)' : '(b)'}`,
        values: [at(direct, m, 'p50'), at(direct, m, 'p95'), at(old, m, 'p50'), at(old, m, 'p95')],
      })),
      reference: { y: 150, label: 'p50 target (direct): 150 ms' },
      format: (v) => v.toFixed(0),
    }),
  };
}

/**
 * Writes `latest.json`, `latest.md` and the charts into `dir`.
 *
 * @example
 * await writeResults('bench/results', results);
 */
export async function writeResults(dir: string, r: BenchResults): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const files: Record<string, string> = {
    'latest.json': formatJson(r),
    'latest.md': renderMarkdown(r),
    ...renderCharts(r),
  };
  for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
  return Object.keys(files).map((name) => join(dir, name));
}
