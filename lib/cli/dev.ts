/**
 * `triggers dev`: the local stack (DynamoDB Local, the SQS emulator, the evaluator, the task
 * handlers and the HTTP API on loopback) for an app module, until the CLI's signal aborts; its
 * lifecycle events are printed on stdout, one line each.
 * May import: anything under lib/ (cli), Node.js; the local stack only lazily (see `devCommand`).
 *
 * @module
 */
import { resolve } from 'node:path';
import type { LogEntry, LogSink } from '../core/log.ts';
import type { LocalStack } from '../local/stack.ts';
import type { TemplateStack } from '../local/template/stack.ts';
import { loadAppModule } from './app-module.ts';
import { CliError, EXIT, usageError } from './errors.ts';
import type { CliIo } from './main.ts';

/** The port of the HTTP API when neither `--port` nor `PORT` says one. */
export const DEFAULT_DEV_PORT = 3000;

/** What `dev` reads from the command line. */
export interface DevCommandInput {
  readonly io: CliIo;
  readonly values: {
    app?: string;
    port?: string;
    persist?: string;
    template?: string;
    stack?: string;
  };
  /** Where `--app`, `TRIGGERS_APP` and `--persist` resolve from. */
  readonly cwd: string;
}

const QUIET = new Set(['debug', 'info']);

function portOf(input: DevCommandInput): number {
  const [source, value] =
    input.values.port !== undefined
      ? ['--port', input.values.port]
      : ['PORT', input.io.env.PORT ?? String(DEFAULT_DEV_PORT)];
  const port = /^\d{1,5}$/.test(value) ? Number(value) : Number.NaN;
  if (!(port >= 0 && port <= 65535)) {
    throw usageError(`${source}: '${value}' is not a port number (0 to 65535)`);
  }
  return port;
}

/**
 * Warnings and errors of the runtime on stderr, as JSON lines; every entry with
 * `TRIGGERS_LOG_LEVEL=debug`.
 */
function logTo(io: CliIo): LogSink {
  const all = io.env.TRIGGERS_LOG_LEVEL === 'debug';
  return (entry: LogEntry) => {
    if (all || !QUIET.has(entry.level)) io.stderr(`${JSON.stringify(entry)}\n`);
  };
}

/** Resolves once `signal` aborts; never without a signal. */
function aborted(signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal === undefined) return;
    if (signal.aborted) return resolve();
    signal.addEventListener('abort', () => resolve(), { once: true });
  });
}

/** A failure of the stack's own making, on one line, ending `dev` with `EXIT.devFailed`. */
function devFailure(err: unknown): CliError {
  return new CliError(err instanceof Error ? err.message : String(err), EXIT.devFailed, {
    cause: err,
  });
}

/**
 * Runs `triggers dev [--app PATH] [--port N] [--persist DIR]`: loads and checks the app module,
 * starts the local stack on `127.0.0.1:<port>`, prints its URLs, and serves until `io.signal`
 * aborts, then stops everything it started. Bad arguments and app modules throw usage errors;
 * a stack that cannot start (port taken, emulators or Java missing) throws a `CliError` with
 * `EXIT.devFailed`. The stack itself (and with it the AWS SDK and the emulators) is imported only
 * once the arguments and the app module are found good.
 *
 * @example
 * const stop = new AbortController();
 * await devCommand({
 *   io: { ...io, signal: stop.signal },
 *   values: { app: 'app.ts', port: '0' },
 *   cwd: process.cwd(),
 * });
 */
