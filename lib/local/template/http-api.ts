/**
 * The template's API Gateway HTTP APIs (v2), served on loopback as `sam local start-api` serves
 * them: the routes read from the resolved template, each request matched as API Gateway matches
 * it, handed to the integrated function as a payload format 2.0 (or 1.0) event through a
 * callback, and the function's result answered as API Gateway maps it. Nothing is authorized.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { isUtf8 } from 'node:buffer';
import { createHash, randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import type { NodeHttpServer } from '../../adapters/node/http-server.ts';
import type { HttpResponse } from '../../core/http.ts';
import type { LogSink } from '../../core/log.ts';
import { TemplateError, TriggersError } from '../../errors.ts';
import type { CfnResource, LocalEnv } from './model.ts';

/** How a route is authorized on AWS (`AuthorizationType`); locally nothing is enforced. */
export type RouteAuthorization = 'NONE' | 'AWS_IAM' | 'JWT' | 'CUSTOM';

/** One route of an HTTP API of the template, and the function its integration invokes. */
export interface HttpApiRoute {
  readonly apiLogicalId: string;
  /** The `AWS::ApiGatewayV2::Route`'s logical id (the Api's own, for a quick-create API). */
  readonly routeLogicalId: string;
  /** `RouteKey`: `GET /pets/{id}`, `ANY /{proxy+}` or `$default`. */
  readonly routeKey: string;
  /** The method, or `ANY` (every method; also for `$default`). */
  readonly method: string;
  /** The path template; undefined for `$default`. */
  readonly path: string | undefined;
  readonly functionLogicalId: string;
  readonly payloadFormatVersion: '1.0' | '2.0';
  readonly authorizationType: RouteAuthorization;
  /** The route's `AuthorizerId`, for `JWT` and `CUSTOM` routes. */
  readonly authorizerLogicalId?: string;
}

/** An `AWS::ApiGatewayV2::Api` (`ProtocolType: HTTP`) of the template and its routes. */
export interface TemplateHttpApi {
  readonly apiLogicalId: string;
  readonly routes: readonly HttpApiRoute[];
}

const HTTP_METHODS = new Set(['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS', 'ANY']);
const AUTHORIZATIONS = new Set<string>(['NONE', 'AWS_IAM', 'JWT', 'CUSTOM']);
const LAMBDA_INVOCATION_URI =
  /^arn:[^:]+:apigateway:[^:]*:lambda:path\/[^/]+\/functions\/(.+)\/invocations$/;

const isRecord = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);
const text = (v: unknown): string | undefined => (typeof v === 'string' ? v : undefined);

/** How specific a segment of a path template is: literal 3, `{param}` 2, greedy `{name+}` 1. */
const specificity = (segment: string): number =>
  !segment.startsWith('{') ? 3 : segment.endsWith('+}') ? 1 : 2;

/**
 * The method and path segments of a `RouteKey` (none for `$default`), checked as API Gateway
 * checks them on deploy.
 */
function parseRouteKey(routeLogicalId: string, routeKey: string) {
  if (routeKey === '$default') return { method: 'ANY', path: undefined, segments: undefined };
  const [method = '', path = '', ...rest] = routeKey.split(' ');
  // Literal segments and {variables}, a greedy {variable+} only last.
  const valid = /^\/$|^(\/([^/{}]+|\{[\w.-]+\}))*(\/\{[\w.-]+\+\})?$/.test(path);
  if (rest.length > 0 || !HTTP_METHODS.has(method) || !valid) {
    const expected = "'$default' or '<METHOD> /<path>', a greedy {variable+} only last";
    throw new TemplateError(routeLogicalId, `RouteKey '${routeKey}' is not ${expected}`);
  }
  return { method, path, segments: path === '/' ? [] : path.slice(1).split('/') };
}

