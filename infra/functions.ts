/**
 * The Lambda functions of a deployment: the construct's own, pre-bundled in the package
 * (`TriggersFunction`), and a task handler's, bundled from the user's code (`TaskHandlerFunction`).
 * May import: anything under lib/ and aws-cdk-lib.
 *
 * @module
 */

import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { TriggersApp } from '../lib/adapters/aws-lambda/environment.ts';
import { DEPLOYMENT_FILE } from '../lib/adapters/aws-lambda/functions/deployment.ts';
import { NotAvailableError } from '../lib/errors.ts';
import { PACKAGE_NAME, packageRoot } from '../lib/package-root.ts';

/**
 * The construct's own functions, each a pre-bundled ES module `dist/functions/<name>.mjs`.
 *
 * @example
 * for (const name of PREBUILT_FUNCTIONS) console.log(`dist/functions/${name}.mjs`);
 */
export const PREBUILT_FUNCTIONS = [
  'ingest',
  'evaluator',
  'timer',
  'eventbridge',
  'stale',
  'lifecycle',
] as const;

/**
 * One of the construct's own functions.
 *
 * @example
 * const fn: PrebuiltFunction = 'evaluator';
 */
export type PrebuiltFunction = (typeof PREBUILT_FUNCTIONS)[number];

/**
 * Where the package keeps the pre-bundled functions, from its root.
 *
 * @example
 * join(packageRoot(), FUNCTIONS_DIST, 'evaluator.mjs');
 */
export const FUNCTIONS_DIST = 'dist/functions';

/**
 * The first line of every ES module bundle of a Lambda function: CommonJS dependencies of the
 * bundle still call `require`, which an ES module lacks.
 *
 * @example
 * await esbuild.build({ entryPoints, format: 'esm', banner: { js: ESM_REQUIRE_BANNER } });
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire as __triggersCreateRequire } from 'node:module'; const require = __triggersCreateRequire(import.meta.url);";

/** Where the package keeps the task Lambda factory a task function's entry imports. */
const TASK_FACTORY_DIST = 'dist/lambda.mjs';

/** The package file at `relative`, or a one-line error saying the package is not built. */
function builtFile(relative: string): string {
  const file = join(packageRoot(), relative);
  if (!existsSync(file)) {
    throw new NotAvailableError(
      `${PACKAGE_NAME}: ${relative} is missing: the package is not built (in a checkout, run npm run build)`,
    );
  }
  return file;
}

/** The folders this process wrote for synth, by parent; deleted when the process ends. */
const scratchDirs = new Map<string, string>();

/** A folder of this process's own under `parent`, with a subfolder per `key`. */
function scratch(parent: string, key: string): string {
  let dir = scratchDirs.get(parent);
  if (dir === undefined) {
    mkdirSync(parent, { recursive: true });
    const made = mkdtempSync(join(parent, 'serverless-triggers-'));
    if (scratchDirs.size === 0) {
      process.once('exit', () => {
        for (const d of scratchDirs.values()) rmSync(d, { recursive: true, force: true });
      });
    }
    scratchDirs.set(parent, made);
    dir = made;
  }
  const sub = join(dir, createHash('sha256').update(key).digest('hex').slice(0, 16));
  mkdirSync(sub, { recursive: true });
  return sub;
}

/**
 * The code of a deployment's own functions: the pre-bundled functions and an `app.json` with
 * its workflows, in one folder that synth stages as one asset (its hash follows the workflows).
 *
 * @example
 * const code = deploymentCode({ workflows: [survey] });
 * new TriggersFunction(this, 'Evaluator', { code, function: 'evaluator', description: '...' });
 */
export function deploymentCode(app: TriggersApp): lambda.Code {
  const bundles = builtFile(FUNCTIONS_DIST);
  // The definition only: a default workflow left undefined drops out of the JSON.
  const definition = JSON.stringify({
    workflows: app.workflows,
    defaultWorkflow: app.defaultWorkflow,
  });
  const dir = scratch(tmpdir(), definition);
  cpSync(bundles, dir, { recursive: true });
  writeFileSync(join(dir, DEPLOYMENT_FILE), definition);
  return lambda.Code.fromAsset(dir);
}

