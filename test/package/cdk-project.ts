/**
 * CDK projects of the package checks: one made by the CDK CLI's own `init app --language
 * typescript` (the CLI version this repository pins) with the package and esbuild added, and
 * `cdk synth` of a project with no Docker (a `docker` that records any call and fails), read
 * back from its cloud assembly. Imports Node.js and the tarball helpers.
 *
 * @module
 */
import { chmodSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, delimiter, join } from 'node:path';
import {
  type CommandResult,
  describeRun,
  npmInstall,
  npx,
  packageTmp,
  repoBin,
  repoInstalledVersion,
  runOk,
  type Tarball,
  tmpProject,
} from './tarball.ts';

/** The consumer's app module: one workflow, its handler; CommonJS TypeScript, as the template. */
export const CDK_APP_MODULE = `import { defineWorkflow, type TaskHandler, type Workflow } from 'serverless-triggers';

export const greeting: Workflow = defineWorkflow('greeting', {
  t_greet: { after: ['hello'], run: 'greet' },
});

export const workflows: Workflow[] = [greeting];

export const handlers: Record<string, TaskHandler> = {
  greet: ({ kwargs }) => ({ greeting: \`hello \${String(kwargs.hello?.name)}\` }),
};
`;

/** What the stack file gets after its imports. */
const STACK_IMPORTS = `import * as path from 'node:path';
import { TaskHandlerFunction, Triggers } from 'serverless-triggers/cdk';
import { workflows } from './app';
`;

/** What the stack's constructor gets after `super(...)`. */
const STACK_BODY = `
    const greet = new TaskHandlerFunction(this, 'Greet', {
      app: path.join(__dirname, 'app.ts'),
      handler: 'greet',
    });
    new Triggers(this, 'Triggers', { workflows, handlers: { greet } });
`;

/** The jest test that replaces the template's: the workflow on the memory runtime. */
export const CDK_JEST_TEST = `import { createTestRuntime } from 'serverless-triggers/testing';
import { greeting, handlers } from '../lib/app';

test('the greeting workflow greets on the memory runtime', async () => {
  const runtime = await createTestRuntime({ workflow: greeting, handlers });
  try {
    const session = runtime.session('jest-1');
    await session.fire('hello', { name: 'ada' });
    await runtime.settle();
    const instance = await session.instance('t_greet#0');
    expect(instance?.status).toBe('finished');
    expect(instance?.result).toEqual({ greeting: 'hello ada' });
    expect(await session.unresolvedTasks()).toEqual([]);
  } finally {
    await runtime.close();
  }
});
`;

/** A project made by `cdk init app --language typescript`, with the package added. */
export interface CdkInitProject {
  readonly dir: string;
  /** The generated files the checks must leave as generated, as they were generated. */
  readonly generated: {
    tsconfig: string;
    cdkJson: string;
    scripts: unknown;
    devDependencies: Record<string, string>;
  };
  /** The stack file and jest test the template generated (edited, and replaced). */
  readonly stackFile: string;
  readonly testFile: string;
}

/** The one file in `dir` whose name matches `pattern`, or an error naming what is there. */
function onlyFile(dir: string, pattern: RegExp): string {
  const found = readdirSync(dir).filter((name) => pattern.test(name));
  if (found.length !== 1 || found[0] === undefined) {
    throw new Error(`expected one file matching ${pattern} in ${dir}, found: ${found.join(', ')}`);
  }
  return join(dir, found[0]);
}

/** Inserts `text` after `anchor` in `source`, or fails naming the anchor the template lacks. */
function insertAfter(source: string, anchor: string, text: string, file: string): string {
  const at = source.indexOf(anchor);
  if (at < 0) throw new Error(`${file} no longer holds '${anchor}': the CDK template changed`);
  return source.slice(0, at + anchor.length) + text + source.slice(at + anchor.length);
}

/**
 * `cdk init app --language typescript --generate-only` in a new folder, then the app module,
 * the `Triggers` construct in the generated stack, a jest test in place of the generated one,
 * and one `npm install` of the tarball and esbuild (which also installs the template's own
 * dependencies).
 */
