/**
 * Soak run of the distributed property: the same test files `npm test` runs, with many more
 * generated cases (`TRIGGERS_SOAK_RUNS`). Exits with the status of the first run that failed.
 * May import: anything (a tool above every layer).
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { parseArgs } from 'node:util';

/**
 * The command line:
 *
 *   npm run soak                      # 5,000 cases on the memory backend
 *   npm run soak -- --runs 20000      # more
 *   npm run soak -- --dynamodb 200    # also 200 cases on DynamoDB Local (slow: minutes)
 *   npm run soak -- --seed 123 --path "45:2:1"   # replay a failure fast-check reported
 */
const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '5000' },
    dynamodb: { type: 'string', default: '0' },
    seed: { type: 'string' },
    path: { type: 'string' },
  },
});

const memoryRuns = Number(values.runs);
const dynamodbCases = Number(values.dynamodb);
if (!Number.isInteger(memoryRuns) || memoryRuns < 0 || !Number.isInteger(dynamodbCases)) {
  console.error('usage: soak [--runs <memory cases>] [--dynamodb <cases>] [--seed <n> --path <p>]');
  process.exit(2);
}

const replay = {
  ...(values.seed !== undefined ? { TRIGGERS_PROPERTY_SEED: values.seed } : {}),
  ...(values.path !== undefined ? { TRIGGERS_PROPERTY_PATH: values.path } : {}),
};

const runs: Array<{ project: string; file: string; cases: number }> = [
  { project: 'memory', file: 'test/properties/distributed.test.ts', cases: memoryRuns },
  {
    project: 'dynamodb-local',
    file: 'test/integration/distributed-property.test.ts',
    cases: dynamodbCases,
  },
];

for (const run of runs) {
  if (run.cases <= 0) continue;
  console.log(`soak: ${run.cases} cases of ${run.file} (${run.project})`);
  const started = Date.now();
  const result = spawnSync('npx', ['vitest', 'run', '--project', run.project, run.file], {
    stdio: 'inherit',
    env: { ...process.env, ...replay, TRIGGERS_SOAK_RUNS: String(run.cases) },
  });
  const seconds = Math.round((Date.now() - started) / 1000);
  if (result.status !== 0) {
    console.error(`soak: ${run.file} failed after ${seconds} s`);
    process.exit(result.status ?? 1);
  }
  console.log(`soak: ${run.cases} cases of ${run.file} passed in ${seconds} s`);
}
