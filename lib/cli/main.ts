/**
 * The `triggers` command line: parses the arguments and runs `dev`, `init`, `explore`, `graph`,
 * and the HTTP API commands (`fire`, `inspect`, `watch`, `replay`, `skip`, `stale`, and the
 * manager commands of `admin.ts`: `configure`, `metadata`, `resolve-logs`, `set-status`).
 * May import: anything under lib/ (cli), Node.js.
 *
 * @module
 */
import { parseArgs } from 'node:util';
import { TriggersClient } from '../client/client.ts';
import { isRefusal, TriggersError } from '../errors.ts';
import type { InstanceStatus, Kwargs, SessionEvent, SessionView, Workflow } from '../types.ts';
import {
  type AdminCommand,
  configureCommand,
  metadataCommand,
  resolveLogsCommand,
  setStatusCommand,
} from './admin.ts';
import { AppModuleError, loadAppModule } from './app-module.ts';
import { devCommand } from './dev.ts';
import { CliError, EXIT, UsageError, usageError } from './errors.ts';
import { exploreCommand } from './explore.ts';
import { graphOf, toDot, toMermaid } from './graph.ts';
import { jsonObjectArg } from './input.ts';
import { eventSummary, renderSession, statusText, timeOf } from './inspect.ts';
import { staleCommand } from './stale.ts';

/** Where the CLI writes, what it fetches with, and the environment it reads. */
export interface CliIo {
  stdout(s: string): void;
  stderr(s: string): void;
  fetch?: typeof fetch;
  env: Record<string, string | undefined>;
  /** Whether stdout is a terminal (statuses are coloured then). @default false */
  isTTY?: boolean;
  /** Where `@file` arguments and `--app` resolve from. @default process.cwd() */
  cwd?: string;
  /** Ends `watch` (the binary aborts it on SIGINT and SIGTERM). */
  signal?: AbortSignal;
}

export const USAGE = `Usage: triggers <command> [options]

Commands:
  dev [--app path] [--port N] [--persist DIR]
                  (the local stack for an app module (.ts, .mts, .cts, .js, .mjs,
                  .cjs) exporting { workflows, handlers, defaultWorkflow? }: DynamoDB
                  Local, the SQS emulator and the HTTP API on 127.0.0.1:N until
                  Ctrl+C. App: --app, else $TRIGGERS_APP, else the survey example
                  of a checkout. Port: --port, else $PORT, else 3000. --persist DIR
                  keeps the sessions across restarts)
  dev --template cdk.out [--stack NAME] [--port N]
                  (the synthesized stack itself: the template's table, queues,
                  mappings and routes, each function from its asset in a process
                  of its own, every AWS call checked against its role's policies)
  init <dir>      (a new project: workflow, handlers, tests, CDK app)
  fire <session> <trigger> [--kwargs JSON|@file] [--event-id ID] [--workflow W]
  inspect <session> [--color]
  watch <session> [--interval MS] [--until-settled] [--color]
  replay <session> <instance> [--kwargs JSON|@file]
  skip <session> <instance> [--cascade] [--result JSON|@file]
  configure <session> --tasks JSON|@file [--workflow W]
                  (the session's own tasks, merged by name into its workflow, in
                  force from its next event; prints the version it runs under)
  metadata <session> <instance> --metadata JSON|@file
                  (merged into the instance's metadata, top level)
  resolve-logs <session> <instance>
                  (the instance's warnings and errors are dealt with)
  set-status <session> <instance> <status> [--metadata JSON|@file]
                  [--cascade] [--cascade-kwargs JSON|@file]
                  (the status set by hand; --cascade only with finished, firing
                  the task's name with the cascade kwargs)
  graph [workflow] [--app path] [--format mermaid|dot]
                  (the app module, as for dev; with --api-url and no --app, the
                  workflows the API serves)
  explore [workflow] --events JSON|@file|a,b,c [--app path] [--duplicates]
                  [--runs N] [--seed S] [--fail-on-race]
                  (every order of the events, or a seeded sample, on the memory
                  backend: each distinct outcome with its smallest order)
  stale [--older-than 24h] [--limit N]
                  (sessions whose unstarted instances waited longer than the age,
                  oldest first; needs the deployment's staleSessions option)

Global options:
  --api-url URL   the HTTP API (default: $TRIGGERS_API_URL or http://127.0.0.1:3000)
  --json          machine-readable output
  -h, --help      this help

Exit codes: 0 ok, 1 usage error, 2 refused by the API, 3 API unreachable or failing
(or an explore run failing), 4 explore --fail-on-race found more than one outcome.
dev and init: 0 ok (dev: stopped by Ctrl+C or SIGTERM), 1 the stack or project could
not be made (port in use, emulators or Java missing), 2 usage error (unknown option,
bad port, a missing or invalid app module, a non-empty init folder).
`;

