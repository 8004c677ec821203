/**
 * The app module of `triggers dev`, `graph` and `explore`: where it is, how it loads (TS or JS,
 * ESM or CommonJS) and what it must export (`{ workflows, handlers, defaultWorkflow? }`).
 * May import: anything under lib/ (cli), Node.js; tsx only when the module is TypeScript.
 *
 * @module
 */
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { extname, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { checkHandlers, compileWorkflow } from '../engine/workflow.ts';
import { WorkflowError } from '../errors.ts';
import { packageRoot } from '../package-root.ts';
import type { TaskHandler, Workflow } from '../types.ts';

/** What an app module exports, checked. */
export interface AppModule {
  readonly workflows: Workflow[];
  /** Empty when the caller did not ask for handlers. */
  readonly handlers: Record<string, TaskHandler>;
  readonly defaultWorkflow?: string;
  /** The module's file, absolute. */
  readonly file: string;
  /** The module as the user named it (or the example's path), for messages. */
  readonly shown: string;
}

/** Where `loadAppModule` looks for the module. */
export interface AppModuleSource {
  /** The `--app` option. @default - `env.TRIGGERS_APP`, else the example app of a checkout */
  readonly app?: string;
  /** Where `TRIGGERS_APP` is read. */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** What a relative path resolves against. */
  readonly cwd: string;
}

/** Options of `loadAppModule`. */
export interface AppModuleOptions {
  /**
   * Require a `handlers` object of functions with one for every task's `run` (what running the
   * workflows needs; drawing them does not).
   * @default true
   */
  readonly handlers?: boolean;
}

/** The app module is missing, does not load, or does not export a valid app. */
export class AppModuleError extends Error {
  constructor(message: string, opts: { cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'AppModuleError';
  }
}

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);
const JAVASCRIPT = new Set(['.js', '.mjs', '.cjs']);
const EXPORTS = '{ workflows, handlers, defaultWorkflow? }';

/**
 * The example app of a checkout (`examples/survey/app.ts`); undefined in an installed package,
 * which ships no examples.
 */
function exampleApp(): string | undefined {
  const file = join(packageRoot(), 'examples', 'survey', 'app.ts');
  return existsSync(file) ? file : undefined;
}

/**
 * The app module's file: `--app`, else `$TRIGGERS_APP` (both relative to `cwd`), else the
 * example app when this is a checkout of the repository.
 *
 * @example
 * appModuleFile({ app: 'src/app.ts', env: process.env, cwd: process.cwd() });
 * // { file: '/home/me/proj/src/app.ts', shown: 'src/app.ts' }
 */
export function appModuleFile(source: AppModuleSource): { file: string; shown: string } {
  const given = source.app ?? source.env.TRIGGERS_APP;
  if (given !== undefined && given !== '') {
    return { file: resolve(source.cwd, given), shown: given };
  }
  const example = exampleApp();
  if (example === undefined) {
    throw new AppModuleError(
      `no app module: pass --app path/to/app.ts (or set TRIGGERS_APP) naming a module that exports ${EXPORTS}`,
    );
  }
  return { file: example, shown: example };
}

let typeScriptHooks: Promise<void> | undefined;

/**
 * Registers tsx's loaders, once, for the whole process. Registered for good rather than through
 * `tsImport`: a scoped import loads the module's dependencies a second time, this package
 * included, so every class (a handler's `Retry` or `Skip`) would come in a second copy.
 */
function registerTypeScript(): Promise<void> {
  typeScriptHooks ??= (async () => {
    const [esm, cjs] = await Promise.all([import('tsx/esm/api'), import('tsx/cjs/api')]);
    esm.register();
    cjs.register();
  })();
  return typeScriptHooks;
}

/** The first line of an error's message worth showing. */
function reason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const lines = text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '');
  // esbuild's "Transform failed with 1 error:" says where on the next line.
  const first = lines[0] ?? (err instanceof Error ? err.name : 'unknown error');
  return /:$/.test(first) && lines[1] !== undefined ? `${first} ${lines[1]}` : first;
}

/**
 * Imports the module's namespace. A `.cts` is required instead: in a CommonJS module that
 * Node.js 20 imports, `require` of a sibling `.ts` file bypasses tsx.
 */
async function importModule(file: string): Promise<Record<string, unknown>> {
  const ext = extname(file);
  if (TYPESCRIPT.has(ext)) await registerTypeScript();
  if (ext === '.cts') {
    return { default: createRequire(import.meta.url)(file) as unknown };
  }
  return (await import(pathToFileURL(file).href)) as Record<string, unknown>;
}