/**
 * Options every function of a deployment shares.
 *
 * @example
 * const options: TriggersFunctionOptions = { logRetention: logs.RetentionDays.ONE_WEEK };
 */
export interface TriggersFunctionOptions {
  /**
   * How long the function's logs are kept.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * What happens to the function's log group when it leaves the stack.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * X-Ray tracing.
   * @default lambda.Tracing.DISABLED
   */
  readonly tracing?: lambda.Tracing;
  /**
   * The function's timeout.
   * @default Duration.seconds(30)
   */
  readonly timeout?: Duration;
  /**
   * The function's memory, in MiB.
   * @default 512
   */
  readonly memorySize?: number;
}

/** What the functions of a deployment have in common: Node.js 22 on ARM64, their own log group. */
function commonProps(
  scope: Construct,
  id: string,
  props: TriggersFunctionOptions & { description: string; deadLetterQueue?: sqs.IQueue },
) {
  const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
    retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
    removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
  });
  return {
    description: props.description,
    runtime: lambda.Runtime.NODEJS_22_X,
    architecture: lambda.Architecture.ARM_64,
    timeout: props.timeout ?? Duration.seconds(30),
    memorySize: props.memorySize ?? 512,
    tracing: props.tracing ?? lambda.Tracing.DISABLED,
    logGroup,
    ...(props.deadLetterQueue !== undefined ? { deadLetterQueue: props.deadLetterQueue } : {}),
  };
}

/**
 * Props of `TriggersFunction`.
 *
 * @example
 * const props: TriggersFunctionProps = { code, function: 'timer', description: 'Fires timers' };
 */
export interface TriggersFunctionProps extends TriggersFunctionOptions {
  /** The deployment's code (`deploymentCode`), shared by its functions. */
  readonly code: lambda.Code;
  /** Which of the pre-bundled functions this is. */
  readonly function: PrebuiltFunction;
  /** What the function does, for the console. */
  readonly description: string;
  /**
   * Where asynchronous invocations go once their retries are spent.
   * @default - none
   */
  readonly deadLetterQueue?: sqs.IQueue;
}

/**
 * One of the construct's own functions (ingest, evaluator, timer, EventBridge
 * ingestion, stale sessions, lifecycle events): a pre-bundled ES module of the package (`dist/functions/`, built by
 * `npm run build`), over the deployment's workflows, which it reads from `app.json` at cold
 * start. No bundler, no Docker.
 *
 * @example
 * new TriggersFunction(this, 'Evaluator', {
 *   code: deploymentCode({ workflows }),
 *   function: 'evaluator',
 *   description: 'Applies fired events',
 * });
 */
export class TriggersFunction extends lambda.Function {
  constructor(scope: Construct, id: string, props: TriggersFunctionProps) {
    super(scope, id, {
      ...commonProps(scope, id, props),
      code: props.code,
      handler: `${props.function}.handler`,
    });
  }
}

/** The lock files `NodejsFunction` knows, in the order it looks for them. */
const LOCK_FILES = ['pnpm-lock.yaml', 'yarn.lock', 'bun.lock', 'bun.lockb', 'package-lock.json'];

/**
 * The nearest lock file at or above `dir`, as `NodejsFunction` finds it.
 *
 * @example
 * findLockFile(process.cwd()); // '/srv/app/package-lock.json'
 */
export function findLockFile(dir: string): string | undefined {
  for (let at = resolve(dir); ; at = dirname(at)) {
    const found = LOCK_FILES.map((name) => join(at, name)).find((file) => existsSync(file));
    if (found !== undefined) return found;
    if (dirname(at) === at) return undefined;
  }
}

/**
 * Whether esbuild can be found the way `NodejsFunction` looks for it (its module, or the PATH).
 *
 * @example
 * if (!esbuildInstalled()) console.warn('npm install --save-dev esbuild');
 */