const OPTIONS = {
  'api-url': { type: 'string' },
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
  kwargs: { type: 'string' },
  'event-id': { type: 'string' },
  workflow: { type: 'string' },
  color: { type: 'boolean' },
  cascade: { type: 'boolean' },
  result: { type: 'string' },
  app: { type: 'string' },
  format: { type: 'string' },
  interval: { type: 'string' },
  'until-settled': { type: 'boolean' },
  events: { type: 'string' },
  duplicates: { type: 'boolean' },
  runs: { type: 'string' },
  seed: { type: 'string' },
  'fail-on-race': { type: 'boolean' },
  'older-than': { type: 'string' },
  limit: { type: 'string' },
  port: { type: 'string' },
  persist: { type: 'string' },
  template: { type: 'string' },
  stack: { type: 'string' },
  tasks: { type: 'string' },
  metadata: { type: 'string' },
  'cascade-kwargs': { type: 'string' },
} as const;

type Values = {
  [K in keyof typeof OPTIONS]?: (typeof OPTIONS)[K]['type'] extends 'string' ? string : boolean;
};

const GLOBAL = ['api-url', 'json', 'help'];

/** The options each command takes, besides the global ones, and its positionals. */
const COMMANDS: Record<string, { options: string[]; args: string[]; optional?: string[] }> = {
  dev: { options: ['app', 'port', 'persist', 'template', 'stack'], args: [] },
  init: { options: [], args: [], optional: ['dir'] },
  fire: { options: ['kwargs', 'event-id', 'workflow'], args: ['session', 'trigger'] },
  inspect: { options: ['color'], args: ['session'] },
  watch: { options: ['color', 'interval', 'until-settled'], args: ['session'] },
  replay: { options: ['kwargs'], args: ['session', 'instance'] },
  skip: { options: ['cascade', 'result'], args: ['session', 'instance'] },
  graph: { options: ['app', 'format'], args: [], optional: ['workflow'] },
  explore: {
    options: ['app', 'events', 'duplicates', 'runs', 'seed', 'fail-on-race'],
    args: [],
    optional: ['workflow'],
  },
  stale: { options: ['older-than', 'limit'], args: [] },
  configure: { options: ['tasks', 'workflow'], args: ['session'] },
  metadata: { options: ['metadata'], args: ['session', 'instance'] },
  'resolve-logs': { options: [], args: ['session', 'instance'] },
  'set-status': {
    options: ['metadata', 'cascade', 'cascade-kwargs'],
    args: ['session', 'instance', 'status'],
  },
};

const DEFAULT_API_URL = 'http://127.0.0.1:3000';

/** Commands whose usage errors end with `EXIT.devUsage` (issue 13's rule), not `EXIT.usage`. */
const PROJECT_COMMANDS = new Set(['dev', 'init']);

interface Context {
  io: CliIo;
  values: Values;
  args: string[];
  cwd: string;
}

function parse(argv: string[]): { values: Values; positionals: string[] } {
  try {
    const { values, positionals } = parseArgs({
      args: argv,
      options: OPTIONS,
      allowPositionals: true,
      strict: true,
    });
    return { values: values as Values, positionals };
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    throw usageError(`${reason} (see triggers --help)`);
  }
}

/**
 * The command `argv` names, read leniently (unknown options allowed), so that even a failure
 * to parse `argv` ends with the command's own usage code.
 *
 * @example
 * commandOf(['--json', 'dev', '--bogus']); // 'dev'
 */