/**
 * The routes of the template's HTTP APIs, from resources whose intrinsics are already resolved:
 * an `ApiId` is the Api's logical id, a Route's `Target` `integrations/<IntegrationLogicalId>`,
 * an Integration's `IntegrationUri` (or a quick-create Api's `Target`) the function's logical id
 * or ARN, or its `arn:...:apigateway:...:lambda:path/.../invocations` URI, which `functionByArn`
 * maps to the function's logical id. Refuses (`TemplateError` naming the logical id; `where`,
 * the template, ends the message) what the mode does not emulate: a WebSocket API, routes in an
 * OpenAPI `Body`, an integration other than `AWS_PROXY` to a function of the template, a payload
 * format other than 1.0 / 2.0.
 *
 * @example
 * const apis = httpApiRoutes(resolved.Resources, 'App.template.json', (arn) => fnByArn.get(arn));
 * // [{ apiLogicalId: 'TriggersApi6488BF5D', routes: [{ routeKey: 'GET /workflows', ... }] }]
 */
export function httpApiRoutes(
  resources: Readonly<Record<string, CfnResource>>,
  where: string,
  functionByArn: (arnOrId: string) => string | undefined,
): TemplateHttpApi[] {
  const refuse = (id: string, why: string) => new TemplateError(id, `${why} (${where})`);
  const check: (ok: boolean, id: string, why: string) => asserts ok = (ok, id, why) => {
    if (!ok) throw refuse(id, why);
  };
  const ofType = (type: string) =>
    Object.entries(resources).filter(([, r]) => r.Type === type) as [string, CfnResource][];
  const functionOf = (id: string, uri: unknown): string => {
    const arn = text(uri) ?? JSON.stringify(uri);
    const inner = LAMBDA_INVOCATION_URI.exec(arn)?.[1];
    const fn = functionByArn(arn) ?? (inner === undefined ? undefined : functionByArn(inner));
    if (fn !== undefined) return fn;
    throw refuse(id, `integrates ${arn}, which is not a Lambda function of the template`);
  };

  type Integration = Pick<HttpApiRoute, 'functionLogicalId' | 'payloadFormatVersion'>;
  const integrations = new Map<string, Integration>();
  const apis = new Map<string, HttpApiRoute[]>();
  const routeResources = ofType('AWS::ApiGatewayV2::Route');
  for (const [id, { Properties: p = {} }] of ofType('AWS::ApiGatewayV2::Api')) {
    const protocol = JSON.stringify(p.ProtocolType);
    check(p.ProtocolType !== 'WEBSOCKET', id, 'is a WebSocket API: only HTTP APIs are served');
    check(p.ProtocolType === 'HTTP', id, `has ProtocolType ${protocol}; expected HTTP`);
    check(
      p.Body === undefined && p.BodyS3Location === undefined,
      id,
      'has an OpenAPI definition (Body, BodyS3Location), which the template mode does not read: declare its routes as AWS::ApiGatewayV2::Route resources',
    );
    apis.set(id, []);
    if (p.Target === undefined) continue;
    // Quick create: API Gateway makes one route (RouteKey, else $default) to the function,
    // through an AWS_PROXY integration in payload format 2.0.
    const fn = functionOf(id, p.Target);
    integrations.set(id, { functionLogicalId: fn, payloadFormatVersion: '2.0' });
    const quick = { ApiId: id, RouteKey: p.RouteKey ?? '$default', Target: `integrations/${id}` };
    routeResources.push([id, { Type: 'AWS::ApiGatewayV2::Route', Properties: quick }]);
  }
  const routesOf = (id: string, apiId: unknown): HttpApiRoute[] => {
    const routes = apis.get(text(apiId) ?? '');
    if (routes !== undefined) return routes;
    throw refuse(id, `has ApiId ${JSON.stringify(apiId)}, not an HTTP API of the template`);
  };

  for (const [id, { Properties: p = {} }] of ofType('AWS::ApiGatewayV2::Integration')) {
    routesOf(id, p.ApiId);
    check(
      p.IntegrationType === 'AWS_PROXY' && p.IntegrationSubtype === undefined,
      id,
      `is a ${[p.IntegrationType, p.IntegrationSubtype].join(' ').trim()} integration: the template mode emulates only AWS_PROXY integrations to the template's Lambda functions`,
    );
    const version = p.PayloadFormatVersion;
    const expected = `has PayloadFormatVersion ${JSON.stringify(version)}; expected 1.0 or 2.0`;
    check(version === '1.0' || version === '2.0', id, expected);
    const functionLogicalId = functionOf(id, p.IntegrationUri);
    integrations.set(id, { functionLogicalId, payloadFormatVersion: version });
  }

  for (const [id, { Properties: p = {} }] of routeResources) {
    const routes = routesOf(id, p.ApiId);
    const target = /^integrations\/(.+)$/.exec(text(p.Target) ?? '')?.[1];
    const integration = target === undefined ? undefined : integrations.get(target);
    check(
      integration !== undefined,
      id,
      `has Target ${JSON.stringify(p.Target)}; expected integrations/<logical id of an integration>`,
    );
    const authorizationType = text(p.AuthorizationType) ?? 'NONE';
    const unknownAuth = `has AuthorizationType ${JSON.stringify(p.AuthorizationType)}`;
    check(AUTHORIZATIONS.has(authorizationType), id, unknownAuth);
    const routeKey = text(p.RouteKey) ?? '';
    const { method, path } = parseRouteKey(id, routeKey);
    const authorizer = text(p.AuthorizerId);
    routes.push({
      apiLogicalId: text(p.ApiId) ?? '',
      routeLogicalId: id,
      routeKey,
      method,
      path,
      ...integration,
      authorizationType: authorizationType as RouteAuthorization,
      ...(authorizer === undefined ? {} : { authorizerLogicalId: authorizer }),
    });
  }
  return [...apis].map(([apiLogicalId, routes]) => ({ apiLogicalId, routes }));
}