export function esbuildInstalled(): boolean {
  try {
    createRequire(createRequire(import.meta.url).resolve('aws-cdk-lib')).resolve('esbuild');
    return true;
  } catch {
    const probe = spawnSync('esbuild', ['--version']);
    return probe.status === 0 && probe.error === undefined;
  }
}

/**
 * Stops synth with one line when esbuild is missing, instead of `NodejsFunction`'s fallback to
 * Docker.
 *
 * @example
 * checkEsbuild("TaskHandlerFunction 'Score'"); // throws NotAvailableError without esbuild
 */
export function checkEsbuild(where: string, installed: boolean = esbuildInstalled()): void {
  if (!installed) {
    throw new NotAvailableError(
      `${where} bundles your handler code with esbuild, which is not installed: npm install --save-dev esbuild`,
    );
  }
}

/**
 * The source of a task function's entry: `createTaskHandler` over the app module.
 *
 * @example
 * taskEntrySource('/srv/app.ts', 'score');
 */
export function taskEntrySource(appModule: string, handlerName: string): string {
  return `import { createTaskHandler } from ${JSON.stringify(builtFile(TASK_FACTORY_DIST))};
import * as app from ${JSON.stringify(appModule)};

export const handler = createTaskHandler(app.workflows ? app : app.default, ${JSON.stringify(handlerName)});
`;
}

/**
 * Props of `TaskHandlerFunction`.
 *
 * @example
 * const props: TaskHandlerFunctionProps = { app: './src/app.ts', handler: 'score' };
 */
export interface TaskHandlerFunctionProps extends TriggersFunctionOptions {
  /**
   * The app module: a path (absolute, or relative to the working directory) or `file:` URL of a
   * module exporting `{ workflows, handlers, defaultWorkflow? }`.
   */
  readonly app: string;
  /** The name of the task handler in the app's `handlers` this function runs. */
  readonly handler: string;
  /**
   * The lock file of the project the app module belongs to; its folder is the project root
   * esbuild bundles from.
   * @default - the nearest lock file at or above the working directory (as `NodejsFunction`)
   */
  readonly depsLockFilePath?: string;
}

/**
 * The function of one task handler of an app module, ready for `Triggers.addTaskHandler`: the
 * app's code bundled by esbuild (an ES module, no Docker), as `NodejsFunction` does, against the
 * project's lock file; esbuild must be installed in the project (`npm install --save-dev esbuild`).
 *
 * @example
 * const score = new TaskHandlerFunction(this, 'Score', { app: '/srv/survey/app.ts', handler: 'score' });
 * triggers.addTaskHandler('score', score);
 */
export class TaskHandlerFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: TaskHandlerFunctionProps) {
    const where = `TaskHandlerFunction '${id}'`;
    const appModule = props.app.startsWith('file:')
      ? fileURLToPath(props.app)
      : isAbsolute(props.app)
        ? props.app
        : resolve(props.app);
    if (!existsSync(appModule)) {
      throw new NotAvailableError(`${where}: the app module ${appModule} does not exist`);
    }
    const lockFile = props.depsLockFilePath ?? findLockFile(process.cwd());
    if (lockFile === undefined) {
      throw new NotAvailableError(
        `${where}: no lock file (${LOCK_FILES.join(', ')}) at or above ${process.cwd()}: install your project's dependencies first (npm install)`,
      );
    }
    checkEsbuild(where);
    const projectRoot = dirname(lockFile);
    const source = taskEntrySource(appModule, props.handler);
    // esbuild bundles only entries under the project root.
    const cache = join(projectRoot, 'node_modules', '.cache', PACKAGE_NAME);
    const entry = join(scratch(cache, `${scope.node.path}/${id}\n${source}`), 'index.mjs');
    writeFileSync(entry, source);
    super(scope, id, {
      ...commonProps(scope, id, {
        ...props,
        description: `Runs the task handler '${props.handler}'`,
      }),
      entry,
      handler: 'handler',
      projectRoot,
      depsLockFilePath: lockFile,
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        keepNames: true,
        sourceMap: false,
        mainFields: ['module', 'main'],
        banner: ESM_REQUIRE_BANNER,
      },
    });
  }
}