export function commandOf(argv: string[]): string | undefined {
  try {
    return parseArgs({ args: argv, options: OPTIONS, allowPositionals: true, strict: false })
      .positionals[0];
  } catch {
    return undefined;
  }
}

function client(ctx: Context): TriggersClient {
  const apiUrl = ctx.values['api-url'] ?? ctx.io.env.TRIGGERS_API_URL ?? DEFAULT_API_URL;
  try {
    new URL(apiUrl);
  } catch {
    throw usageError(`--api-url: '${apiUrl}' is not a URL`);
  }
  return new TriggersClient({
    apiUrl,
    ...(ctx.io.fetch !== undefined ? { fetch: ctx.io.fetch } : {}),
  });
}

function out(ctx: Context, json: unknown, text: string): void {
  ctx.io.stdout(ctx.values.json ? `${JSON.stringify(json)}\n` : text);
}

function arg(ctx: Context, i: number): string {
  return ctx.args[i] as string;
}

async function fire(ctx: Context): Promise<void> {
  const [session, trigger] = [arg(ctx, 0), arg(ctx, 1)];
  const kwargs =
    ctx.values.kwargs !== undefined
      ? (jsonObjectArg('--kwargs', ctx.values.kwargs, ctx.cwd) as Kwargs)
      : undefined;
  const answer = await client(ctx).fire(session, trigger, kwargs, {
    ...(ctx.values['event-id'] !== undefined ? { eventId: ctx.values['event-id'] } : {}),
    ...(ctx.values.workflow !== undefined ? { workflow: ctx.values.workflow } : {}),
  });
  out(
    ctx,
    { sessionId: session, trigger, ...answer },
    `fired ${trigger} into ${session} (event ${answer.eventId}${answer.duplicate ? ', duplicate: already applied' : ''})\n`,
  );
}

function colourOn(ctx: Context): boolean {
  return ctx.values.color === true || (ctx.io.isTTY === true && !ctx.io.env.NO_COLOR);
}

async function inspect(ctx: Context): Promise<void> {
  const session = arg(ctx, 0);
  const api = client(ctx);
  const view = await api.getSession(session);
  if (view === undefined) {
    throw new CliError(`session '${session}' does not exist`, EXIT.refused);
  }
  const events = (await api.getEvents(session)) ?? [];
  out(ctx, { ...view, events }, renderSession(view, { colour: colourOn(ctx) }, events));
}

