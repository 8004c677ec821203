/**
 * `triggers explore` (`runCli`): an app module's workflow through every order of the events
 * given, or a seeded sample; text and JSON output, `--fail-on-race`, and the one-line errors
 * with their exit codes.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EXIT_ORDER_DEPENDENT } from '../../lib/cli/explore.ts';
import { runCli } from '../../lib/cli/main.ts';
import { type CliRun, captureCli, expectOneLineError } from './cli-run.ts';

let dir: string;

const appSource = (lib: string) => `import { defineWorkflow } from '${lib}';
export const workflows = [
  defineWorkflow('race', { t_x: { after: ['a'], unless: ['b'], run: 'work' } }),
  defineWorkflow('calm', {
    t_p: { after: ['a', 'b'], run: 'work' },
    t_q: { after: ['t_p'], run: 'work' },
  }),
];
export const handlers = { work: async () => ({}) };
export const defaultWorkflow = 'race';
`;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'triggers-explore-'));
  const lib = pathToFileURL(join(import.meta.dirname, '../../lib/index.ts')).href;
  writeFileSync(join(dir, 'app.ts'), appSource(lib));
  writeFileSync(
    join(dir, 'two-apps.ts'),
    appSource(lib).replace("export const defaultWorkflow = 'race';\n", ''),
  );
  writeFileSync(join(dir, 'no-handlers.ts'), 'export const workflows = [];\n');
  writeFileSync(join(dir, 'events.json'), JSON.stringify([{ trigger: 'b' }, 'a']));
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

type Run = CliRun;

const cli = (args: string[]): Promise<Run> =>
  captureCli((io) => runCli(args, io), { env: {}, cwd: dir });

describe('triggers explore', () => {
  it('prints each outcome with its count and smallest order, and says the workflow races', async () => {
    const run = await cli(['explore', '--app', 'app.ts', '--events', 'a,b']);

    expect(run).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toBe(
      [
        "explored workflow 'race' with 2 events: every order (2)",
        '',
        'outcome 1: 1 of 2 orders',
        '  order: a, b',
        '  t_x#0  finished  *',
        '',
        'outcome 2: 1 of 2 orders',
        '  order: b, a',
        '  t_x#0  abandoned  *',
        '',
        'order-dependent: 2 distinct outcomes (* marks the instances that differ)',
        '',
      ].join('\n'),
    );
  });

  it('says a workflow without races is not order-dependent', async () => {
    const run = await cli([
      'explore',
      'calm',
      '--app',
      'app.ts',
      '--events',
      'a,b',
      '--duplicates',
    ]);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain('every order (6)');
    expect(run.stdout).toContain('outcome 1: 6 of 6 orders');
    expect(run.stdout).toContain('  order: a, a (dup), b, b (dup)');
    expect(run.stdout).toContain(
      'not order-dependent for these events: every order ended the same way',
    );
  });

  it('prints JSON with --json', async () => {
    const run = await cli(['explore', '--app', 'app.ts', '--events', '["a","b"]', '--json']);

    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toEqual({
      workflow: 'race',
      events: 2,
      duplicates: false,
      outcomes: [
        { statuses: { 't_x#0': 'finished' }, order: ['a', 'b'], count: 1 },
        { statuses: { 't_x#0': 'abandoned' }, order: ['b', 'a'], count: 1 },
      ],
      runs: 2,
      totalOrders: 2,
      exhaustive: true,
      orderDependent: true,
    });
  });

  it('reads events from a file, as objects or trigger names', async () => {
    const run = await cli(['explore', '--app', 'app.ts', '--events', '@events.json', '--json']);

    expect(run.code).toBe(0);
    // The list as written (b, a) comes first.
    expect(JSON.parse(run.stdout).outcomes.map((o: { order: string[] }) => o.order)).toEqual([
      ['b', 'a'],
      ['a', 'b'],
    ]);
  });

  it('samples with --runs and --seed, and says so', async () => {
    const run = await cli([
      'explore',
      '--app',
      'app.ts',
      '--events',
      'a,b,a,b',
      '--duplicates',
      '--runs',
      '30',
      '--seed',
      '7',
    ]);

    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(
      /^explored workflow 'race' with 4 events: 30 of 2520 orders, sampled with seed 7\n/,
    );
    const counts = [...run.stdout.matchAll(/^outcome \d+: (\d+) of 30 orders$/gm)].map((m) =>
      Number(m[1]),
    );
    expect(counts.reduce((a, b) => a + b, 0)).toBe(30);
    expect(run.stdout).toContain(
      '  order: a#1, a#1 (dup), b#1, b#1 (dup), a#2, a#2 (dup), b#2, b#2 (dup)',
    );
  });

  it('explores the survey example by default', async () => {
    const run = await cli(['explore', '--events', 'step1,step4,isEmbeddedApp']);

    expect(run.code).toBe(0);
    expect(run.stdout).toContain("explored workflow 'survey' with 3 events: every order (6)");
    expect(run.stdout).toMatch(/t_browserMeta#0 +finished {2}\*/);
    expect(run.stdout).toMatch(/t_browserMeta#0 +abandoned {2}\*/);
  });
});

