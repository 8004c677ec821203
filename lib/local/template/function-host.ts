/**
 * A template function run locally as Lambda runs it: a pool of execution environments, each a
 * child process (`lambda-runtime.mjs`) with Lambda's environment variables, memory limit and
 * timeout, handling one invocation at a time, started cold on demand and kept warm.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { type ChildProcess, fork } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { delimiter, dirname, join, sep } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { NotAvailableError } from '../../errors.ts';
import { packageRoot } from '../../package-root.ts';
import type { FunctionCredentials, FunctionSpec, LocalEnv } from './model.ts';

/** Where the build puts `lambda-runtime.mjs`, relative to the package root. */
export const LAMBDA_RUNTIME_DIST = 'dist/local/lambda-runtime.mjs';

/** Lambda's limit on the init phase (importing the handler's module), in seconds. */
const INIT_LIMIT_SECONDS = 10;

/**
 * The variables Lambda sets and a function's `Environment` cannot override; with them, the
 * endpoint variables that send the function's AWS calls to the local IAM endpoint.
 *
 * @example
 * LAMBDA_RESERVED_VARIABLES.includes('AWS_REGION'); // true
 */
export const LAMBDA_RESERVED_VARIABLES: readonly string[] = [
  '_HANDLER',
  '_X_AMZN_TRACE_ID',
  'AWS_ACCESS_KEY',
  'AWS_ACCESS_KEY_ID',
  'AWS_DEFAULT_REGION',
  'AWS_EXECUTION_ENV',
  'AWS_LAMBDA_FUNCTION_MEMORY_SIZE',
  'AWS_LAMBDA_FUNCTION_NAME',
  'AWS_LAMBDA_FUNCTION_VERSION',
  'AWS_LAMBDA_INITIALIZATION_TYPE',
  'AWS_LAMBDA_LOG_GROUP_NAME',
  'AWS_LAMBDA_LOG_STREAM_NAME',
  'AWS_LAMBDA_RUNTIME_API',
  'AWS_REGION',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'LAMBDA_RUNTIME_DIR',
  'LAMBDA_TASK_ROOT',
];

/**
 * What an invocation came to: the handler's result, or Lambda's error payload (`errorType`,
 * `errorMessage`, `trace` as `stack`) with the phase it failed in. Besides Lambda's own error
 * types, `Local.Stopped` (the host was stopped) and `Local.Aborted` (the caller's signal).
 *
 * @example
 * const res: InvokeResult = await host.invoke({ Records: [] });
 * if (!res.ok) console.error(`${res.errorType}: ${res.errorMessage}`);
 */
export type InvokeResult =
  | { ok: true; result: unknown; durationMs: number; coldStart: boolean }
  | {
      ok: false;
      errorType: string;
      errorMessage: string;
      stack?: string[];
      phase: 'init' | 'invoke' | 'timeout';
      durationMs: number;
    };

type Failure = Extract<InvokeResult, { ok: false }>;

/**
 * Options of a `FunctionHost`.
 *
 * @example
 * const opts: FunctionHostOptions = {
 *   credentials: { accessKeyId: 'LOCALFN1', secretAccessKey: 'local' },
 *   awsEndpoint: 'http://127.0.0.1:4580', env: DEFAULT_LOCAL_ENV,
 *   output: (line) => console.log(`[Evaluator] ${line}`),
 * };
 */
export interface FunctionHostOptions {
  /** The function's own credentials: the local IAM endpoint knows it by the access key id. */
  credentials: FunctionCredentials;
  /** `AWS_ENDPOINT_URL` of the function: every AWS SDK v3 call goes there. */
  awsEndpoint: string;
  /** The account and region the function runs in. */
  env: LocalEnv;
  /** Each line the function writes to stdout or stderr. */
  output: (line: string, stream: 'stdout' | 'stderr') => void;
  /**
   * Folders on `NODE_PATH`, standing in for the AWS SDK the Lambda Node.js runtime provides.
   * @default the `node_modules` folder `@aws-sdk/client-dynamodb` resolves from
   */
  runtimeModulePaths?: string[];
  /** Execution environments at most; invocations beyond wait for one. @default 10 */
  maxConcurrency?: number;
  /**
   * CloudFormation custom resource answers: HTTPS requests to `host` (the made-up host of the
   * events' `ResponseURL`) go over plain HTTP to `url` instead, path and all.
   */
  customResourceResponse?: { host: string; url: string };
}