/** Resolves after `ms`, or at once when `signal` aborts. */
function pause(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const done = () => {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** Every event applied and no instance scheduled or running: nothing moves until a new fire. */
function settled(view: SessionView, events: readonly SessionEvent[]): boolean {
  return (
    events.every((e) => e.applied) &&
    view.instances.every((i) => i.status !== 'scheduled' && i.status !== 'running')
  );
}

async function watch(ctx: Context): Promise<void> {
  const session = arg(ctx, 0);
  const interval = ctx.values.interval === undefined ? 1000 : Number(ctx.values.interval);
  if (!Number.isInteger(interval) || interval < 100 || interval > 60_000) {
    throw usageError(
      `--interval: '${ctx.values.interval}' is not a whole number of ms in 100..60000`,
    );
  }
  const api = client(ctx);
  const colour = colourOn(ctx);
  const seen = new Map<string, InstanceStatus>();
  const applied = new Set<string>();
  let lastSeq = 0;
  let announced = false;
  const emit = (json: unknown, text: string) => out(ctx, json, `${text}\n`);
  while (!ctx.io.signal?.aborted) {
    const view = await api.getSession(session);
    const events = (await api.getEvents(session)) ?? [];
    if (view === undefined && events.length === 0 && !announced) {
      announced = true;
      emit({ type: 'waiting', sessionId: session }, `waiting for session ${session} to exist...`);
    }
    for (const e of events) {
      if (e.seq > lastSeq) {
        lastSeq = e.seq;
        emit({ type: 'event', ...e }, `${timeOf(e.firedAt)}  #${e.seq} ${eventSummary(e)}`);
      }
      if (e.applied) applied.add(e.eventId);
    }
    for (const inst of view?.instances ?? []) {
      const before = seen.get(inst.name);
      if (before === inst.status) continue;
      seen.set(inst.name, inst.status);
      const waiting =
        inst.waitingFor !== undefined && inst.waitingFor.length > 0
          ? ` (waiting for ${inst.waitingFor.join(', ')})`
          : '';
      const error =
        inst.status === 'failed' && inst.error ? ` ${inst.error.type}: ${inst.error.message}` : '';
      emit(
        {
          type: 'status',
          sessionId: session,
          instance: inst.name,
          from: before ?? null,
          to: inst.status,
          at: inst.updatedAt,
        },
        `${timeOf(inst.updatedAt)}  ${inst.name}: ${before ?? 'new'} -> ${statusText(inst.status, colour).trimEnd()}${waiting}${error}`,
      );
    }
    if (ctx.values['until-settled'] === true && view !== undefined && settled(view, events)) {
      emit({ type: 'settled', sessionId: session }, `session ${session} settled`);
      return;
    }
    await pause(interval, ctx.io.signal);
  }
}

async function replay(ctx: Context): Promise<void> {
  const [session, instance] = [arg(ctx, 0), arg(ctx, 1)];
  const kwargs =
    ctx.values.kwargs !== undefined
      ? (jsonObjectArg('--kwargs', ctx.values.kwargs, ctx.cwd) as Record<string, Kwargs>)
      : undefined;
  await client(ctx).replayFailed(session, instance, kwargs);
  out(
    ctx,
    { sessionId: session, instance, action: 'replay' },
    `replay of ${instance} in ${session} requested\n`,
  );
}

async function skip(ctx: Context): Promise<void> {
  const [session, instance] = [arg(ctx, 0), arg(ctx, 1)];
  const result =
    ctx.values.result !== undefined
      ? (jsonObjectArg('--result', ctx.values.result, ctx.cwd) as Kwargs)
      : undefined;
  const cascade = ctx.values.cascade === true;
  await client(ctx).skipFailed(session, instance, {
    cascade,
    ...(result !== undefined ? { result } : {}),
  });
  out(
    ctx,
    { sessionId: session, instance, action: 'skip', cascade },
    `skip of ${instance} in ${session}${cascade ? ' (cascading)' : ''} requested\n`,
  );
}

async function loadWorkflows(ctx: Context): Promise<Workflow[]> {
  const app = await loadAppModule(
    {
      app: ctx.values.app,
      env: ctx.io.env,
      cwd: ctx.cwd,
    },
    { handlers: false },
  );
  return app.workflows;
}

/** The workflows the API serves, as definitions. */
async function servedWorkflows(ctx: Context): Promise<Workflow[]> {
  const served = await client(ctx).getWorkflows();
  return served.workflows.map((wf) => ({
    name: wf.name,
    tasks: Object.fromEntries(
      wf.tasks.map(({ name, maxRetries: _m, ...config }) => [name, config]),
    ),
  }));
}

async function graph(ctx: Context): Promise<void> {
  const format = ctx.values.format ?? 'mermaid';
  if (format !== 'mermaid' && format !== 'dot') {
    throw usageError(`--format: '${format}' is not one of mermaid, dot`);
  }
  const fromApi = ctx.values['api-url'] !== undefined && ctx.values.app === undefined;
  let workflows = fromApi ? await servedWorkflows(ctx) : await loadWorkflows(ctx);
  const only = ctx.args[0];
  if (only !== undefined) {
    workflows = workflows.filter((w) => w.name === only);
    if (workflows.length === 0) {
      throw usageError(
        `${fromApi ? 'the API serves' : 'the app module has'} no workflow '${only}'`,
      );
    }
  }
  let graphs: ReturnType<typeof graphOf>[];
  try {
    graphs = workflows.map(graphOf);
  } catch (err) {
    throw usageError(err instanceof Error ? err.message : String(err));
  }
  out(ctx, { workflows: graphs }, format === 'dot' ? toDot(graphs) : toMermaid(graphs));
}

/** Runs a manager command of `admin.ts` against the API. */
function admin(command: AdminCommand): (ctx: Context) => Promise<void> {
  return (ctx) =>
    command(
      { args: ctx.args, values: ctx.values, cwd: ctx.cwd, stdout: ctx.io.stdout },
      client(ctx),
    );
}

/** Each command; one that resolves to a number ends with that exit code. */
const RUN: Record<string, (ctx: Context) => Promise<void> | Promise<number>> = {
  dev: devCommand,
  init: async (ctx) => {
    const { runInit } = await import('./init.ts');
    return runInit(ctx.args[0], ctx.io);
  },
  fire,
  inspect,
  watch,
  replay,
  skip,
  graph,
  explore: (ctx) => exploreCommand(ctx),
  stale: (ctx) => staleCommand({ values: ctx.values, stdout: ctx.io.stdout }, client(ctx)),
  configure: admin(configureCommand),
  metadata: admin(metadataCommand),
  'resolve-logs': admin(resolveLogsCommand),
  'set-status': admin(setStatusCommand),
};

/** Turns any failure into a one-line message and an exit code. */
function classify(err: unknown, apiUrl: string): CliError {
  if (err instanceof CliError) return err;
  if (err instanceof AppModuleError) return new UsageError(err.message, { cause: err });
  if (err instanceof TriggersError) {
    const refused =
      err.status !== undefined ? err.status >= 400 && err.status < 500 : isRefusal(err);
    const code = refused ? EXIT.refused : EXIT.unreachable;
    return new CliError(err.message, code);
  }
  if (err instanceof TypeError && err.message === 'fetch failed') {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : '';
    return new CliError(`cannot reach ${apiUrl}${cause}`, EXIT.unreachable);
  }
  const message = err instanceof Error ? err.message : String(err);
  return new CliError(message, EXIT.unreachable);
}

/**
 * Runs the CLI with `argv` (without the node and script paths); resolves to the exit code.
 * Failures are one line `triggers: <message>` on stderr, never a stack trace.
 *
 * @example
 * const code = await runCli(['fire', 's1', 'step1', '--kwargs', '{"a":1}'], {
 *   stdout: (s) => process.stdout.write(s),
 *   stderr: (s) => process.stderr.write(s),
 *   env: process.env,
 * });
 */
export async function runCli(argv: string[], io: CliIo): Promise<number> {
  let apiUrl = io.env.TRIGGERS_API_URL ?? DEFAULT_API_URL;
  const usageCode = PROJECT_COMMANDS.has(commandOf(argv) ?? '') ? EXIT.devUsage : EXIT.usage;
  try {
    const { values, positionals } = parse(argv);
    apiUrl = values['api-url'] ?? apiUrl;
    if (values.help) {
      io.stdout(USAGE);
      return EXIT.ok;
    }
    const [command, ...args] = positionals;
    if (command === undefined) throw usageError('missing command (see triggers --help)');
    const spec = COMMANDS[command];
    const run = RUN[command];
    if (spec === undefined || run === undefined) {
      throw usageError(`unknown command '${command}' (see triggers --help)`);
    }
    const stray = Object.keys(values).filter(
      (k) => !GLOBAL.includes(k) && !spec.options.includes(k),
    );
    if (stray.length > 0) {
      throw usageError(`${command} does not take --${stray.join(', --')}`);
    }
    const optional = spec.optional ?? [];
    if (args.length < spec.args.length) {
      const missing = spec.args.slice(args.length).map((a) => `<${a}>`);
      throw usageError(`${command}: missing ${missing.join(' ')}`);
    }
    if (args.length > spec.args.length + optional.length) {
      throw usageError(
        `${command}: unexpected argument '${args[spec.args.length + optional.length]}'`,
      );
    }
    const code = await run({ io, values, args, cwd: io.cwd ?? process.cwd() });
    return typeof code === 'number' ? code : EXIT.ok;
  } catch (err) {
    const failure = classify(err, apiUrl);
    const line = failure.message.replace(/\s*\n\s*/g, ' ').trim();
    io.stderr(`triggers: ${line}\n`);
    return failure instanceof UsageError ? usageCode : failure.code;
  }
}