describe('triggers explore --fail-on-race', () => {
  it(`exits ${EXIT_ORDER_DEPENDENT} after printing the outcomes when there is more than one`, async () => {
    const run = await cli(['explore', '--app', 'app.ts', '--events', 'a,b', '--fail-on-race']);

    expect(run.code).toBe(4);
    expect(run.stdout).toContain('order-dependent: 2 distinct outcomes');
    expect(run.stderr).toBe("triggers: workflow 'race' is order-dependent: 2 distinct outcomes\n");
  });

  it('exits 0 when every order ends the same way', async () => {
    const run = await cli([
      'explore',
      'calm',
      '--app',
      'app.ts',
      '--events',
      'a,b',
      '--fail-on-race',
    ]);

    expect(run).toMatchObject({ code: 0, stderr: '' });
  });
});

describe('triggers explore refuses bad input with exit 1', () => {
  it('needs --events', async () => {
    expectOneLineError(await cli(['explore', '--app', 'app.ts']), 1, /--events is required/);
  });

  it('refuses events that are not JSON, not an array, or not readable', async () => {
    expectOneLineError(
      await cli(['explore', '--app', 'app.ts', '--events', '[nope']),
      1,
      /--events: value is not valid JSON/,
    );
    expectOneLineError(
      await cli(['explore', '--app', 'app.ts', '--events', '@missing.json']),
      1,
      /cannot read file 'missing.json' \(ENOENT\)/,
    );
  });

  it('refuses what explore refuses: bad names, unknown triggers, empty lists, runs < 1', async () => {
    expectOneLineError(
      await cli(['explore', '--app', 'app.ts', '--events', 'a,bad name']),
      1,
      /'events\.1\.trigger' must match/,
    );
    expectOneLineError(
      await cli(['explore', '--app', 'app.ts', '--events', 'a,stpe1']),
      1,
      /no task that listens to 'stpe1'/,
    );
    expectOneLineError(
      await cli(['explore', '--app', 'app.ts', '--events', '[]']),
      1,
      /at least one event/,
    );
    expectOneLineError(
      await cli(['explore', '--app', 'app.ts', '--events', 'a', '--runs', '0']),
      1,
      /'runs' must be at least 1/,
    );
    expectOneLineError(
      await cli(['explore', '--app', 'app.ts', '--events', 'a', '--seed', 'x']),
      1,
      /--seed: 'x' is not a whole number/,
    );
  });

  it('refuses an unknown workflow, an ambiguous app, an app without handlers', async () => {
    expectOneLineError(
      await cli(['explore', 'nope', '--app', 'app.ts', '--events', 'a']),
      1,
      /no workflow 'nope' \(it has race, calm\)/,
    );
    expectOneLineError(
      await cli(['explore', '--app', 'two-apps.ts', '--events', 'a']),
      1,
      /name the workflow to explore: the app module has race, calm/,
    );
    expectOneLineError(
      await cli(['explore', '--app', 'no-handlers.ts', '--events', 'a']),
      1,
      /exports no 'handlers' object/,
    );
  });

  it('refuses options of other commands', async () => {
    expectOneLineError(
      await cli(['explore', '--events', 'a', '--kwargs', '{}']),
      1,
      /explore does not take --kwargs/,
    );
  });
});
