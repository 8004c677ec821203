/**
 * The HTTP API as a platform-free core: `handle(request)` routes the contract's four routes (and
 * read-only inspection routes: a session's timeline, the workflows served, stale sessions) to the
 * ingest flows and the session view, and turns every outcome into a JSON response. Lambda,
 * the local stack and tests only translate their own request shapes into `HttpRequest`.
 * May import: base, engine, store, core.
 *
 * @module
 */
import { z } from 'zod';
import { isPlainObject } from '../engine/kwargs.ts';
import {
  type ErrorCode,
  isRefusal,
  NotFoundError,
  TriggersError,
  ValidationError,
} from '../errors.ts';
import {
  configureSession,
  fireEvent,
  type IngestDeps,
  requestReplay,
  requestSkip,
  resolveInstanceLogs,
  setInstanceStatus,
  updateInstanceMetadata,
} from './ingest.ts';
import { type LogSink, silentSink } from './log.ts';
import { ROUTES, type RouteSpec, routeSegments } from './routes.ts';
import { readStale } from './stale.ts';
import {
  type ConfigureInput,
  type FireInput,
  type MetadataInput,
  parseInput,
  type ReplayInput,
  type SkipInput,
  type StatusInput,
  sessionIdSchema,
} from './validation.ts';
import { describeWorkflows, readEvents, readSession } from './view.ts';

/** The largest request body the API accepts, in bytes (after base64 decoding). */
export const MAX_BODY_BYTES = 256 * 1024;

/** A request as the HTTP API sees it, whatever carried it. */
export interface HttpRequest {
  method: string;
  /** The path without the query string, still percent-encoded (`/sessions/s1/instances/t_a%230/replay`). */
  path: string;
  headers: Record<string, string | undefined>;
  body: string | undefined;
  /** True when `body` is base64 (API Gateway sets it for binary payloads). @default false */
  isBase64Encoded?: boolean;
  /**
   * The query string's parameters, decoded.
   * @default - those of a query string left on `path`, else none
   */
  query?: Readonly<Record<string, string | undefined>>;
}