/**
 * The paragraph the mode prints once at start: which routes AWS would authorize (IAM SigV4, a
 * JWT or a Lambda authorizer), and that local callers are not. No lines when no route is.
 *
 * @example
 * for (const line of authorizationNotice(routes)) console.log(line);
 */
export function authorizationNotice(routes: readonly HttpApiRoute[]): string[] {
  const guarded = routes.filter((r) => r.authorizationType !== 'NONE');
  if (guarded.length === 0) return [];
  const how: Record<RouteAuthorization, string> = {
    NONE: '',
    AWS_IAM: 'IAM (SigV4-signed requests)',
    JWT: 'a JWT authorizer',
    CUSTOM: 'a Lambda authorizer',
  };
  return [
    `On AWS, ${guarded.length} HTTP API route(s) require authorization:`,
    ...guarded.map((r) =>
      `  ${r.routeKey} (${r.routeLogicalId}): ${how[r.authorizationType]} ${r.authorizerLogicalId ?? ''}`.trimEnd(),
    ),
    'Locally they are served on 127.0.0.1 without authentication, as `sam local start-api` serves them: any local caller may call them.',
  ];
}

/** A request to an HTTP API as it arrived, with what API Gateway's events carry. */
export interface HttpApiRequest {
  readonly method: string;
  /** The path as sent, still percent-encoded, without the query string. */
  readonly rawPath: string;
  /** The query string as sent, without `?`. */
  readonly rawQueryString: string;
  /** The header lines in order (a repeated header repeated), names in any case. */
  readonly headers: ReadonlyArray<readonly [string, string]>;
  readonly body: Buffer;
  readonly sourceIp: string;
  /** @default 'HTTP/1.1' */
  readonly protocol?: string;
}

/** An answer of the HTTP API: the function's result as API Gateway maps it, or its own. */
export interface HttpApiResponse {
  readonly status: number;
  /** Lower-cased names. */
  readonly headers: Readonly<Record<string, string>>;
  /** Each one `set-cookie` header. */
  readonly cookies: readonly string[];
  readonly body: Buffer;
}

/** What `invoke` answers: the function's result, or the error it failed with. */
export type FunctionOutcome =
  | { ok: true; result: unknown }
  | { ok: false; errorType: string; errorMessage: string };

/** Options of `createHttpApiHandler`. */
export interface HttpApiHandlerOptions {
  readonly routes: readonly HttpApiRoute[];
  /** Invokes a function of the template synchronously, as API Gateway's integration does. */
  readonly invoke: (functionLogicalId: string, event: unknown) => Promise<FunctionOutcome>;
  /** The account `requestContext.accountId` names. */
  readonly env: LocalEnv;
  /** Receives an `error` entry for each failed invocation or invalid result. */
  readonly log: LogSink;
}