/**
 * Counts of a `FunctionHost`.
 *
 * @example
 * const { coldStarts, invocations } = host.stats;
 */
export interface FunctionHostStats {
  /** Execution environments started (init phases run). */
  coldStarts: number;
  /** Invocations handed to a handler. */
  invocations: number;
  /** Execution environments alive now. */
  environments: number;
}

/**
 * The child's entry: next to this module in the sources, under `dist/local/` in the package.
 * Throws `NotAvailableError` when neither is there (a broken build).
 *
 * @example
 * fork(lambdaRuntimeEntry(), [], { stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
 */
export function lambdaRuntimeEntry(): string {
  try {
    const local = fileURLToPath(new URL('./lambda-runtime.mjs', import.meta.url));
    if (existsSync(local)) return local;
  } catch {
    // A build without `import.meta.url`: only the package root is left.
  }
  const built = join(packageRoot(), LAMBDA_RUNTIME_DIST);
  if (!existsSync(built)) {
    throw new NotAvailableError(`the local Lambda runtime is missing: no ${built}`);
  }
  return built;
}

/** The `node_modules` folder the package's own AWS SDK is installed in, if it is. */
function sdkModulePaths(): string[] {
  try {
    const entry = createRequire(import.meta.url).resolve('@aws-sdk/client-dynamodb');
    const at = entry.lastIndexOf(`${sep}node_modules${sep}@aws-sdk${sep}`);
    return at < 0 ? [] : [`${entry.slice(0, at)}${sep}node_modules`];
  } catch {
    return [];
  }
}

/**
 * The environment variables of one execution environment of a function: only what Lambda sets,
 * the function's own `Environment` (which cannot override what Lambda reserves) and the local
 * endpoint; nothing of this process's environment but `PATH`.
 *
 * @example
 * const vars = lambdaEnvironment(spec, { credentials, awsEndpoint, env, nodePath: [], runtimeDir });
 * vars.AWS_LAMBDA_FUNCTION_NAME; // spec.functionName
 */
export function lambdaEnvironment(
  spec: FunctionSpec,
  opts: {
    credentials: FunctionCredentials;
    awsEndpoint: string;
    env: LocalEnv;
    nodePath: readonly string[];
    runtimeDir: string;
    logStreamName?: string;
  },
): Record<string, string> {
  const vars: Record<string, string> = {
    TZ: 'UTC',
    LANG: 'en_US.UTF-8',
    NODE_PATH: [...opts.nodePath, spec.codeDir].join(delimiter),
  };
  if (process.env.PATH !== undefined) vars.PATH = process.env.PATH;
  for (const [name, value] of Object.entries(spec.environment)) {
    // Service endpoint variables would let a function's calls around the IAM endpoint.
    if (!LAMBDA_RESERVED_VARIABLES.includes(name) && !name.startsWith('AWS_ENDPOINT_URL')) {
      vars[name] = value;
    }
  }
  const day = new Date().toISOString().slice(0, 10).replaceAll('-', '/');
  return {
    ...vars,
    _HANDLER: spec.handler,
    AWS_LAMBDA_FUNCTION_NAME: spec.functionName,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(spec.memoryMb),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    AWS_LAMBDA_LOG_GROUP_NAME: `/aws/lambda/${spec.functionName}`,
    AWS_LAMBDA_LOG_STREAM_NAME:
      opts.logStreamName ?? `${day}/[$LATEST]${randomBytes(16).toString('hex')}`,
    AWS_REGION: opts.env.region,
    AWS_DEFAULT_REGION: opts.env.region,
    AWS_EXECUTION_ENV: `AWS_Lambda_${spec.runtime}`,
    AWS_ACCESS_KEY_ID: opts.credentials.accessKeyId,
    AWS_SECRET_ACCESS_KEY: opts.credentials.secretAccessKey,
    AWS_SESSION_TOKEN: 'local-session-token',
    AWS_ENDPOINT_URL: opts.awsEndpoint,
    LAMBDA_TASK_ROOT: spec.codeDir,
    LAMBDA_RUNTIME_DIR: opts.runtimeDir,
  };
}

type ChildMessage =
  | { type: 'init-ok' }
  | { type: 'init-error'; errorType: string; errorMessage: string; trace: string[] }
  | { type: 'result'; id: number; ok: true; resultJson: string }
  | {
      type: 'result';
      id: number;
      ok: false;
      errorType: string;
      errorMessage: string;
      trace: string[];
      fatal?: boolean;
    };

