/**
 * `triggers dev` before anything starts: the app module loader (TypeScript or JavaScript, ESM or
 * CommonJS, where the module is found) and the bad input that ends `dev` with one line on
 * stderr and exit code 2. Fixture modules are written to a temporary folder; the TypeScript
 * ones import the repository's `lib/index.ts` by absolute URL. The stack itself is in
 * `test/integration/dev.test.ts`.
 */
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AppModuleError, appModuleFile, loadAppModule } from '../../lib/cli/app-module.ts';
import { EXIT } from '../../lib/cli/errors.ts';
import { commandOf, runCli, USAGE } from '../../lib/cli/main.ts';
import { packageRoot } from '../../lib/package-root.ts';
import { type CliRun, captureCli, expectOneLineError } from './cli-run.ts';
import { rejectionOf } from './fixtures.ts';

let dir: string;
const lib = pathToFileURL(join(import.meta.dirname, '../../lib/index.ts')).href;

/** A one-workflow app in TypeScript: `go` runs `work`, which `handlers` names `handler`. */
const tsApp = (handler = 'work') => `import { defineWorkflow, type TaskHandler } from '${lib}';
const work: TaskHandler = () => ({ done: true });
export const workflows = [defineWorkflow('typed', { t_w: { after: ['go'], run: 'work' } })];
export const handlers: Record<string, TaskHandler> = { ${handler}: work };
export const defaultWorkflow = 'typed';
`;

const FIXTURES: Record<string, string> = {
  'app.ts': tsApp(),
  'app.mts': tsApp().replace("'typed'", "'esm-ts'").replace("'typed'", "'esm-ts'"),
  'app.cts': `const work = (): Record<string, unknown> => ({ done: true });
export const workflows = [{ name: 'cjs-ts', tasks: { t_w: { after: ['go'], run: 'work' } } }];
export const handlers = { work };
`,
  'app.mjs': `import { defineWorkflow } from '${lib}';
export const workflows = [defineWorkflow('esm', { t_w: { after: ['go'], run: 'work' } })];
export const handlers = { work: () => ({ done: true }) };
`,
  'app.cjs': `module.exports = {
  workflows: [{ name: 'cjs', tasks: { t_w: { after: ['go'], run: 'work' } } }],
  handlers: { work: () => ({ done: true }) },
  defaultWorkflow: 'cjs',
};
`,
  'app.js': `exports.workflows = [{ name: 'cjs-js', tasks: { t_w: { after: ['go'], run: 'work' } } }];
exports.handlers = { work: () => ({ done: true }) };
`,
  'timers.ts': `import { defineWorkflow } from '${lib}';
export const workflows = [{
  ...defineWorkflow('reminders', { t_nudge: { after: ['late'], run: 'nudge' } }),
  timers: { late: { after: '1h', from: 'signedUp' } },
}];
export const handlers = { nudge: () => ({}) };
`,
  'graph-only.ts': `import { defineWorkflow } from '${lib}';
export const workflows = [defineWorkflow('drawn', { t_a: { after: ['go'], run: 'nobody' } })];
`,
  'no-workflows.ts': 'export const handlers = {};\n',
  'empty.ts': 'export const workflows = [];\nexport const handlers = {};\n',
  'wrong-handler.ts': tsApp('wrok'),
  'not-a-function.ts': tsApp().replace('{ work: work }', '{ work: 42 as never }'),
  'bad-default.ts': tsApp().replace("defaultWorkflow = 'typed'", "defaultWorkflow = 'nope'"),
  'invalid-workflow.ts': `export const workflows = [{ name: 'w', tasks: { t_a: { after: ['t_a'], run: 'h' } } }];
export const handlers = { h: () => ({}) };
`,
  'throws.ts': "throw new Error('the database URL is not set');\n",
  'syntax.ts': 'export const workflows = [;\n',
  'app.json': '{}\n',
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'triggers-dev-'));
  for (const [name, source] of Object.entries(FIXTURES)) writeFileSync(join(dir, name), source);
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const cli = (args: string[], env: Record<string, string> = {}): Promise<CliRun> =>
  captureCli((io) => runCli(args, io), { env, cwd: dir });