/**
 * API Gateway's own JSON answer, `{"message": ...}`.
 *
 * @example
 * gatewayAnswer(404, 'Not Found'); // what API Gateway answers when no route matches
 */
export function gatewayAnswer(status: number, message: string): HttpApiResponse {
  const body = Buffer.from(JSON.stringify({ message }));
  return { status, headers: { 'content-type': 'application/json' }, cookies: [], body };
}

type Params = Record<string, string>;

const decode = (s: string): string => {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
};

/** The path parameters of `rawPath` under a path template, or undefined when it does not match. */
function matchPath(segments: readonly string[], rawPath: string) {
  const parts = rawPath === '/' ? [] : rawPath.slice(1).split('/');
  const params: Params = {};
  for (const [i, segment] of segments.entries()) {
    const part = parts[i];
    if (part === undefined || part === '') return undefined;
    const name = segment.replace(/^\{|\+?\}$/g, '');
    const kind = specificity(segment);
    if (kind === 1) return { ...params, [name]: decode(parts.slice(i).join('/')) };
    if (kind === 2) params[name] = decode(part);
    else if (decode(part) !== segment) return undefined;
  }
  return parts.length === segments.length ? params : undefined;
}

/**
 * A route ready to match, ranked among the routes that match a request: segment by segment a
 * literal before a `{param}` before a greedy variable, then a method before `ANY`. (Two
 * matching paths of different lengths differ at a greedy variable: ranks compare as strings.)
 */
type Candidate = { route: HttpApiRoute; segments: string[] | undefined; rank: string };

function matchRoute(candidates: readonly Candidate[], method: string, rawPath: string) {
  let best: (Candidate & { params: Params }) | undefined;
  for (const c of candidates) {
    const methodMatches = c.route.method === 'ANY' || c.route.method === method;
    const params = c.segments && methodMatches ? matchPath(c.segments, rawPath) : undefined;
    if (params !== undefined && (best === undefined || c.rank > best.rank)) best = { ...c, params };
  }
  const fallback = candidates.find((c) => c.segments === undefined);
  return best ?? (fallback === undefined ? undefined : { ...fallback, params: {} });
}

const TEXT_TYPE =
  /^\s*(text\/|application\/(json|javascript|xml|x-www-form-urlencoded|graphql|yaml|x-yaml)\b|[\w.-]+\/[\w.-]+\+(json|xml)\b)/i;

/** API Gateway passes text bodies as they are, and base64-encodes the rest. */
function isTextBody(headers: ReadonlyMap<string, string[]>, body: Buffer): boolean {
  const encoding = headers.get('content-encoding')?.join(',');
  if (encoding !== undefined && encoding !== 'identity') return false;
  const type = headers.get('content-type')?.[0];
  return type === undefined ? isUtf8(body) : TEXT_TYPE.test(type);
}

const joined = (m: Map<string, string[]>) =>
  Object.fromEntries([...m].map(([k, v]) => [k, v.join(',')]));
const lastOf = (m: Map<string, string[]>) =>
  Object.fromEntries([...m].map(([k, v]) => [k, v[v.length - 1] ?? '']));
const nonEmpty = <T extends object>(o: T): T | undefined =>
  Object.keys(o).length > 0 ? o : undefined;
const add = (m: Map<string, string[]>, k: string, v: string) => m.set(k, [...(m.get(k) ?? []), v]);

const NO_IDENTITY = Object.fromEntries(
  'accessKey accountId apiKey apiKeyId caller clientCert cognitoAuthenticationProvider cognitoAuthenticationType cognitoIdentityId cognitoIdentityPoolId principalOrgId user userArn'
    .split(' ')
    .map((k) => [k, null]),
);

/**
 * The event API Gateway hands the route's function: payload format 2.0 as documented (cookies
 * out of the headers, repeated headers and query parameters comma-joined), or 1.0 (the REST
 * API proxy shape, with the `multiValue` fields).
 */
