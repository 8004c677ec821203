/**
 * The Lambda functions of a deployment: `NodejsFunction`s bundled locally with esbuild (no
 * Docker) from entry files generated at synth time. Each entry imports a factory of this
 * package's `lambdas/` and builds its runtime once, at cold start, from the environment the
 * `Triggers` construct sets.
 *
 * @module
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { isAbsolute, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import type { TriggersApp } from '../lib/runtime/lambda-env.ts';

/** The root of this package: the generated entries import its `lambdas/` and `lib/` from here. */
export const PACKAGE_ROOT = fileURLToPath(new URL('..', import.meta.url));

const sourceFile = (relative: string): string => JSON.stringify(join(PACKAGE_ROOT, relative));

let entriesDir: string | undefined;

/**
 * Writes a generated entry file into this process's temporary directory and returns its path.
 * The directory sits in the package's `node_modules/.cache`: esbuild bundles only entries under
 * the project root.
 */
function writeEntry(key: string, source: string): string {
  if (entriesDir === undefined) {
    const cache = join(PACKAGE_ROOT, 'node_modules', '.cache', 'serverless-triggers');
    mkdirSync(cache, { recursive: true });
    const dir = mkdtempSync(join(cache, 'entries-'));
    entriesDir = dir;
    // Bundling runs while the function is constructed; the entries are not needed after that.
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
  }
  const dir = join(entriesDir, createHash('sha256').update(key).digest('hex').slice(0, 16));
  mkdirSync(dir, { recursive: true });
  const file = join(dir, 'index.ts');
  writeFileSync(file, source);
  return file;
}

/** What every generated entry builds its runtime with: `runtimeFromEnv`, once, at cold start. */
const RUNTIME_PRELUDE = `import { runtimeFromEnv } from ${sourceFile('lib/runtime/lambda-env.ts')};
`;

/** The three functions every deployment has, and the timers' (when a workflow has timers). */
export type CoreFunctionKind = 'ingest' | 'evaluator' | 'dispatcher' | 'timer';

const FACTORIES: Record<CoreFunctionKind, string> = {
  ingest: 'createIngestHandler',
  evaluator: 'createEvaluatorHandler',
  dispatcher: 'createDispatcherHandler',
  timer: 'createTimerHandler',
};

/**
 * The source of a core function's entry: its factory over the workflows, inlined as JSON.
 *
 * @example
 * coreEntrySource('evaluator', { workflows: [survey] });
 * // ... export const handler = createEvaluatorHandler(runtimeFromEnv({"workflows":[...]}));
 */
export function coreEntrySource(kind: CoreFunctionKind, app: TriggersApp): string {
  const factory = FACTORIES[kind];
  const definition = {
    workflows: app.workflows,
    ...(app.defaultWorkflow !== undefined ? { defaultWorkflow: app.defaultWorkflow } : {}),
  };
  return `import { ${factory} } from ${sourceFile(`lambdas/${kind}.ts`)};
${RUNTIME_PRELUDE}
export const handler = ${factory}(runtimeFromEnv(${JSON.stringify(definition)}));
`;
}

/**
 * The source of an EventBridge ingestion function's entry: `createEventBridgeHandler` over the
 * workflows, inlined as JSON; the mapping comes from the function's environment.
 *
 * @example
 * eventBridgeEntrySource({ workflows: [orders] });
 * // ... export const handler = createEventBridgeHandler(eventBridgeRuntimeFromEnv({"workflows":[...]}));
 */
export function eventBridgeEntrySource(app: TriggersApp): string {
  const definition = {
    workflows: app.workflows,
    ...(app.defaultWorkflow !== undefined ? { defaultWorkflow: app.defaultWorkflow } : {}),
  };
  return `import { createEventBridgeHandler } from ${sourceFile('lambdas/eventbridge.ts')};
import { eventBridgeRuntimeFromEnv } from ${sourceFile('lib/runtime/eventbridge-env.ts')};

export const handler = createEventBridgeHandler(eventBridgeRuntimeFromEnv(${JSON.stringify(definition)}));
`;
}

/**
 * The source of the stale-sessions function's entry: `createStaleMonitorHandler` over the
 * runtime and the settings of its environment (the age, the stale index).
 *
 * @example
 * staleEntrySource({ workflows: [survey] });
 * // ... export const handler = createStaleMonitorHandler(runtimeFromEnv({...}), settingsFromEnv(process.env));
 */