type EnvironmentEvent =
  | ChildMessage
  | { type: 'exit'; code: number | null; signal: NodeJS.Signals | null; error?: string }
  | { type: 'timeout' }
  | { type: 'aborted' };

/** One execution environment: a child process and the exchange under way with it. */
class ExecutionEnvironment {
  /** Taken out of the pool: killed or failed, no longer counted against the concurrency. */
  retired = false;
  /** Its init phase succeeded: an invocation on it is warm. */
  initialized = false;
  private exitEvent: Extract<EnvironmentEvent, { type: 'exit' }> | undefined;
  private waiter: ((event: EnvironmentEvent) => void) | undefined;
  readonly exited: Promise<void>;

  constructor(
    readonly child: ChildProcess,
    output: FunctionHostOptions['output'],
    onGone: (env: ExecutionEnvironment) => void,
  ) {
    for (const stream of ['stdout', 'stderr'] as const) {
      const input = child[stream];
      if (input) {
        createInterface({ input, crlfDelay: Number.POSITIVE_INFINITY }).on('line', (line) =>
          output(line, stream),
        );
      }
    }
    child.on('message', (message) => this.waiter?.(message as ChildMessage));
    this.exited = new Promise((resolve) => {
      const ended = (code: number | null, signal: NodeJS.Signals | null, error?: string) => {
        if (this.exitEvent) return;
        this.exitEvent = { type: 'exit', code, signal, ...(error ? { error } : {}) };
        this.waiter?.(this.exitEvent);
        onGone(this);
        resolve();
      };
      child.on('exit', ended);
      // A child that could not be spawned emits no exit.
      child.on('error', (err) => {
        if (child.pid === undefined) ended(null, null, err.message);
      });
    });
  }

  /**
   * Sends a message and waits for the child's answer (an event of `answers`), its exit, the
   * limit (then the child is killed) or the signal (likewise).
   */
  exchange(
    message: object,
    answers: readonly ChildMessage['type'][],
    limitMs: number,
    signal: AbortSignal | undefined,
  ): Promise<EnvironmentEvent> {
    if (this.exitEvent) return Promise.resolve(this.exitEvent);
    return new Promise((resolve) => {
      const settle = (event: EnvironmentEvent) => {
        if (event.type !== 'exit' && event.type !== 'timeout' && event.type !== 'aborted') {
          if (!answers.includes(event.type)) return;
        }
        this.waiter = undefined;
        clearTimeout(timer);
        signal?.removeEventListener('abort', abort);
        if (event.type === 'timeout' || event.type === 'aborted') this.kill();
        resolve(event);
      };
      const abort = () => settle({ type: 'aborted' });
      const timer = setTimeout(() => settle({ type: 'timeout' }), limitMs);
      this.waiter = settle;
      if (signal?.aborted) return abort();
      signal?.addEventListener('abort', abort, { once: true });
      // A child gone before the message arrives shows as its exit.
      this.child.send(message, () => undefined);
    });
  }

  kill(): Promise<void> {
    this.retired = true;
    if (!this.exitEvent) this.child.kill('SIGKILL');
    return this.exited;
  }
}

/** How a child's exit reads in Lambda's error message. */
function exitReason(event: Extract<EnvironmentEvent, { type: 'exit' }>, codeDir: string): string {
  // A missing code folder (the child's cwd) fails the spawn with a misleading ENOENT of node.
  if (event.error) return `Runtime failed to start in ${codeDir}: ${event.error}`;
  return event.signal
    ? `Runtime exited with error: signal: ${event.signal}`
    : `Runtime exited with error: exit status ${event.code}`;
}

const elapsed = (since: number) => Math.round((performance.now() - since) * 100) / 100;

/**
 * Runs one template function as Lambda would: each invocation on an execution environment of
 * its own (a child process), reusing a warm one when one is idle, starting one (a cold start)
 * when all are busy, up to `maxConcurrency`; beyond that, invocations wait. An environment whose
 * init fails, times out or dies is discarded; the next invocation starts a fresh one.
 *
 * @example
 * const host = new FunctionHost(spec, { credentials, awsEndpoint, env, output });
 * const res = await host.invoke({ Records: [] });
 * if (res.ok) console.log(res.result, res.coldStart);
 * await host.stop();
 */