function toEvent(route: HttpApiRoute, params: Params, req: HttpApiRequest, env: LocalEnv) {
  const lines = new Map<string, string[]>();
  for (const [name, value] of req.headers) add(lines, name.toLowerCase(), value);
  // API Gateway tells the function where the request came from.
  add(lines, 'x-forwarded-for', req.sourceIp);
  lines.set('x-forwarded-proto', ['http']);
  const query = new Map<string, string[]>();
  for (const [key, value] of new URLSearchParams(req.rawQueryString)) add(query, key, value);
  const isBase64Encoded = req.body.length > 0 && !isTextBody(lines, req.body);
  const body =
    req.body.length > 0 ? req.body.toString(isBase64Encoded ? 'base64' : 'utf8') : undefined;
  const domainName = lines.get('host')?.[0] ?? '127.0.0.1';
  const now = new Date();
  const [, day, month, year, clock] = now.toUTCString().split(' ');
  const time = `${day}/${month}/${year}:${clock} +0000`;
  const userAgent = lines.get('user-agent')?.join(',');
  const protocol = req.protocol ?? 'HTTP/1.1';
  const context = {
    accountId: env.accountId,
    // A stable id in API Gateway's shape (10 lower-case characters), one per Api.
    apiId: createHash('sha256').update(route.apiLogicalId).digest('hex').slice(0, 10),
    domainName,
    domainPrefix: domainName.replace(/:\d+$/, '').split('.')[0] ?? '',
    requestId: randomUUID(),
    stage: '$default',
  };
  if (route.payloadFormatVersion === '1.0') {
    const resource = route.path ?? '$default';
    return {
      version: '1.0',
      resource,
      path: req.rawPath,
      httpMethod: req.method,
      headers: lastOf(lines),
      multiValueHeaders: Object.fromEntries(lines),
      queryStringParameters: nonEmpty(lastOf(query)) ?? null,
      multiValueQueryStringParameters: nonEmpty(Object.fromEntries(query)) ?? null,
      pathParameters: nonEmpty(params) ?? null,
      stageVariables: null,
      requestContext: {
        ...context,
        authorizer: { claims: null, scopes: null },
        extendedRequestId: context.requestId,
        httpMethod: req.method,
        identity: { ...NO_IDENTITY, sourceIp: req.sourceIp, userAgent: userAgent ?? null },
        path: req.rawPath,
        protocol,
        requestTime: time,
        requestTimeEpoch: now.getTime(),
        resourceId: route.routeKey,
        resourcePath: resource,
      },
      body: body ?? null,
      isBase64Encoded,
    };
  }
  const cookies = (lines.get('cookie') ?? []).flatMap((c) => c.split(';'));
  lines.delete('cookie');
  const event: APIGatewayProxyEventV2 = {
    version: '2.0',
    routeKey: route.routeKey,
    rawPath: req.rawPath,
    rawQueryString: req.rawQueryString,
    cookies: nonEmpty(cookies.map((c) => c.trim()).filter((c) => c !== '')),
    headers: joined(lines),
    queryStringParameters: nonEmpty(joined(query)),
    pathParameters: nonEmpty(params),
    requestContext: {
      ...context,
      http: {
        method: req.method,
        path: req.rawPath,
        protocol,
        sourceIp: req.sourceIp,
        userAgent: userAgent ?? '',
      },
      routeKey: route.routeKey,
      time,
      timeEpoch: now.getTime(),
    },
    body,
    isBase64Encoded,
  };
  // Fields without a value are absent, as in API Gateway's JSON.
  return JSON.parse(JSON.stringify(event));
}

/**
 * The function's result as API Gateway answers it, or why it is not a valid response. With a
 * `statusCode`: that status, `headers` (and in 1.0 `multiValueHeaders`), `cookies` (2.0) and
 * `body`, base64-decoded when `isBase64Encoded`. Without: in 2.0, a 200 `application/json`
 * answer of the result (a string as it is); 1.0 needs `statusCode`.
 */