export function staleEntrySource(app: TriggersApp): string {
  const definition = {
    workflows: app.workflows,
    ...(app.defaultWorkflow !== undefined ? { defaultWorkflow: app.defaultWorkflow } : {}),
  };
  return `import { createStaleMonitorHandler } from ${sourceFile('lambdas/stale.ts')};
import { runtimeFromEnv, settingsFromEnv } from ${sourceFile('lib/runtime/lambda-env.ts')};

export const handler = createStaleMonitorHandler(runtimeFromEnv(${JSON.stringify(definition)}), settingsFromEnv(process.env));
`;
}

/**
 * The source of a task function's entry: `createTaskHandler` over an app module.
 *
 * @example
 * taskEntrySource('/srv/app.ts', 'score');
 */
export function taskEntrySource(appModule: string, handlerName: string): string {
  return `import { createTaskHandler } from ${sourceFile('lambdas/task.ts')};
import * as app from ${JSON.stringify(appModule)};

export const handler = createTaskHandler(app, ${JSON.stringify(handlerName)});
`;
}

/** Options every function of a deployment shares. */
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

/** Props of `TriggersFunction`. */
export interface TriggersFunctionProps extends TriggersFunctionOptions {
  /** The source of the generated entry file. */
  readonly entrySource: string;
  /** What the function does, for the console. */
  readonly description: string;
  /**
   * Where asynchronous invocations go once their retries are spent.
   * @default - none
   */
  readonly deadLetterQueue?: sqs.IQueue;
}

/**
 * A function of a deployment: Node.js 22 on ARM64, an ESM bundle built locally by esbuild from
 * a generated entry, its own log group.
 *
 * @example
 * new TriggersFunction(this, 'Evaluator', {
 *   entrySource: coreEntrySource('evaluator', { workflows }),
 *   description: 'Applies fired events',
 * });
 */
export class TriggersFunction extends NodejsFunction {
  constructor(scope: Construct, id: string, props: TriggersFunctionProps) {
    const logGroup = new logs.LogGroup(scope, `${id}Logs`, {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });
    super(scope, id, {
      entry: writeEntry(`${scope.node.path}/${id}\n${props.entrySource}`, props.entrySource),
      handler: 'handler',
      description: props.description,
      runtime: lambda.Runtime.NODEJS_22_X,
      architecture: lambda.Architecture.ARM_64,
      timeout: props.timeout ?? Duration.seconds(30),
      memorySize: props.memorySize ?? 512,
      tracing: props.tracing ?? lambda.Tracing.DISABLED,
      logGroup,
      ...(props.deadLetterQueue !== undefined ? { deadLetterQueue: props.deadLetterQueue } : {}),
      projectRoot: PACKAGE_ROOT,
      depsLockFilePath: join(PACKAGE_ROOT, 'package-lock.json'),
      bundling: {
        forceDockerBundling: false,
        format: OutputFormat.ESM,
        target: 'node22',
        minify: true,
        sourceMap: false,
        mainFields: ['module', 'main'],
        // CommonJS dependencies of the bundle still call `require`, which an ES module lacks.
        banner:
          "import { createRequire as __triggersCreateRequire } from 'node:module'; const require = __triggersCreateRequire(import.meta.url);",
      },
    });
  }
}

/** Props of `TaskHandlerFunction`. */
export interface TaskHandlerFunctionProps extends TriggersFunctionOptions {
  /**
   * The app module: a path (absolute, or relative to the working directory) or `file:` URL of a
   * module exporting `{ workflows, handlers, defaultWorkflow? }`.
   */
  readonly app: string;
  /** The name of the task handler in the app's `handlers` this function runs. */
  readonly handler: string;
}

/**
 * The function of one task handler of an app module, ready for `Triggers.addTaskHandler`.
 *
 * @example
 * const score = new TaskHandlerFunction(this, 'Score', { app: '/srv/survey/app.ts', handler: 'score' });
 * triggers.addTaskHandler('score', score);
 */
export class TaskHandlerFunction extends TriggersFunction {
  constructor(scope: Construct, id: string, props: TaskHandlerFunctionProps) {
    const appModule = props.app.startsWith('file:')
      ? fileURLToPath(props.app)
      : isAbsolute(props.app)
        ? props.app
        : resolve(props.app);
    super(scope, id, {
      ...props,
      entrySource: taskEntrySource(appModule, props.handler),
      description: `Runs the task handler '${props.handler}'`,
    });
  }
}