export async function makeCdkInitProject(tarball: Tarball): Promise<CdkInitProject> {
  const dir = tmpProject('cdk-consumer');
  await runOk(repoBin('cdk'), ['init', 'app', '--language', 'typescript', '--generate-only'], {
    cwd: dir,
    timeoutMs: 120_000,
  });
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    scripts: unknown;
    devDependencies: Record<string, string>;
  };
  const generated = {
    tsconfig: readFileSync(join(dir, 'tsconfig.json'), 'utf8'),
    cdkJson: readFileSync(join(dir, 'cdk.json'), 'utf8'),
    scripts: manifest.scripts,
    devDependencies: manifest.devDependencies,
  };
  const stackFile = onlyFile(join(dir, 'lib'), /-stack\.ts$/);
  const testFile = onlyFile(join(dir, 'test'), /\.test\.ts$/);

  writeFileSync(join(dir, 'lib', 'app.ts'), CDK_APP_MODULE);
  let stack = readFileSync(stackFile, 'utf8');
  stack = insertAfter(stack, "import { Construct } from 'constructs';\n", STACK_IMPORTS, stackFile);
  stack = insertAfter(stack, 'super(scope, id, props);\n', STACK_BODY, stackFile);
  writeFileSync(stackFile, stack);
  writeFileSync(testFile, CDK_JEST_TEST);

  await npmInstall(dir, [tarball.file, `esbuild@${repoInstalledVersion('esbuild')}`]);
  return { dir, generated, stackFile, testFile };
}

/** A Lambda function of a synthesized template. */
export interface SynthesizedFunction {
  readonly logicalId: string;
  readonly handler: string;
  readonly runtime: string;
  /** Its code's folder in the cloud assembly. */
  readonly assetDir: string;
}

/** What `cdk synth` made. */
export interface Synthesis {
  readonly result: CommandResult;
  readonly functions: SynthesizedFunction[];
  /** The `docker` commands synth ran (none, when it needs no Docker). */
  readonly dockerCalls: string[];
}

let noDockerBin: string | undefined;

/** A folder with a `docker` (and `finch`) that logs its arguments to `$NO_DOCKER_LOG` and fails. */
function noDocker(): string {
  if (noDockerBin === undefined) {
    noDockerBin = tmpProject('no-docker');
    for (const name of ['docker', 'finch']) {
      const file = join(noDockerBin, name);
      writeFileSync(
        file,
        `#!/bin/sh\necho "$0 $*" >> "$NO_DOCKER_LOG"\necho 'Docker is not available in this check' >&2\nexit 1\n`,
      );
      chmodSync(file, 0o755);
    }
  }
  return noDockerBin;
}

/**
 * `npx cdk synth` in `dir` with no Docker: the `docker` on the PATH (and `CDK_DOCKER`) fails
 * and logs its calls. Throws with the output's tail unless synth succeeds.
 */
export async function synth(dir: string): Promise<Synthesis> {
  const bin = noDocker();
  const log = join(packageTmp(), `${basename(dir)}-docker-calls.log`);
  const result = await npx('cdk', ['synth', '--quiet', '--no-notices'], {
    cwd: dir,
    env: {
      PATH: `${bin}${delimiter}${process.env.PATH ?? ''}`,
      CDK_DOCKER: join(bin, 'docker'),
      NO_DOCKER_LOG: log,
    },
    timeoutMs: 300_000,
  });
  if (result.code !== 0) throw new Error(describeRun(result));
  const dockerCalls = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter(Boolean) : [];
  const out = join(dir, 'cdk.out');
  const template = JSON.parse(readFileSync(onlyFile(out, /\.template\.json$/), 'utf8')) as {
    Resources: Record<
      string,
      { Type: string; Properties?: Record<string, unknown>; Metadata?: Record<string, unknown> }
    >;
  };
  const functions = Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === 'AWS::Lambda::Function')
    .map(([logicalId, resource]) => ({
      logicalId,
      handler: String(resource.Properties?.Handler),
      runtime: String(resource.Properties?.Runtime),
      assetDir: join(out, String(resource.Metadata?.['aws:asset:path'])),
    }));
  return { result, functions, dockerCalls };
}