function mapResult(result: unknown, version: '1.0' | '2.0'): HttpApiResponse | string {
  if (!isRecord(result) || result.statusCode === undefined) {
    if (version === '1.0') return 'a payload format 1.0 result needs a statusCode';
    const body = typeof result === 'string' ? result : JSON.stringify(result ?? null);
    const headers = { 'content-type': 'application/json' };
    return { status: 200, headers, cookies: [], body: Buffer.from(body) };
  }
  const status = Number(result.statusCode);
  if (!Number.isInteger(status) || status < 100 || status > 599) {
    return `statusCode ${JSON.stringify(result.statusCode)} is not an HTTP status`;
  }
  const headers: Record<string, string> = {};
  const cookies: string[] = [];
  const scalar = (v: unknown) => ['string', 'number', 'boolean'].includes(typeof v);
  const fields = { headers: result.headers, multiValueHeaders: result.multiValueHeaders };
  for (const [field, value] of Object.entries(fields)) {
    if (value == null || (version === '2.0' && field !== 'headers')) continue;
    if (!isRecord(value)) return `${field} is not an object`;
    for (const [name, v] of Object.entries(value)) {
      const values = field === 'headers' ? [v] : Array.isArray(v) ? v : [undefined];
      if (!values.every(scalar)) return `${field}.${name} is not a valid header value`;
      const key = name.toLowerCase();
      if (key === 'set-cookie') cookies.push(...values.map(String));
      else headers[key] = values.map(String).join(',');
    }
  }
  const extra = version === '2.0' ? (result.cookies ?? []) : [];
  if (!Array.isArray(extra) || !extra.every((c) => typeof c === 'string')) {
    return 'cookies is not an array of strings';
  }
  const body = result.body ?? '';
  if (typeof body !== 'string') return 'body is not a string';
  const encoding = result.isBase64Encoded === true ? 'base64' : 'utf8';
  return { status, headers, cookies: [...cookies, ...extra], body: Buffer.from(body, encoding) };
}

/**
 * Answers requests to the routes as API Gateway does: matches the route (literal segments before
 * `{param}` before a greedy `{proxy+}`, a method before `ANY`, `$default` last), invokes its
 * function with the route's payload format and maps the result; a function error or an invalid
 * result is answered 500 `{"message":"Internal Server Error"}` and logged. Undefined when no
 * route matches: the caller answers (its own pages, else `gatewayAnswer(404, 'Not Found')`).
 *
 * @example
 * const handle = createHttpApiHandler({ routes, invoke: (id, event) => pool.invoke(id, event), env, log });
 * const answer = await handle(request); // undefined: no route
 */
export function createHttpApiHandler(
  opts: HttpApiHandlerOptions,
): (req: HttpApiRequest) => Promise<HttpApiResponse | undefined> {
  const candidates = opts.routes.map((route): Candidate => {
    const { segments } = parseRouteKey(route.routeLogicalId, route.routeKey);
    const rank = (segments ?? []).map(specificity).join('') + (route.method === 'ANY' ? 0 : 1);
    return { route, segments, rank };
  });
  return async (req) => {
    const match = matchRoute(candidates, req.method.toUpperCase(), req.rawPath);
    if (match === undefined) return undefined;
    const { route, params } = match;
    const fail = (message: string, details: Record<string, unknown>) => {
      const { routeKey, routeLogicalId, functionLogicalId } = route;
      const about = { routeKey, routeLogicalId, functionLogicalId, ...details };
      opts.log({ level: 'error', message, timestamp: new Date().toISOString(), ...about });
      return gatewayAnswer(500, 'Internal Server Error');
    };
    const outcome = await Promise.resolve()
      .then(() => opts.invoke(route.functionLogicalId, toEvent(route, params, req, opts.env)))
      .catch((err: unknown): FunctionOutcome => {
        const e = err instanceof Error ? err : new Error(String(err));
        return { ok: false, errorType: e.name, errorMessage: e.message };
      });
    if (!outcome.ok) {
      const { errorType, errorMessage } = outcome;
      return fail(`${route.routeKey}: the function failed`, { errorType, errorMessage });
    }
    const answer = mapResult(outcome.result, route.payloadFormatVersion);
    if (typeof answer !== 'string') return answer;
    return fail(`${route.routeKey}: the function's result is not a response`, { reason: answer });
  };
}