export class FunctionHost {
  private readonly entry: string;
  private readonly vars: () => Record<string, string>;
  private readonly maxConcurrency: number;
  private readonly all = new Set<ExecutionEnvironment>();
  private readonly idle: ExecutionEnvironment[] = [];
  private readonly waiting: ((lease: ExecutionEnvironment | undefined) => void)[] = [];
  private readonly counts = { coldStarts: 0, invocations: 0 };
  private running = 0;
  private sequence = 0;
  private stopped = false;

  constructor(
    private readonly spec: FunctionSpec,
    private readonly opts: FunctionHostOptions,
  ) {
    this.entry = lambdaRuntimeEntry();
    const nodePath = opts.runtimeModulePaths ?? sdkModulePaths();
    const runtimeDir = dirname(this.entry);
    this.vars = () => lambdaEnvironment(spec, { ...opts, nodePath, runtimeDir });
    this.maxConcurrency = Math.max(1, opts.maxConcurrency ?? 10);
  }

  /** Invocations under way, those waiting for an execution environment included. */
  get inFlight(): number {
    return this.running;
  }

  /** Cold starts, invocations and live execution environments so far. */
  get stats(): FunctionHostStats {
    return { ...this.counts, environments: this.live() };
  }

  /**
   * Invokes the function with `event` (as JSON, like Lambda) and resolves with its result or
   * its error; never rejects. Aborting `signal` gives up waiting for an environment, or kills
   * the one running the invocation.
   *
   * @example
   * const res = await host.invoke({ RequestType: 'Create', ResponseURL: url }, { signal });
   */
  async invoke(event: unknown, opts: { signal?: AbortSignal } = {}): Promise<InvokeResult> {
    this.running++;
    try {
      return await this.run(event, opts.signal);
    } finally {
      this.running--;
    }
  }

  /** Kills every execution environment; invocations under way or waiting end `Local.Stopped`. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const grant of this.waiting.splice(0)) grant(undefined);
    this.idle.length = 0;
    await Promise.all([...this.all].map((env) => env.kill()));
  }

  private async run(event: unknown, signal: AbortSignal | undefined): Promise<InvokeResult> {
    const started = performance.now();
    if (this.stopped || signal?.aborted) return this.localEnd('invoke', started);
    let eventJson: string;
    try {
      // Lambda hands the function its payload as JSON: what JSON drops, the function never sees.
      eventJson = JSON.stringify(event) ?? 'null';
    } catch (err) {
      const message = `the event is not JSON: ${err instanceof Error ? err.message : String(err)}`;
      return this.failure('InvalidRequestContentException', message, 'invoke', started);
    }
    const lease = await this.acquire(signal);
    if (lease === undefined) return this.localEnd('invoke', started);
    const { env, cold } = lease;
    if (cold) {
      this.counts.coldStarts++;
      const init = await env.exchange(
        {
          type: 'init',
          codeDir: this.spec.codeDir,
          handler: this.spec.handler,
          functionName: this.spec.functionName,
          invokedFunctionArn: `arn:${this.opts.env.partition}:lambda:${this.opts.env.region}:${this.opts.env.accountId}:function:${this.spec.functionName}`,
          memoryMb: this.spec.memoryMb,
          timeoutSeconds: this.spec.timeoutSeconds,
          customResourceResponse: this.opts.customResourceResponse,
        },
        ['init-ok', 'init-error'],
        INIT_LIMIT_SECONDS * 1000,
        signal,
      );
      if (init.type === 'init-ok') env.initialized = true;
      else {
        this.discard(env);
        if (init.type === 'init-error') {
          return {
            ...this.failure(init.errorType, init.errorMessage, 'init', started),
            stack: init.trace,
          };
        }
        return this.lost(
          init,
          `Init timed out after ${INIT_LIMIT_SECONDS.toFixed(2)} seconds`,
          'init',
          started,
        );
      }
    }
    this.counts.invocations++;
    const invoked = performance.now();
    const timeoutMs = this.spec.timeoutSeconds * 1000;
    const id = ++this.sequence;
    const answer = await env.exchange(
      { type: 'invoke', id, requestId: randomUUID(), eventJson, deadline: Date.now() + timeoutMs },
      ['result'],
      timeoutMs,
      signal,
    );
    if (answer.type === 'result' && answer.id === id) {
      if (answer.ok) {
        this.release(env);
        const result: unknown = JSON.parse(answer.resultJson);
        return { ok: true, result, durationMs: elapsed(invoked), coldStart: cold };
      }
      if (answer.fatal) this.discard(env);
      else this.release(env);
      return {
        ...this.failure(answer.errorType, answer.errorMessage, 'invoke', invoked),
        stack: answer.trace,
      };
    }
    this.discard(env);
    return this.lost(
      answer,
      `Task timed out after ${this.spec.timeoutSeconds.toFixed(2)} seconds`,
      'invoke',
      invoked,
    );
  }

  /**
   * The failure of an environment lost during `phase`: it timed out (`Sandbox.Timedout`, the
   * invoke phase reported as `timeout`), its process exited (`Runtime.ExitError`), or the host
   * was stopped or the invocation aborted.
   */
  private lost(
    answer: EnvironmentEvent,
    timedOut: string,
    phase: 'init' | 'invoke',
    since: number,
  ): Failure {
    if (answer.type === 'timeout') {
      return this.failure(
        'Sandbox.Timedout',
        timedOut,
        phase === 'init' ? 'init' : 'timeout',
        since,
      );
    }
    if (answer.type === 'exit' && !this.stopped) {
      return this.failure('Runtime.ExitError', exitReason(answer, this.spec.codeDir), phase, since);
    }
    return this.localEnd(phase, since);
  }