const source = (app: string) => ({ app, env: {}, cwd: dir });

describe('loadAppModule', () => {
  it.each([
    ['app.ts', 'typed', 'TypeScript, ESM'],
    ['app.mts', 'esm-ts', 'TypeScript, .mts'],
    ['app.cts', 'cjs-ts', 'TypeScript, CommonJS (.cts)'],
    ['app.mjs', 'esm', 'JavaScript, ESM'],
    ['app.cjs', 'cjs', 'JavaScript, CommonJS (module.exports, seen under default)'],
    ['app.js', 'cjs-js', 'JavaScript, CommonJS by its folder'],
  ])('loads %s (%s is its workflow: %s)', async (file, workflow) => {
    const app = await loadAppModule(source(file));
    expect(app.workflows.map((w) => w.name)).toEqual([workflow]);
    expect(await app.handlers.work?.({} as never)).toEqual({ done: true });
    expect(app.file).toBe(join(dir, file));
    expect(app.shown).toBe(file);
  });

  it('keeps defaultWorkflow, named or under a CommonJS default', async () => {
    expect((await loadAppModule(source('app.ts'))).defaultWorkflow).toBe('typed');
    expect((await loadAppModule(source('app.cjs'))).defaultWorkflow).toBe('cjs');
    expect((await loadAppModule(source('app.mjs'))).defaultWorkflow).toBeUndefined();
  });

  it('asks no handler of a timer', async () => {
    const app = await loadAppModule(source('timers.ts'));
    expect(app.workflows[0]?.name).toBe('reminders');
  });

  it('needs no handlers when the caller only draws the workflows', async () => {
    const app = await loadAppModule(source('graph-only.ts'), { handlers: false });
    expect(app.workflows.map((w) => w.name)).toEqual(['drawn']);
    expect(app.handlers).toEqual({});
    const err = await rejectionOf(loadAppModule(source('graph-only.ts')));
    expect(err).toBeInstanceOf(AppModuleError);
  });

  it('finds the module by --app, else TRIGGERS_APP, else the example app of the checkout', () => {
    expect(appModuleFile({ app: 'app.ts', env: { TRIGGERS_APP: 'app.cjs' }, cwd: dir })).toEqual({
      file: join(dir, 'app.ts'),
      shown: 'app.ts',
    });
    expect(appModuleFile({ env: { TRIGGERS_APP: 'app.cjs' }, cwd: dir }).file).toBe(
      join(dir, 'app.cjs'),
    );
    expect(appModuleFile({ env: {}, cwd: dir }).file).toBe(
      join(packageRoot(), 'examples', 'survey', 'app.ts'),
    );
  });
});

