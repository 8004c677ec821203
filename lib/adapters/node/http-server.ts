/**
 * The Node.js HTTP adapter: serves the platform-free HTTP API (or any `HttpRequest` handler)
 * on a loopback port, as API Gateway serves it on AWS. The local stack uses it.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import {
  type HttpRequest,
  type HttpResponse,
  MAX_BODY_BYTES,
  payloadTooLarge,
} from '../../core/http.ts';
import type { LogSink } from '../../core/log.ts';
import { TriggersError } from '../../errors.ts';

/** Options of `serveHttp`. */
export interface NodeHttpOptions {
  /** Answers a request: the HTTP API's `handle`, or a router in front of it. */
  readonly handle: (req: HttpRequest) => Promise<HttpResponse>;
  /** The loopback port; 0 takes a free one. */
  readonly port: number;
  /** Receives an `error` entry for a request that failed outside the handler's own answers. */
  readonly log: LogSink;
}

/** A running server. */
export interface NodeHttpServer {
  /** The port it listens on (the one taken, when asked for 0). */
  readonly port: number;
  /** Stops taking connections and resolves once the open ones are closed. */
  close(): Promise<void>;
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
              cause: err,
            })
          : err,
      );
    });
    server.listen(port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
}

/** The Node request as an `HttpRequest`: path and query split, headers joined, body as text. */
function toHttpRequest(req: IncomingMessage, text: string): HttpRequest {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  return {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: Object.fromEntries(
      Object.entries(req.headers).map(([k, v]) => [k, Array.isArray(v) ? v.join(',') : v]),
    ),
    body: text.length > 0 ? text : undefined,
  };
}

function send(res: ServerResponse, answer: HttpResponse): void {
  res.writeHead(answer.status, answer.headers);
  res.end(answer.body);
}

/**
 * Serves `handle` on `127.0.0.1:<port>`. A body over `MAX_BODY_BYTES` is answered 413 without
 * calling `handle`; a request that fails outside `handle`'s answers gets a 500 and a log entry.
 * A taken port rejects with a `PORT_TAKEN` error.
 *
 * @example
 * const server = await serveHttp({ handle: (req) => api.handle(req), port: 3000, log });
 * await server.close();
 */
export async function serveHttp(opts: NodeHttpOptions): Promise<NodeHttpServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const body = await readBody(req);
      if (body.text === undefined) {
        send(res, payloadTooLarge(body.bytes));
        return;
      }
      send(res, await opts.handle(toHttpRequest(req, body.text)));
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
  const port = await listen(server, opts.port);
  return {
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