/** A response of the HTTP API: always a JSON body. */
export interface HttpResponse {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** What the HTTP API needs: the ingest dependencies and where to log unexpected errors. */
export interface HttpApiDeps extends IngestDeps {
  /** Receives an `error` entry for every request that fails unexpectedly. @default - discarded */
  log?: LogSink;
}

/** The HTTP API core. */
export interface HttpApi {
  /** Answers one request; never rejects. */
  handle(req: HttpRequest): Promise<HttpResponse>;
}

/**
 * The HTTP status each error code is answered with: refusals of the input are 4xx, failures of
 * the system 5xx (`isRefusal` draws the same line).
 *
 * @example
 * HTTP_STATUS.NOT_FOUND; // 404
 */
export const HTTP_STATUS: Readonly<Record<ErrorCode, number>> = {
  VALIDATION: 400,
  WORKFLOW_INVALID: 400,
  NOT_FOUND: 404,
  INSTANCE_NOT_FAILED: 409,
  CONFLICT: 409,
  INSTANCE_BUSY: 409,
  TABLE_MISMATCH: 409,
  ROUTE_NOT_FOUND: 404,
  METHOD_NOT_ALLOWED: 405,
  PAYLOAD_TOO_LARGE: 413,
  INVALID_JSON: 400,
  UNSUPPORTED_EVENT: 400,
  NOT_AVAILABLE: 501,
  PUBLISH_FAILED: 502,
  SETTLE_TIMEOUT: 504,
  EMULATORS_MISSING: 501,
  WORKFLOW_VERSION_NOT_FOUND: 500,
  NO_QUEUE: 500,
  PORT_TAKEN: 500,
  PROVISIONING: 502,
  TEMPLATE: 400,
  IAM_SIMULATOR_MISSING: 501,
  FUNCTION_ERROR: 502,
  INSPECTOR_BUILD_FAILED: 500,
  INJECTED_FAULT: 500,
  EXPLORE_RUN_FAILED: 500,
  EVENT_TOO_LARGE: 500,
  INTERNAL: 500,
  HTTP_ERROR: 502,
};

/**
 * The error with `status` set as the HTTP API answers it (unless set already), for callers
 * that answer like the API without going through it (the client's table mode).
 *
 * @example
 * throw withHttpStatus(err); // err.status === 400 for a ValidationError
 */
export function withHttpStatus<E extends TriggersError>(err: E): E {
  err.status ??= HTTP_STATUS[err.code];
  return err;
}

/** A refusal of the HTTP layer itself (routing, body framing), answered as it says. */
class HttpError extends TriggersError {
  readonly headers: Record<string, string>;
  constructor(code: ErrorCode, message: string, headers: Record<string, string> = {}) {
    super(message, { code, status: HTTP_STATUS[code] });
    this.headers = headers;
  }
}

type Params = Readonly<Record<string, string>>;
type RouteHandler = (
  params: Params,
  body: () => Record<string, unknown>,
  query: Params,
) => Promise<HttpResponse>;

interface Route {
  /** Literal segments, and `:name` for a parameter. */
  pattern: readonly string[];
  method: RouteSpec['method'];
  run: RouteHandler;
}

const sessionPathSchema = z.strictObject({ sessionId: sessionIdSchema });

/**
 * A JSON response.
 *
 * @example
 * jsonResponse(202, { sessionId: 's1', eventId: 'e1', duplicate: false });
 */
export function jsonResponse(
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): HttpResponse {
  return {
    status,
    headers: { ...headers, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  };
}

/**
 * The contract's error response: `{ error: { code, message } }`.
 *
 * @example
 * errorResponse(404, 'ROUTE_NOT_FOUND', 'no route for GET /nope');
 */
export function errorResponse(
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): HttpResponse {
  return jsonResponse(status, { error: { code, message } }, headers);
}

/** Refuses body fields the route does not define, before anything else looks at them. */
function onlyFields(body: Record<string, unknown>, allowed: readonly string[]): void {
  const unknown = Object.keys(body).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw new ValidationError(`unknown field(s): ${unknown.join(', ')}`);
}

/** A parameter of a matched route (matching guarantees it is there). */
function param(params: Params, name: string): string {
  return params[name] ?? '';
}

/** A route of the table, as the router matches it. */
function fromTable(spec: RouteSpec): Pick<Route, 'pattern' | 'method'> {
  return { pattern: routeSegments(spec.path), method: spec.method };
}

function routes(deps: IngestDeps): Route[] {
  // The body fields are spread under the path's parameters: a body field that names a path
  // parameter is refused as unknown before, and the flows validate everything else.
  return [
    {
      ...fromTable(ROUTES.fire),
      run: async (params, body) => {
        const fields = body();
        onlyFields(fields, ['trigger', 'kwargs', 'eventId', 'workflow']);
        const input = { ...fields, sessionId: param(params, 'sessionId') } as FireInput;
        return jsonResponse(202, await fireEvent(deps, input));
      },
    },
    {
      ...fromTable(ROUTES.getSession),
      run: async (params) => {
        const { sessionId } = parseInput(sessionPathSchema, {
          sessionId: param(params, 'sessionId'),
        });
        const view = await readSession(deps, sessionId);
        if (!view) throw new NotFoundError(`session '${sessionId}' does not exist`);
        return jsonResponse(200, view);
      },
    },
    {
      ...fromTable(ROUTES.getEvents),
      run: async (params) => {
        const { sessionId } = parseInput(sessionPathSchema, {
          sessionId: param(params, 'sessionId'),
        });
        const timeline = await readEvents(deps, sessionId);
        if (!timeline) throw new NotFoundError(`session '${sessionId}' does not exist`);
        return jsonResponse(200, timeline);
      },
    },
    {
      ...fromTable(ROUTES.getWorkflows),
      run: async () => jsonResponse(200, describeWorkflows(deps.registry)),
    },
    {
      ...fromTable(ROUTES.getStale),
      run: async (_params, _body, query) => {
        const unknown = Object.keys(query).filter((k) => k !== 'olderThan' && k !== 'limit');
        if (unknown.length > 0) {
          throw new ValidationError(
            `unknown query parameter(s): ${unknown.join(', ')} (GET /stale takes olderThan and limit)`,
          );
        }
        const { olderThan, limit } = query;
        return jsonResponse(
          200,
          await readStale(deps, {
            ...(olderThan !== undefined ? { olderThan } : {}),
            ...(limit !== undefined ? { limit } : {}),
          }),
        );
      },
    },
    {
      ...fromTable(ROUTES.replay),
      run: async (params, body) => {
        const fields = body();
        onlyFields(fields, ['kwargs']);
        const input = {
          ...fields,
          sessionId: param(params, 'sessionId'),
          instance: param(params, 'instance'),
        } as ReplayInput;
        await requestReplay(deps, input);
        return jsonResponse(202, {});
      },
    },
    {
      ...fromTable(ROUTES.skip),
      run: async (params, body) => {
        const fields = body();
        onlyFields(fields, ['cascade', 'result']);
        const input = {
          ...fields,
          sessionId: param(params, 'sessionId'),
          instance: param(params, 'instance'),
        } as SkipInput;
        await requestSkip(deps, input);
        return jsonResponse(202, {});
      },
    },
    {
      ...fromTable(ROUTES.configure),
      run: async (params, body) => {
        const fields = body();
        onlyFields(fields, ['tasks', 'workflow']);
        const input = { ...fields, sessionId: param(params, 'sessionId') } as ConfigureInput;
        return jsonResponse(200, await configureSession(deps, input));
      },
    },
    {
      ...fromTable(ROUTES.updateMetadata),
      run: async (params, body) => {
        const fields = body();
        onlyFields(fields, ['metadata']);
        await updateInstanceMetadata(deps, {
          ...fields,
          sessionId: param(params, 'sessionId'),
          instance: param(params, 'instance'),
        } as MetadataInput);
        return jsonResponse(202, {});
      },
    },
    {
      ...fromTable(ROUTES.resolveLogs),
      run: async (params, body) => {
        onlyFields(body(), []);
        await resolveInstanceLogs(deps, {
          sessionId: param(params, 'sessionId'),
          instance: param(params, 'instance'),
        });
        return jsonResponse(202, {});
      },
    },
    {
      ...fromTable(ROUTES.setStatus),
      run: async (params, body) => {
        const fields = body();
        onlyFields(fields, ['status', 'metadata', 'cascade', 'cascadeKwargs']);
        await setInstanceStatus(deps, {
          ...fields,
          sessionId: param(params, 'sessionId'),
          instance: param(params, 'instance'),
        } as StatusInput);
        return jsonResponse(202, {});
      },
    },
  ];
}

/** The request's query parameters: `req.query`, else those of a query string left on the path. */
function queryOf(req: HttpRequest): Params {
  const out: Record<string, string> = {};
  if (req.query !== undefined) {
    for (const [key, value] of Object.entries(req.query)) if (value !== undefined) out[key] = value;
    return out;
  }
  const at = req.path.indexOf('?');
  if (at >= 0)
    for (const [key, value] of new URLSearchParams(req.path.slice(at + 1))) out[key] = value;
  return out;
}

/** Splits a path into its raw segments; the query string, if any, is ignored. */
function segmentsOf(path: string): string[] | undefined {
  const bare = path.split('?', 1)[0] as string;
  if (!bare.startsWith('/')) return undefined;
  return bare.slice(1).split('/');
}

function matches(pattern: readonly string[], segments: readonly string[]): boolean {
  return (
    pattern.length === segments.length &&
    pattern.every((p, i) => {
      const segment = segments[i] as string;
      return p.startsWith(':') ? segment.length > 0 : p === segment;
    })
  );
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (err) {
    throw new ValidationError(`malformed percent-encoding in path segment '${segment}'`, {
      cause: err,
    });
  }
}

function paramsOf(pattern: readonly string[], segments: readonly string[]): Params {
  const params: Record<string, string> = {};
  pattern.forEach((p, i) => {
    if (p.startsWith(':')) params[p.slice(1)] = decodeSegment(segments[i] as string);
  });
  return params;
}

/**
 * The answer to a body of `bytes` bytes, over `MAX_BODY_BYTES`: what the API and the local
 * server (which never buffers such a body) both answer.
 *
 * @example
 * payloadTooLarge(300 * 1024).status; // 413
 */
export function payloadTooLarge(bytes: number): HttpResponse {
  return errorResponse(413, 'PAYLOAD_TOO_LARGE', tooLargeMessage(bytes));
}

const tooLargeMessage = (bytes: number): string =>
  `request body is ${bytes} bytes; the limit is ${MAX_BODY_BYTES}`;

/**
 * The body as text, refused with 413 when over `MAX_BODY_BYTES`. Measured in bytes of the
 * payload (base64-decoded first), before any parsing.
 */
function bodyText(req: HttpRequest): string {
  const raw = req.body ?? '';
  const bytes = req.isBase64Encoded ? Buffer.from(raw, 'base64') : Buffer.from(raw, 'utf8');
  if (bytes.byteLength > MAX_BODY_BYTES) {
    throw new HttpError('PAYLOAD_TOO_LARGE', tooLargeMessage(bytes.byteLength));
  }
  return req.isBase64Encoded ? bytes.toString('utf8') : raw;
}

/** Parses a JSON object body; an empty body is an empty object (every field may be optional). */
function parseObject(text: string): Record<string, unknown> {
  if (text.trim() === '') return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new HttpError('INVALID_JSON', `request body is not valid JSON: ${message(err)}`);
  }
  if (!isPlainObject(value)) throw new ValidationError('request body must be a JSON object');
  return value;
}

function message(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Finds the route, or explains with 404 (no such path) or 405 (path known, method not). */
function route(table: readonly Route[], req: HttpRequest): { route: Route; segments: string[] } {
  const segments = segmentsOf(req.path);
  const candidates = segments ? table.filter((r) => matches(r.pattern, segments)) : [];
  if (!segments || candidates.length === 0) {
    throw new HttpError('ROUTE_NOT_FOUND', `no route for ${req.method} ${req.path}`);
  }
  const method = req.method.toUpperCase();
  const found = candidates.find((r) => r.method === method);
  if (!found) {
    const allow = [...new Set(candidates.map((r) => r.method))].join(', ');
    throw new HttpError(
      'METHOD_NOT_ALLOWED',
      `${req.method} is not allowed on ${req.path}; use ${allow}`,
      { allow },
    );
  }
  return { route: found, segments };
}

/**
 * Creates the HTTP API core: `POST /sessions/{sessionId}/events`, `GET /sessions/{sessionId}`,
 * `POST /sessions/{sessionId}/instances/{instance}/replay` and `.../skip`, plus
 * `GET /sessions/{sessionId}/events` (the timeline), `GET /workflows` and
 * `GET /stale?olderThan=24h&limit=100` (sessions whose unstarted instances waited longer than
 * `olderThan`). Every refusal is
 * answered before anything is written; unexpected errors answer 500 with a generic message and
 * are logged.
 *
 * @example
 * const api = createHttpApi({ store, registry, clock: systemClock, log: console.log });
 * const res = await api.handle({
 *   method: 'POST',
 *   path: '/sessions/s1/events',
 *   headers: { 'content-type': 'application/json' },
 *   body: JSON.stringify({ trigger: 'dataReceived', kwargs: { answer: 42 } }),
 * });
 * res.status; // 202
 */
export function createHttpApi(deps: HttpApiDeps): HttpApi {
  const log = deps.log ?? silentSink;
  const table = routes({ store: deps.store, registry: deps.registry, clock: deps.clock });

  return {
    async handle(req) {
      try {
        const found = route(table, req);
        const text = found.route.method === 'GET' ? '' : bodyText(req);
        const params = paramsOf(found.route.pattern, found.segments);
        return await found.route.run(params, () => parseObject(text), queryOf(req));
      } catch (err) {
        if (err instanceof HttpError) {
          return errorResponse(HTTP_STATUS[err.code], err.code, err.message, err.headers);
        }
        // Server-side failures are logged; refusals of bad input are the caller's business.
        if (!isRefusal(err)) {
          log({
            level: 'error',
            message: 'HTTP API request failed',
            timestamp: deps.clock.now().toISOString(),
            method: req.method,
            path: req.path,
            error: {
              type: err instanceof Error ? err.name : typeof err,
              message: message(err),
              ...(err instanceof Error && err.stack !== undefined ? { stack: err.stack } : {}),
            },
          });
        }
        if (err instanceof TriggersError) {
          return errorResponse(HTTP_STATUS[err.code], err.code, err.message);
        }
        return errorResponse(500, 'INTERNAL', 'internal error');
      }
    },
  };
}
