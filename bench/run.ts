/**
 * `npm run bench [-- --quick] [-- --out <dir>]`: runs the suite on the local stack and writes
 * `latest.json`, `latest.md` and the SVG charts (default `bench/results/`); `--render` rewrites
 * the Markdown and the charts from a saved `latest.json` without measuring anything.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { writeResults } from './report.ts';
import type { BenchResults } from './run-results.ts';
import { DEFAULT_OUT_DIR, runBench } from './suite.ts';
import { judgeTargets } from './targets.ts';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string' },
    'no-progress': { type: 'boolean', default: false },
    render: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (values.help) {
  process.stdout.write(
    [
      'usage: npm run bench [-- --quick] [-- --out <dir>] [-- --no-progress]',
      '',
      '  --quick        the CI-sized run (about three minutes): flatness up to 1,000 events',
      `  --out <dir>    where to write the results (default ${DEFAULT_OUT_DIR})`,
      '  --no-progress  no progress bars',
      "  --render       only rewrite the report and charts (and the targets' wording) from the latest.json in --out",
      '',
    ].join('\n'),
  );
  process.exit(0);
}

const outDir = values.out ?? DEFAULT_OUT_DIR;
if (values.render) {
  const saved = JSON.parse(await readFile(join(outDir, 'latest.json'), 'utf8')) as BenchResults;
  const simple = saved.cost.find((w) => w.name === 'simple');
  if (simple) {
    saved.targets = judgeTargets({
      simple,
      flatness: saved.flatness.points,
      throughput: saved.throughput[0]?.levels ?? [],
      otherThroughput: saved.throughput.slice(1),
      ...(saved.modeledLatency ? { modeled: saved.modeledLatency } : {}),
    });
  }
  const files = await writeResults(outDir, saved);
  process.stdout.write(`rewrote ${files.length} files in ${outDir}\n`);
  process.exit(0);
}
const results = await runBench({
  quick: values.quick,
  outDir,
  progress: !values['no-progress'],
});
const lines = [
  '',
  `${results.meta.mode} run in ${results.meta.seconds.toFixed(0)} s; results in ${outDir}`,
  ...results.targets.map(
    (t) =>
      `  ${t.pass ? 'pass' : 'MISS'}  ${t.description}: ${+t.value.toFixed(2)} (target ${t.target}; ${t.margin})`,
  ),
  ...results.meta.notes.map((n) => `  note: ${n}`),
  '',
];
process.stdout.write(lines.join('\n'));