/** API Gateway's payload limit: a larger request is answered 413. */
export const HTTP_API_MAX_BODY_BYTES = 10 * 1024 * 1024;

/** Options of `serveHttpApi`. */
export interface HttpApiServerOptions {
  /** The loopback port; 0 takes a free one. */
  readonly port: number;
  /** The routes' handler (`createHttpApiHandler`). */
  readonly handle: (req: HttpApiRequest) => Promise<HttpApiResponse | undefined>;
  /** Answers what no route matched (the inspector's pages); else 404 `{"message":"Not Found"}`. */
  readonly fallback?: (req: HttpApiRequest) => Promise<HttpResponse | undefined>;
  /** Receives an `error` entry for a request that failed outside the handler's answers. */
  readonly log: LogSink;
}

/** A running HTTP API server. */
export interface HttpApiServer extends NodeHttpServer {
  /** `http://127.0.0.1:<port>`. */
  readonly url: string;
}

/** The request, or undefined for a body over the limit (read to its end, for a clean 413). */
async function readRequest(req: IncomingMessage): Promise<HttpApiRequest | undefined> {
  const chunks: Buffer[] = [];
  let bytes = 0;
  for await (const chunk of req) {
    bytes += (chunk as Buffer).length;
    if (bytes <= HTTP_API_MAX_BODY_BYTES) chunks.push(chunk as Buffer);
    else chunks.length = 0;
  }
  if (bytes > HTTP_API_MAX_BODY_BYTES) return undefined;
  const [rawPath = '/', ...query] = (req.url ?? '/').split('?');
  const raw = req.rawHeaders;
  return {
    method: req.method ?? 'GET',
    rawPath,
    rawQueryString: query.join('?'),
    headers: raw.flatMap((name, i) => (i % 2 === 0 ? [[name, raw[i + 1] ?? ''] as const] : [])),
    body: Buffer.concat(chunks),
    sourceIp: (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, ''),
    protocol: `HTTP/${req.httpVersion}`,
  };
}

function send(res: ServerResponse, answer: HttpApiResponse | HttpResponse): void {
  const cookies = 'cookies' in answer && answer.cookies.length > 0 ? [...answer.cookies] : [];
  res.writeHead(answer.status, {
    ...answer.headers,
    ...(cookies.length ? { 'set-cookie': cookies } : {}),
  });
  res.end(answer.body);
}

/**
 * Serves an HTTP API on `127.0.0.1:<port>` as API Gateway's endpoint would: a body over 10 MB is
 * answered 413 `{"message":"Request Entity Too Large"}`, what neither `handle` nor `fallback`
 * answers 404 `{"message":"Not Found"}`, a failure outside them 500 (and logged). A taken port
 * rejects with a `PORT_TAKEN` error.
 *
 * @example
 * const server = await serveHttpApi({ port: 0, handle, fallback: (req) => inspector.handle(req.method, req.rawPath), log });
 * await fetch(`${server.url}/workflows`);
 * await server.close();
 */
export async function serveHttpApi(opts: HttpApiServerOptions): Promise<HttpApiServer> {
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const request = await readRequest(req);
      if (request === undefined) return send(res, gatewayAnswer(413, 'Request Entity Too Large'));
      const answer = (await opts.handle(request)) ?? (await opts.fallback?.(request));
      send(res, answer ?? gatewayAnswer(404, 'Not Found'));
    })().catch((err: unknown) => {
      const error = err instanceof Error ? err.message : String(err);
      const timestamp = new Date().toISOString();
      opts.log({ level: 'error', message: 'local HTTP API request failed', timestamp, error });
      if (res.headersSent) res.end();
      else send(res, gatewayAnswer(500, 'Internal Server Error'));
    });
  });
  const port = await new Promise<number>((resolve, reject) => {
    server.once('error', (err: NodeJS.ErrnoException) => {
      const taken = err.code === 'EADDRINUSE';
      const message = `port ${opts.port} is taken: choose a free one`;
      reject(taken ? new TriggersError(message, { code: 'PORT_TAKEN', cause: err }) : err);
    });
    server.listen(opts.port, '127.0.0.1', () => resolve((server.address() as AddressInfo).port));
  });
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