describe('triggers dev: bad input is one line on stderr and exit 2', () => {
  it('refuses a missing app file', async () => {
    expectOneLineError(
      await cli(['dev', '--app', 'nowhere.ts']),
      2,
      /cannot load app module 'nowhere\.ts': no such file .*nowhere\.ts/,
    );
    expectOneLineError(
      await cli(['dev'], { TRIGGERS_APP: 'gone.mjs' }),
      2,
      /cannot load app module 'gone\.mjs'/,
    );
  });

  it('refuses a file that is not a module it can load', async () => {
    expectOneLineError(await cli(['dev', '--app', 'app.json']), 2, /must be a \.ts, .* or \.cjs/);
    expectOneLineError(await cli(['dev', '--app', '.']), 2, /is not a file/);
  });

  it('refuses an app module that exports no workflows, or none', async () => {
    expectOneLineError(
      await cli(['dev', '--app', 'no-workflows.ts']),
      2,
      /app module 'no-workflows\.ts' exports no 'workflows' array/,
    );
    expectOneLineError(
      await cli(['dev', '--app', 'empty.ts']),
      2,
      /exports an empty 'workflows' array/,
    );
  });

  it('refuses a task whose run names no handler, and a handler that is not a function', async () => {
    expectOneLineError(
      await cli(['dev', '--app', 'wrong-handler.ts']),
      2,
      /task 't_w' runs 'work', but no task handler of that name is registered \(known: wrok\)/,
    );
    expectOneLineError(
      await cli(['dev', '--app', 'not-a-function.ts']),
      2,
      /handler 'work' is not a function/,
    );
  });

  it('refuses an invalid workflow and a defaultWorkflow it does not export', async () => {
    expectOneLineError(
      await cli(['dev', '--app', 'invalid-workflow.ts']),
      2,
      /app module 'invalid-workflow\.ts': .*t_a/,
    );
    expectOneLineError(
      await cli(['dev', '--app', 'bad-default.ts']),
      2,
      /defaultWorkflow "nope" is not one of its workflows \(typed\)/,
    );
  });

  it('reports a module that throws while loading with its message', async () => {
    expectOneLineError(
      await cli(['dev', '--app', 'throws.ts']),
      2,
      /cannot load app module 'throws\.ts': the database URL is not set/,
    );
    expectOneLineError(await cli(['dev', '--app', 'syntax.ts']), 2, /cannot load app module/);
  });

  it('refuses an unknown option, an argument and a bad port', async () => {
    expectOneLineError(await cli(['dev', '--bogus']), 2, /Unknown option '--bogus'/);
    expectOneLineError(await cli(['dev', '--kwargs', '{}']), 2, /dev does not take --kwargs/);
    expectOneLineError(await cli(['dev', 'extra']), 2, /dev: unexpected argument 'extra'/);
    expectOneLineError(
      await cli(['dev', '--port', '65536']),
      2,
      /--port: '65536' is not a port number/,
    );
    expectOneLineError(await cli(['dev', '--port', '3e3']), 2, /--port: '3e3'/);
    expectOneLineError(await cli(['dev'], { PORT: 'eighty' }), 2, /PORT: 'eighty'/);
  });

  it('leaves the exit codes of the other commands as they were', async () => {
    expectOneLineError(await cli(['graph', '--app', 'nowhere.ts']), 1, /cannot load app module/);
    expectOneLineError(await cli(['inspect', 's', '--bogus']), 1, /bogus/);
    expect(EXIT.usage).toBe(1);
    expect(EXIT.devUsage).toBe(2);
  });
});

describe('the dev and init commands in the CLI', () => {
  it('are in the usage text, with the exit codes of dev', () => {
    expect(USAGE).toMatch(/^ {2}dev \[--app path\] \[--port N\] \[--persist DIR\]$/m);
    expect(USAGE).toMatch(/^ {2}init <dir>/m);
    expect(USAGE).toMatch(/dev and init: 0 ok .*, 1 the stack or project could\nnot be made/);
    expect(USAGE).toMatch(
      /2 usage error \(unknown option,\nbad port, a missing or invalid app module/,
    );
  });

  it('reads the command even from arguments that do not parse', () => {
    expect(commandOf(['--json', 'dev', '--bogus', '--port'])).toBe('dev');
    expect(commandOf(['--api-url', 'http://x', 'fire', 's', 'go'])).toBe('fire');
    expect(commandOf([])).toBeUndefined();
  });

  it('wires init: a missing folder and a stray argument are usage errors (2), nothing written', async () => {
    const before = readdirSync(dir).sort();
    expectOneLineError(await cli(['init']), 2, /init/);
    expectOneLineError(await cli(['init', 'a', 'b']), 2, /init: unexpected argument 'b'/);
    expect(readdirSync(dir).sort()).toEqual(before);
  });
});