/** The exports: named, or (a CommonJS module seen from ESM) under `default`. */
function appExports(ns: Record<string, unknown>): Record<string, unknown> {
  if (ns.workflows !== undefined) return ns;
  const fallback = ns.default;
  if (typeof fallback === 'object' && fallback !== null && 'workflows' in fallback) {
    return fallback as Record<string, unknown>;
  }
  return ns;
}

function checkedHandlers(shown: string, value: unknown): Record<string, TaskHandler> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new AppModuleError(`app module '${shown}' exports no 'handlers' object`);
  }
  for (const [name, handler] of Object.entries(value)) {
    if (typeof handler !== 'function') {
      throw new AppModuleError(`app module '${shown}': handler '${name}' is not a function`);
    }
  }
  return value as Record<string, TaskHandler>;
}

function checkedWorkflows(
  shown: string,
  value: unknown[],
  handlers: Record<string, TaskHandler> | undefined,
): Workflow[] {
  if (value.length === 0) {
    throw new AppModuleError(`app module '${shown}' exports an empty 'workflows' array`);
  }
  const names = new Set<string>();
  for (const workflow of value) {
    try {
      const compiled = compileWorkflow(workflow as Workflow);
      if (names.has(compiled.name)) {
        throw new WorkflowError(`workflow '${compiled.name}' is exported twice`);
      }
      names.add(compiled.name);
      if (handlers !== undefined) checkHandlers(compiled, Object.keys(handlers));
    } catch (err) {
      throw new AppModuleError(`app module '${shown}': ${reason(err)}`, { cause: err });
    }
  }
  return value as Workflow[];
}

/**
 * Loads and checks an app module: a `.ts`, `.mts`, `.cts`, `.js`, `.mjs` or `.cjs` file, ESM or
 * CommonJS, exporting `{ workflows, handlers, defaultWorkflow? }` (named, or as a CommonJS
 * `module.exports`). Every workflow is compiled, every task's `run` must name a handler, and
 * `defaultWorkflow` one of the workflows. TypeScript loads through tsx, which is imported only
 * then. Throws `AppModuleError`, with a one-line message naming the module, for anything amiss.
 *
 * @example
 * const app = await loadAppModule({ app: 'app.ts', env: process.env, cwd: process.cwd() });
 * await startLocalStack({ app, log: () => {} });
 */
export async function loadAppModule(
  source: AppModuleSource,
  opts: AppModuleOptions = {},
): Promise<AppModule> {
  const { file, shown } = appModuleFile(source);
  const ext = extname(file);
  if (!existsSync(file)) {
    throw new AppModuleError(`cannot load app module '${shown}': no such file ${file}`);
  }
  if (!statSync(file).isFile()) {
    throw new AppModuleError(`cannot load app module '${shown}': ${file} is not a file`);
  }
  if (!TYPESCRIPT.has(ext) && !JAVASCRIPT.has(ext)) {
    throw new AppModuleError(
      `cannot load app module '${shown}': it must be a .ts, .mts, .cts, .js, .mjs or .cjs file`,
    );
  }
  let ns: Record<string, unknown>;
  try {
    ns = await importModule(file);
  } catch (err) {
    throw new AppModuleError(`cannot load app module '${shown}': ${reason(err)}`, { cause: err });
  }
  const exported = appExports(ns);
  if (!Array.isArray(exported.workflows)) {
    throw new AppModuleError(
      `app module '${shown}' exports no 'workflows' array (it must export ${EXPORTS})`,
    );
  }
  const wantHandlers = opts.handlers ?? true;
  const handlers = wantHandlers ? checkedHandlers(shown, exported.handlers) : undefined;
  const workflows = checkedWorkflows(shown, exported.workflows, handlers);
  const defaultWorkflow = exported.defaultWorkflow;
  if (defaultWorkflow !== undefined) {
    const names = workflows.map((w) => w.name);
    if (typeof defaultWorkflow !== 'string' || !names.includes(defaultWorkflow)) {
      throw new AppModuleError(
        `app module '${shown}': defaultWorkflow ${JSON.stringify(defaultWorkflow)} is not one of its workflows (${names.join(', ')})`,
      );
    }
  }
  return {
    workflows,
    handlers: handlers ?? {},
    ...(defaultWorkflow !== undefined ? { defaultWorkflow: defaultWorkflow as string } : {}),
    file,
    shown,
  };
}
