/**
 * The local stack behind `triggers dev`: emulators, the session table and task queues as a
 * deployment has them, the local event-source runner, the HTTP API and inspector on a
 * loopback port, and the lifecycle events printed and shown in the inspector's timeline.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import type { TriggersApp } from '../adapters/aws-lambda/environment.ts';
import { type NodeHttpServer, serveHttp } from '../adapters/node/http-server.ts';
import { createHttpApi } from '../core/http.ts';
import type { LifecycleEvent } from '../core/lifecycle.ts';
import type { LogSink } from '../core/log.ts';
import { WorkflowRegistry } from '../core/registry.ts';
import { publishWorkflowVersions } from '../core/versions.ts';
import { checkHandlers } from '../engine/workflow.ts';
import { createInspector } from './inspector/server.ts';
import { LifecycleLog } from './lifecycle-log.ts';
import { DynamoRunner } from './runner.ts';

/** Options of `startLocalStack`. */
export interface LocalStackOptions {
  /** The workflows and task handlers to serve. */
  app: TriggersApp;
  /** The loopback port of the HTTP API. @default 3000 */
  port?: number;
  /** Structured logs of the runtime. */
  log: LogSink;
  /**
   * Keep the sessions in this directory across restarts (DynamoDB Local's database file).
   * @default - in memory, for the life of the process
   */
  persistDir?: string;
  /**
   * Where each lifecycle event goes as one line (`lifecycle Trigger Fired s1 trigger=go ...`).
   * @default - an `info` entry of `log`
   */
  printLifecycle?: (line: string) => void;
}

/** A running local stack. */
export interface LocalStack {
  /** The HTTP API's base URL, `http://127.0.0.1:<port>`. */
  url: string;
  dynamodbEndpoint: string;
  sqsEndpoint: string;
  /** The lifecycle events heard so far, per session (what the inspector's timeline shows). */
  lifecycle: LifecycleLog;
  /** Stops the HTTP server, the pollers and every emulator it started. */
  stop(): Promise<void>;
}

/**
 * Starts the local stack: DynamoDB Local and the SQS emulator (or the services named by
 * `TRIGGERS_DYNAMODB_ENDPOINT` / `TRIGGERS_SQS_ENDPOINT`), a table and task queues as the
 * store's layout and the wiring define them, the evaluator (which sends the tasks it schedules)
 * and the task runner driven by the local event-source runner, and the HTTP API and the
 * inspector on `127.0.0.1:<port>`. The lifecycle events the stream yields are printed (see
 * `printLifecycle`) and kept, the last 500 per session, for the inspector's timeline.
 * Everything listens on loopback.
 *
 * @example
 * const stack = await startLocalStack({ app: await import('./examples/survey/app.ts'), log: console.log });
 * // POST `${stack.url}/sessions/s1/events` { "trigger": "step1" }
 * await stack.stop();
 */
export async function startLocalStack(opts: LocalStackOptions): Promise<LocalStack> {
  const registry = new WorkflowRegistry(opts.app.workflows, opts.app.defaultWorkflow);
  const handlers = opts.app.handlers ?? {};
  for (const wf of registry.all()) checkHandlers(wf, Object.keys(handlers));
  const log = opts.log;
  let now: () => Date = () => new Date();
  const lifecycle = new LifecycleLog({
    print:
      opts.printLifecycle ??
      ((line) => log({ level: 'info', message: line, timestamp: new Date().toISOString() })),
    // The runner's clock, which stamps the session's events: the timeline orders both by time.
    now: () => now(),
  });
  const runner = await DynamoRunner.start(registry, { ...handlers }, opts.log, {
    onLifecycle: (events: readonly LifecycleEvent[]) => lifecycle.record(events),
    holdDelays: false,
    // Local, the index costs nothing: `GET /stale` and `triggers stale` work as on a deployment
    // with `staleSessions` on.
    staleIndex: true,
    ...(opts.persistDir !== undefined ? { persistDir: opts.persistDir } : {}),
  });
  now = () => runner.clock.now();
  // As the construct does on deploy: every version ever started keeps its definition, so a
  // session kept with --persist finishes under its own version after the app changed.
  await publishWorkflowVersions(
    runner.store,
    registry.all().map((wf) => wf.definition),
  );
  const api = createHttpApi({
    store: runner.store,
    registry,
    clock: runner.clock,
    log: opts.log,
  });
  const inspector = createInspector({ lifecycle });
  let server: NodeHttpServer;
  try {
    server = await serveHttp({
      port: opts.port ?? 3000,
      log: opts.log,
      handle: async (req) => (await inspector.handle(req.method, req.path)) ?? api.handle(req),
    });
  } catch (err) {
    await runner.close();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${server.port}`,
    dynamodbEndpoint: runner.dynamodbEndpoint,
    sqsEndpoint: runner.sqsEndpoint,
    lifecycle,
    async stop() {
      await server.close();
      await runner.close();
    },
  };
}
