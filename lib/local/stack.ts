import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { TriggersApp } from '../adapters/aws-lambda/environment.ts';
import { createHttpApi, MAX_BODY_BYTES, payloadTooLarge } from '../core/http.ts';
import type { LogSink } from '../core/log.ts';
import { WorkflowRegistry } from '../core/registry.ts';
import { publishWorkflowVersions } from '../core/versions.ts';
import { checkHandlers } from '../engine/workflow.ts';
import { TriggersError } from '../errors.ts';
import { createInspector } from './inspector/server.ts';
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
}

/** A running local stack. */
export interface LocalStack {
  /** The HTTP API's base URL, `http://127.0.0.1:<port>`. */
  url: string;
  dynamodbEndpoint: string;
  sqsEndpoint: string;
  /** Stops the HTTP server, the pollers and every emulator it started. */
  stop(): Promise<void>;
}

/** A request body: its text, or only its size when it is over the API's limit. */
type Body = { text: string; bytes: number } | { text?: undefined; bytes: number };

/**
 * Reads a request body to its end, buffering at most `MAX_BODY_BYTES`: past the limit the rest
 * is read and dropped, so that the client, done sending, reads the 413 instead of a reset.
 */
async function readBody(req: IncomingMessage): Promise<Body> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req) {
    const buf = chunk as Buffer;
    bytes += buf.length;
    if (bytes <= MAX_BODY_BYTES) chunks.push(buf);
    else chunks.length = 0;
  }
  return bytes > MAX_BODY_BYTES
    ? { bytes }
    : { text: Buffer.concat(chunks).toString('utf8'), bytes };
}

function listen(server: Server, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        err.code === 'EADDRINUSE'
          ? new TriggersError(`port ${port} is taken: choose a free one (--port N, or PORT=N)`, {
              code: 'PORT_TAKEN',
              status: 500,
              cause: err,
            })
          : err,
      );
    });
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/**
 * Starts the local stack: DynamoDB Local and the SQS emulator (or the services named by
 * `TRIGGERS_DYNAMODB_ENDPOINT` / `TRIGGERS_SQS_ENDPOINT`), a table and task queues from the
 * wiring, the evaluator, dispatcher and task runner driven by the local event-source runner,
 * and the HTTP API on `127.0.0.1:<port>`. Everything listens on loopback.
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
  const runner = await DynamoRunner.start(registry, { ...handlers }, opts.log, {
    holdDelays: false,
    // Local, the index costs nothing: `GET /stale` and `triggers stale` work as on a deployment
    // with `staleSessions` on.
    staleIndex: true,
    ...(opts.persistDir !== undefined ? { persistDir: opts.persistDir } : {}),
  });
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
  const inspector = createInspector();
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const body = await readBody(req);
      if (body.text === undefined) {
        const refusal = payloadTooLarge(body.bytes);
        res.writeHead(refusal.status, refusal.headers);
        res.end(refusal.body);
        return;
      }
      const url = new URL(req.url ?? '/', 'http://127.0.0.1');
      const page = await inspector.handle(req.method ?? 'GET', url.pathname);
      if (page) {
        res.writeHead(page.status, page.headers);
        res.end(page.body);
        return;
      }
      const answer = await api.handle({
        method: req.method ?? 'GET',
        path: url.pathname,
        query: Object.fromEntries(url.searchParams),
        headers: Object.fromEntries(
          Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]),
        ),
        body: body.text.length > 0 ? body.text : undefined,
      });
      res.writeHead(answer.status, answer.headers);
      res.end(answer.body);
    })().catch((err: unknown) => {
      opts.log({
        level: 'error',
        message: 'local HTTP request failed',
        timestamp: new Date().toISOString(),
        error: err instanceof Error ? err.message : String(err),
      });
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { code: 'INTERNAL', message: 'internal error' } }));
    });
  });
  let port: number;
  try {
    port = await listen(server, opts.port ?? 3000);
  } catch (err) {
    await runner.close();
    throw err;
  }
  return {
    url: `http://127.0.0.1:${port}`,
    dynamodbEndpoint: runner.dynamodbEndpoint,
    sqsEndpoint: runner.sqsEndpoint,
    async stop() {
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await runner.close();
    },
  };
}
