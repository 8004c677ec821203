/**
 * The ingest Lambda: API Gateway HTTP API (payload format 2.0) events in, the HTTP API core's
 * responses out. It only translates; routing, validation and errors live in `lib/core/http.ts`.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import type {
  APIGatewayProxyEventV2,
  APIGatewayProxyStructuredResultV2,
  Context,
} from 'aws-lambda';
import {
  createHttpApi,
  errorResponse,
  type HttpApiDeps,
  type HttpRequest,
  type HttpResponse,
} from '../../core/http.ts';

/** The ingest Lambda's handler. */
export type IngestHandler = (
  event: unknown,
  context: Context,
) => Promise<APIGatewayProxyStructuredResultV2>;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null;

/**
 * True for an API Gateway HTTP API event in payload format 2.0.
 *
 * @example
 * if (!isHttpApiEventV2(event)) return { statusCode: 400, body: '' };
 */
export function isHttpApiEventV2(event: unknown): event is APIGatewayProxyEventV2 {
  if (!isRecord(event) || event.version !== '2.0' || typeof event.rawPath !== 'string') {
    return false;
  }
  const context = event.requestContext;
  return isRecord(context) && isRecord(context.http) && typeof context.http.method === 'string';
}

/**
 * The event as an `HttpRequest`. A named stage's segment, which API Gateway keeps at the start
 * of `rawPath`, is dropped; the `$default` stage has none.
 *
 * @example
 * const req = toHttpRequest(event); // { method: 'POST', path: '/sessions/s1/events', ... }
 */
export function toHttpRequest(event: APIGatewayProxyEventV2): HttpRequest {
  const stage = event.requestContext.stage;
  const prefix = `/${stage}`;
  const named = typeof stage === 'string' && stage !== '' && stage !== '$default';
  const path =
    named && (event.rawPath === prefix || event.rawPath.startsWith(`${prefix}/`))
      ? event.rawPath.slice(prefix.length) || '/'
      : event.rawPath;
  return {
    method: event.requestContext.http.method,
    path,
    headers: { ...event.headers },
    body: event.body,
    isBase64Encoded: event.isBase64Encoded === true,
    query: { ...event.queryStringParameters },
  };
}

/** The response in the shape API Gateway expects back. */
export function toLambdaResult(res: HttpResponse): APIGatewayProxyStructuredResultV2 {
  return { statusCode: res.status, headers: res.headers, body: res.body, isBase64Encoded: false };
}

/**
 * Creates the ingest Lambda's handler over a store, registry and clock. An event that is not an
 * HTTP API 2.0 event is answered with 400, never thrown.
 *
 * @example
 * export const handler = createIngestHandler({ store, registry, clock: systemClock });
 */
export function createIngestHandler(deps: HttpApiDeps): IngestHandler {
  const api = createHttpApi(deps);
  return async (event) => {
    if (!isHttpApiEventV2(event)) {
      return toLambdaResult(
        errorResponse(
          400,
          'UNSUPPORTED_EVENT',
          'expected an API Gateway HTTP API event in payload format 2.0',
        ),
      );
    }
    return toLambdaResult(await api.handle(toHttpRequest(event)));
  };
}