  /** How an invocation ends that the host itself cut short: stopped, or aborted. */
  private localEnd(phase: Failure['phase'], since: number): Failure {
    return this.stopped
      ? this.failure('Local.Stopped', 'the function host was stopped', phase, since)
      : this.failure('Local.Aborted', 'the invocation was aborted', phase, since);
  }

  private failure(
    errorType: string,
    errorMessage: string,
    phase: Failure['phase'],
    since: number,
  ): Failure {
    return { ok: false, errorType, errorMessage, phase, durationMs: elapsed(since) };
  }

  private live(): number {
    let n = 0;
    for (const env of this.all) if (!env.retired) n++;
    return n;
  }

  private spawn(): ExecutionEnvironment {
    const child = fork(this.entry, [], {
      cwd: this.spec.codeDir,
      env: this.vars(),
      execPath: process.execPath,
      // Not this process's flags: it may run under a TypeScript loader the function must not.
      // The SDK's warning that this machine's Node.js is older than it wants says nothing about
      // the function, which declares its own runtime (the mode's notice says which one runs).
      execArgv: [
        `--max-old-space-size=${this.spec.memoryMb}`,
        '--disable-warning=NodeVersionSupportWarning',
      ],
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    const env = new ExecutionEnvironment(child, this.opts.output, (gone) => this.forget(gone));
    this.all.add(env);
    return env;
  }

  /** An idle environment (warm), a new one (cold) or, at the limit, the next one freed. */
  private acquire(
    signal: AbortSignal | undefined,
  ): Promise<{ env: ExecutionEnvironment; cold: boolean } | undefined> {
    const warm = this.idle.pop();
    if (warm) return Promise.resolve({ env: warm, cold: false });
    if (this.live() < this.maxConcurrency)
      return Promise.resolve({ env: this.spawn(), cold: true });
    return new Promise((resolve) => {
      const abort = () => {
        const at = this.waiting.indexOf(grant);
        if (at >= 0) this.waiting.splice(at, 1);
        resolve(undefined);
      };
      const grant = (env: ExecutionEnvironment | undefined) => {
        signal?.removeEventListener('abort', abort);
        resolve(env && { env, cold: !env.initialized });
      };
      signal?.addEventListener('abort', abort, { once: true });
      this.waiting.push(grant);
    });
  }

  private release(env: ExecutionEnvironment): void {
    if (this.stopped || env.retired) return;
    const next = this.waiting.shift();
    if (next) next(env);
    else this.idle.push(env);
  }

  /** Kills an environment and frees its slot now; it leaves `all` once it has exited. */
  private discard(env: ExecutionEnvironment): void {
    void env.kill();
    this.free(env);
  }

  private forget(env: ExecutionEnvironment): void {
    this.all.delete(env);
    this.free(env);
  }

  private free(env: ExecutionEnvironment): void {
    env.retired = true;
    const at = this.idle.indexOf(env);
    if (at >= 0) this.idle.splice(at, 1);
    // A freed slot goes to the first waiting invocation, on a new environment.
    while (!this.stopped && this.waiting.length > 0 && this.live() < this.maxConcurrency) {
      this.waiting.shift()?.(this.spawn());
    }
  }
}