export async function devCommand(input: DevCommandInput): Promise<void> {
  const { io } = input;
  const port = portOf(input);
  if (input.values.template !== undefined) return templateDev(input, port);
  if (input.values.stack !== undefined) throw usageError('--stack goes with --template');
  const persistDir =
    input.values.persist !== undefined ? resolve(input.cwd, input.values.persist) : undefined;
  const app = await loadAppModule({
    app: input.values.app,
    env: io.env,
    cwd: input.cwd,
  });
  if (io.signal?.aborted) return;

  let stack: LocalStack;
  try {
    const { startLocalStack } = await import('../local/stack.ts');
    stack = await startLocalStack({
      app,
      port,
      log: logTo(io),
      printLifecycle: (line) => io.stdout(`${line}\n`),
      ...(persistDir !== undefined ? { persistDir } : {}),
    });
  } catch (err) {
    throw devFailure(err);
  }
  // From the start of this Node.js process (after npm and tsx launched it) to serving.
  const coldStart = process.uptime().toFixed(1);
  io.stdout(
    [
      `serverless-triggers local stack is up (cold start ${coldStart} s)`,
      `  HTTP API   ${stack.url}   (POST /sessions/{id}/events, GET /sessions/{id}, .../events, .../replay, .../skip, .../configuration, .../metadata, .../resolve-logs, .../status, GET /workflows)`,
      `  inspector  ${stack.url}/ui`,
      `  workflows  ${app.workflows.map((w) => w.name).join(', ')}   (app: ${app.shown})`,
      `  DynamoDB   ${stack.dynamodbEndpoint}`,
      `  SQS        ${stack.sqsEndpoint}`,
      `  sessions   ${persistDir !== undefined ? `kept in ${persistDir}` : 'in memory, for the life of this process (--persist DIR keeps them)'}`,
      'Ctrl+C stops it.',
      '',
    ].join('\n'),
  );

  await aborted(io.signal);
  const reason = io.signal?.reason;
  io.stdout(`${typeof reason === 'string' ? `${reason}: ` : ''}stopping\n`);
  try {
    await stack.stop();
  } catch (err) {
    throw devFailure(err);
  }
}

/**
 * `triggers dev --template cdk.out [--stack NAME] [--port N]`: the synthesized stack itself
 * (see `startTemplateStack`), its functions' output prefixed with their logical ids, until
 * `io.signal` aborts. An assembly the mode cannot run ends it with one line and exit code 1.
 */
async function templateDev(input: DevCommandInput, port: number): Promise<void> {
  const { io } = input;
  if (input.values.app !== undefined || input.values.persist !== undefined) {
    throw usageError('--template runs the synthesized stack: it takes neither --app nor --persist');
  }
  const assembly = resolve(input.cwd, input.values.template as string);
  const started = performance.now();
  let stack: TemplateStack;
  try {
    const { startTemplateStack } = await import('../local/template/stack.ts');
    stack = await startTemplateStack({
      assembly,
      port,
      log: logTo(io),
      output: (fn, line) => io.stderr(`${fn} | ${line}\n`),
      ...(input.values.stack !== undefined ? { stack: input.values.stack } : {}),
    });
  } catch (err) {
    throw devFailure(err);
  }
  const coldStart = ((performance.now() - started) / 1000).toFixed(1);
  io.stdout(
    [
      `serverless-triggers template stack ${stack.stackName} is up (cold start ${coldStart} s, ${process.uptime().toFixed(1)} s since the process started)`,
      `  HTTP API   ${stack.url}   (the template's routes)`,
      `  inspector  ${stack.url}/ui`,
      `  functions  ${stack.functions.length}, each from its asset in the assembly, behind the IAM endpoint ${stack.awsEndpoint}`,
      `  DynamoDB   ${stack.dynamodbEndpoint}   (table ${stack.tableName})`,
      `  SQS        ${stack.sqsEndpoint}`,
      ...stack.notices.map((n) => `  note: ${n}`),
      'Ctrl+C stops it.',
      '',
    ].join('\n'),
  );
  await aborted(io.signal);
  const reason = io.signal?.reason;
  const denied = stack.deniedCalls().length;
  io.stdout(
    `${typeof reason === 'string' ? `${reason}: ` : ''}stopping (${denied} denied AWS call${denied === 1 ? '' : 's'})\n`,
  );
  try {
    await stack.stop();
  } catch (err) {
    throw devFailure(err);
  }
}
