/**
 * `npm run build` (also `prepack`): everything the published package ships, into `dist/`: the
 * library, the construct's pre-bundled Lambda functions and the local stack's inspector page.
 * May import: anything (a tool above every layer).
 *
 * @module
 */
import { chmod, copyFile, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as esbuild from 'esbuild';
import { build as tsdown } from 'tsdown';
import { ESM_REQUIRE_BANNER, FUNCTIONS_DIST, PREBUILT_FUNCTIONS } from '../infra/functions.ts';
import {
  INSPECTOR_DIST,
  inspectorBundleOptions,
  joinedStylesheets,
} from '../lib/local/inspector/server.ts';
import { LAMBDA_RUNTIME_DIST } from '../lib/local/template/function-host.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const dist = join(root, 'dist');
const started = Date.now();

await rm(dist, { recursive: true, force: true });

/**
 * Library sources every entry may share: not declarations, and not the CLI, the test runtime or
 * the local stack, which only their own entries load (a bundle of a user's handler that imports
 * the package must not reach them).
 */
const isSharedSource = (id: string): boolean =>
  id.endsWith('.ts') &&
  !id.endsWith('.d.ts') &&
  /[\\/]lib[\\/]/.test(id) &&
  !/[\\/]lib[\\/](cli|testing|local)[\\/]/.test(id);

const library = { index: 'lib/index.ts', testing: 'lib/testing/index.ts', cdk: 'infra/index.ts' };
// 1. The library, with tsdown: `index`, `testing` and `cdk` as ES modules and CommonJS, each
//    with declarations (`.d.mts`, `.d.cts`) and source maps; the CLI (`cli.mjs`) and the task
//    Lambda factory the construct's task functions import (`lambda.mjs`) as ES modules only.
await tsdown({
  config: false,
  cwd: root,
  entry: library,
  format: {
    esm: {
      entry: { ...library, cli: 'bin/triggers.ts', lambda: 'lib/adapters/aws-lambda/task.ts' },
    },
    cjs: {},
  },
  platform: 'node',
  target: 'node20',
  dts: true,
  shims: true,
  sourcemap: true,
  clean: false,
  outDir: dist,
  deps: { skipNodeModulesBundle: true },
  outputOptions: {
    // One chunk for the library's shared code and the bundler's own helpers, which every entry
    // imports and which imports no entry: left to itself, the CommonJS build put the helpers in
    // `cdk.cjs` and required it back from the shared chunk, a cycle that breaks `extends`.
    // The CLI, the test runtime and the local stack stay chunks of their own.
    codeSplitting: {
      groups: [
        {
          name: 'shared',
          test: (id: string) => id.includes('rolldown/runtime') || isSharedSource(id),
        },
      ],
    },
  },
  // Timings are not problems; the build of a 2-core machine is slow in plugins, not wrong.
  checks: { pluginTimings: false },
  failOnWarn: true,
  logLevel: 'warn',
});

// The CLI runs with the machine's Node.js, whatever the source's first line says.
const cli = join(dist, 'cli.mjs');
const cliText = (await readFile(cli, 'utf8')).replace(/^#!.*\n/, '');
await writeFile(cli, `#!/usr/bin/env node\n${cliText}`);
await chmod(cli, 0o755);

// 2. The construct's own Lambda functions, pre-bundled with esbuild into `dist/functions/`: one
//    ES module per function, the AWS SDK included, sharing chunks. The construct copies them
//    into each deployment's asset beside that deployment's `app.json`.
await esbuild.build({
  entryPoints: Object.fromEntries(
    PREBUILT_FUNCTIONS.map((kind) => [
      kind,
      join(root, 'lib', 'adapters', 'aws-lambda', 'functions', `${kind}.ts`),
    ]),
  ),
  outdir: join(root, FUNCTIONS_DIST),
  outExtension: { '.js': '.mjs' },
  bundle: true,
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  format: 'esm',
  platform: 'node',
  target: 'node22',
  minify: true,
  // Error names (`Retry`, `ValidationError`...) are part of what instances record.
  keepNames: true,
  legalComments: 'none',
  mainFields: ['module', 'main'],
  banner: { js: ESM_REQUIRE_BANNER },
  logLevel: 'warning',
});

// 3. The local stack's inspector page into `dist/ui/`.
const ui = join(root, INSPECTOR_DIST);
await mkdir(ui, { recursive: true });
await esbuild.build({ ...inspectorBundleOptions(root, true), outfile: join(ui, 'app.js') });
const page = join(root, 'lib', 'local', 'inspector', 'page');
await copyFile(join(page, 'index.html'), join(ui, 'index.html'));
await writeFile(join(ui, 'app.css'), await joinedStylesheets(page));

// 4. The template mode's Lambda runtime: the entry of each local function's own process, run
//    by plain `node` (no TypeScript loader), so it is JavaScript and copied as it is.
const lambdaRuntime = join(root, LAMBDA_RUNTIME_DIST);
await mkdir(dirname(lambdaRuntime), { recursive: true });
await copyFile(join(root, 'lib', 'local', 'template', 'lambda-runtime.mjs'), lambdaRuntime);

process.stdout.write(`built dist/ in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
