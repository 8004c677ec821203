/**
 * The template mode's API Gateway HTTP API: routes read from a resolved template, matched as
 * API Gateway matches them, payload format 2.0 / 1.0 events, results mapped to responses, and
 * the loopback server (over real HTTP with `fetch`).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { LogEntry } from '../../lib/core/log.ts';
import { TemplateError } from '../../lib/errors.ts';
import {
  authorizationNotice,
  createHttpApiHandler,
  type FunctionOutcome,
  type HttpApiRequest,
  type HttpApiRoute,
  type HttpApiServer,
  httpApiRoutes,
  serveHttpApi,
} from '../../lib/local/template/http-api.ts';
import type { CfnResource, LocalEnv } from '../../lib/local/template/model.ts';

const ENV: LocalEnv = { accountId: '111122223333', region: 'eu-west-1', partition: 'aws' };
const FN_A_ARN = 'arn:aws:lambda:eu-west-1:111122223333:function:App-FnA';

const integration = (uri: string, version: string, type = 'AWS_PROXY'): CfnResource => ({
  Type: 'AWS::ApiGatewayV2::Integration',
  Properties: {
    ApiId: 'Api',
    IntegrationType: type,
    IntegrationUri: uri,
    PayloadFormatVersion: version,
  },
});

const route = (key: string, target: string, auth?: string): CfnResource => ({
  Type: 'AWS::ApiGatewayV2::Route',
  Properties: {
    ApiId: 'Api',
    RouteKey: key,
    Target: `integrations/${target}`,
    ...(auth ? { AuthorizationType: auth } : {}),
  },
});

/** A resolved template: Refs to integrations are their logical ids, function ARNs resolved. */
const RESOURCES: Record<string, CfnResource> = {
  Api: { Type: 'AWS::ApiGatewayV2::Api', Properties: { Name: 'Api', ProtocolType: 'HTTP' } },
  Stage: { Type: 'AWS::ApiGatewayV2::Stage', Properties: { ApiId: 'Api', StageName: '$default' } },
  FnA: { Type: 'AWS::Lambda::Function', Properties: {} },
  FnB: { Type: 'AWS::Lambda::Function', Properties: {} },
  IntegrationA: integration(FN_A_ARN, '2.0'),
  IntegrationB: integration('FnB', '1.0'),
  RouteItem: route('GET /items/{id}', 'IntegrationA', 'AWS_IAM'),
  RouteItemsNew: route('GET /items/new', 'IntegrationA'),
  RouteItemPost: route('POST /items/{id}', 'IntegrationA'),
  RouteItemAny: route('ANY /items/{id}', 'IntegrationA'),
  RouteItemsProxy: route('ANY /items/{proxy+}', 'IntegrationA'),
  RouteLegacy: route('GET /legacy/{name}', 'IntegrationB'),
  RouteDefault: route('$default', 'IntegrationA'),
};

const FUNCTIONS = new Map([
  [FN_A_ARN, 'FnA'],
  ['FnB', 'FnB'],
]);
const functionByArn = (arn: string) => FUNCTIONS.get(arn);
const WHERE = 'App.template.json';

function routesOf(resources: Record<string, CfnResource>): HttpApiRoute[] {
  return httpApiRoutes(resources, WHERE, functionByArn).flatMap((api) => [...api.routes]);
}

/** A handler whose functions answer `answer(event)` and record what they were invoked with. */
function recordingHandler(
  answer: (event: Record<string, unknown>) => FunctionOutcome = () => ({ ok: true, result: {} }),
  routes = routesOf(RESOURCES),
) {
  const calls: { fn: string; event: Record<string, unknown> }[] = [];
  const logs: LogEntry[] = [];
  const handle = createHttpApiHandler({
    routes,
    env: ENV,
    log: (entry) => logs.push(entry),
    invoke: async (fn, event) => {
      calls.push({ fn, event: event as Record<string, unknown> });
      return answer(event as Record<string, unknown>);
    },
  });
  return { handle, calls, logs };
}

function request(method: string, target: string, more: Partial<HttpApiRequest> = {}) {
  const [rawPath = '/', rawQueryString = ''] = target.split('?');
  return {
    method,
    rawPath,
    rawQueryString,
    headers: [['Host', '127.0.0.1:3000']] as [string, string][],
    body: Buffer.alloc(0),
    sourceIp: '127.0.0.1',
    ...more,
  };
}

describe('httpApiRoutes', () => {
  it('reads each route of the HTTP API with its function, payload format and authorization', () => {
    const [api, ...others] = httpApiRoutes(RESOURCES, WHERE, functionByArn);

    expect(others).toEqual([]);
    expect(api?.apiLogicalId).toBe('Api');
    expect(api?.routes.map((r) => r.routeKey).sort()).toEqual([
      '$default',
      'ANY /items/{id}',
      'ANY /items/{proxy+}',
      'GET /items/new',
      'GET /items/{id}',
      'GET /legacy/{name}',
      'POST /items/{id}',
    ]);
    expect(api?.routes.find((r) => r.routeLogicalId === 'RouteItem')).toEqual({
      apiLogicalId: 'Api',
      routeLogicalId: 'RouteItem',
      routeKey: 'GET /items/{id}',
      method: 'GET',
      path: '/items/{id}',
      functionLogicalId: 'FnA',
      payloadFormatVersion: '2.0',
      authorizationType: 'AWS_IAM',
    });
    expect(api?.routes.find((r) => r.routeLogicalId === 'RouteLegacy')).toMatchObject({
      functionLogicalId: 'FnB',
      payloadFormatVersion: '1.0',
      authorizationType: 'NONE',
    });
    expect(api?.routes.find((r) => r.routeKey === '$default')).toMatchObject({
      method: 'ANY',
      path: undefined,
    });
  });

  it('maps an API Gateway invocation URI to the function it wraps', () => {
    const uri = `arn:aws:apigateway:eu-west-1:lambda:path/2015-03-31/functions/${FN_A_ARN}/invocations`;
    const routes = routesOf({
      ...RESOURCES,
      IntegrationA: integration(uri, '2.0'),
    });

    expect(routes.find((r) => r.routeLogicalId === 'RouteItem')?.functionLogicalId).toBe('FnA');
  });

  it('reads a quick-create API as one $default route to its function in format 2.0', () => {
    const routes = routesOf({
      Quick: {
        Type: 'AWS::ApiGatewayV2::Api',
        Properties: { ProtocolType: 'HTTP', Target: FN_A_ARN },
      },
    });

    expect(routes).toEqual([
      {
        apiLogicalId: 'Quick',
        routeLogicalId: 'Quick',
        routeKey: '$default',
        method: 'ANY',
        path: undefined,
        functionLogicalId: 'FnA',
        payloadFormatVersion: '2.0',
        authorizationType: 'NONE',
      },
    ]);
  });

  it('refuses a WebSocket API, naming it', () => {
    const resources: Record<string, CfnResource> = {
      ...RESOURCES,
      ChatApi: { Type: 'AWS::ApiGatewayV2::Api', Properties: { ProtocolType: 'WEBSOCKET' } },
    };

    expect(() => httpApiRoutes(resources, WHERE, functionByArn)).toThrow(TemplateError);
    expect(() => httpApiRoutes(resources, WHERE, functionByArn)).toThrow(
      /^ChatApi: is a WebSocket API.*App\.template\.json/,
    );
  });

  it('refuses an HTTP_PROXY integration, naming it', () => {
    const resources = {
      ...RESOURCES,
      IntegrationB: integration('https://example.com', '1.0', 'HTTP_PROXY'),
    };

    expect(() => httpApiRoutes(resources, WHERE, functionByArn)).toThrow(
      /^IntegrationB: is a HTTP_PROXY integration: .*only AWS_PROXY/,
    );
  });

  it('refuses a payload format other than 1.0 and 2.0, and a function not in the template', () => {
    expect(() => routesOf({ ...RESOURCES, IntegrationB: integration('FnB', '3.0') })).toThrow(
      /^IntegrationB: has PayloadFormatVersion "3.0"; expected 1.0 or 2.0/,
    );
    expect(() => routesOf({ ...RESOURCES, IntegrationB: integration('Elsewhere', '2.0') })).toThrow(
      /^IntegrationB: integrates Elsewhere, which is not a Lambda function of the template/,
    );
  });

  it('refuses a greedy variable that is not the last segment', () => {
    const resources = { ...RESOURCES, RouteBad: route('GET /a/{rest+}/b', 'IntegrationA') };

    expect(() => routesOf(resources)).toThrow(/^RouteBad: RouteKey 'GET \/a\/\{rest\+\}\/b'/);
  });
});

describe('authorizationNotice', () => {
  it('lists the routes AWS would authorize and says local callers are not authenticated', () => {
    const lines = authorizationNotice(routesOf(RESOURCES));
    const text = lines.join('\n');

    expect(text).toContain('GET /items/{id} (RouteItem): IAM (SigV4-signed requests)');
    expect(text).not.toContain('GET /items/new');
    expect(text).toMatch(/without authentication/);
  });

  it('says nothing when no route needs authorization', () => {
    const open = routesOf(RESOURCES).filter((r) => r.authorizationType === 'NONE');

    expect(authorizationNotice(open)).toEqual([]);
  });
});

describe('createHttpApiHandler routing', () => {
  it.each([
    ['GET', '/items/new', 'GET /items/new'],
    ['GET', '/items/42', 'GET /items/{id}'],
    ['POST', '/items/42', 'POST /items/{id}'],
    ['DELETE', '/items/42', 'ANY /items/{id}'],
    ['GET', '/items/42/parts/7', 'ANY /items/{proxy+}'],
    ['GET', '/items', '$default'],
    ['PUT', '/elsewhere/deep', '$default'],
  ])('routes %s %s to %s', async (method, path, routeKey) => {
    const { handle, calls } = recordingHandler();

    await handle(request(method, path));

    expect(calls.map((c) => c.event.routeKey)).toEqual([routeKey]);
  });

  it('gives path parameters decoded, the greedy one with its slashes', async () => {
    const { handle, calls } = recordingHandler();

    await handle(request('GET', '/items/a%20b/c%2Fd/e'));
    await handle(request('GET', '/items/a%20b'));

    expect(calls.map((c) => c.event.pathParameters)).toEqual([
      { proxy: 'a b/c/d/e' },
      { id: 'a b' },
    ]);
  });

  it('answers undefined when no route matches and there is no $default', async () => {
    const routes = routesOf(RESOURCES).filter((r) => r.routeKey !== '$default');
    const { handle, calls } = recordingHandler(undefined, routes);

    expect(await handle(request('GET', '/nothing/here'))).toBeUndefined();
    expect(calls).toEqual([]);
  });
});

describe('createHttpApiHandler events', () => {
  it('builds a payload format 2.0 event with repeated headers and query keys comma-joined', async () => {
    const { handle, calls } = recordingHandler();
    const body = JSON.stringify({ trigger: 'go' });

    await handle(
      request('POST', '/items/a%20b?a=1&a=2&c=x%20y', {
        headers: [
          ['Host', '127.0.0.1:3000'],
          ['Content-Type', 'application/json'],
          ['X-Multi', 'one'],
          ['x-multi', 'two'],
          ['Cookie', 's=1; t=2'],
          ['User-Agent', 'probe/1'],
        ],
        body: Buffer.from(body),
        sourceIp: '127.0.0.7',
      }),
    );

    const [call] = calls;
    expect(call?.fn).toBe('FnA');
    const event = call?.event ?? {};
    expect(event).toMatchObject({
      version: '2.0',
      routeKey: 'POST /items/{id}',
      rawPath: '/items/a%20b',
      rawQueryString: 'a=1&a=2&c=x%20y',
      cookies: ['s=1', 't=2'],
      queryStringParameters: { a: '1,2', c: 'x y' },
      pathParameters: { id: 'a b' },
      body,
      isBase64Encoded: false,
    });
    expect(event.headers).toMatchObject({
      'content-type': 'application/json',
      'x-multi': 'one,two',
      'user-agent': 'probe/1',
      'x-forwarded-for': '127.0.0.7',
    });
    expect(event.headers).not.toHaveProperty('cookie');
    expect(event.requestContext).toMatchObject({
      accountId: '111122223333',
      domainName: '127.0.0.1:3000',
      domainPrefix: '127',
      http: {
        method: 'POST',
        path: '/items/a%20b',
        protocol: 'HTTP/1.1',
        sourceIp: '127.0.0.7',
        userAgent: 'probe/1',
      },
      routeKey: 'POST /items/{id}',
      stage: '$default',
    });
    const context = event.requestContext as Record<string, unknown>;
    expect(context.apiId).toMatch(/^[0-9a-f]{10}$/);
    expect(context.requestId).toEqual(expect.any(String));
    expect(context.time).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(context.timeEpoch).toEqual(expect.any(Number));
  });

  it('leaves out what a bare 2.0 request does not have', async () => {
    const { handle, calls } = recordingHandler();

    await handle(request('GET', '/items'));

    const event = calls[0]?.event ?? {};
    for (const absent of ['cookies', 'queryStringParameters', 'pathParameters', 'body']) {
      expect(event).not.toHaveProperty(absent);
    }
    expect(event.isBase64Encoded).toBe(false);
  });

  it('base64-encodes a binary body', async () => {
    const { handle, calls } = recordingHandler();
    const bytes = Buffer.from([0, 255, 1, 128]);

    await handle(
      request('POST', '/items/1', {
        headers: [['Content-Type', 'application/octet-stream']],
        body: bytes,
      }),
    );

    expect(calls[0]?.event).toMatchObject({
      body: bytes.toString('base64'),
      isBase64Encoded: true,
    });
  });

  it('builds a payload format 1.0 event with the multi-value fields', async () => {
    const { handle, calls } = recordingHandler(() => ({ ok: true, result: { statusCode: 204 } }));

    await handle(
      request('GET', '/legacy/x%2Fy?q=1&q=2', {
        headers: [
          ['X-Multi', 'one'],
          ['X-Multi', 'two'],
        ],
      }),
    );

    expect(calls[0]?.fn).toBe('FnB');
    expect(calls[0]?.event).toMatchObject({
      version: '1.0',
      resource: '/legacy/{name}',
      path: '/legacy/x%2Fy',
      httpMethod: 'GET',
      headers: { 'x-multi': 'two' },
      multiValueHeaders: { 'x-multi': ['one', 'two'] },
      queryStringParameters: { q: '2' },
      multiValueQueryStringParameters: { q: ['1', '2'] },
      pathParameters: { name: 'x/y' },
      body: null,
      isBase64Encoded: false,
      requestContext: {
        accountId: '111122223333',
        httpMethod: 'GET',
        identity: { sourceIp: '127.0.0.1' },
        resourcePath: '/legacy/{name}',
        stage: '$default',
      },
    });
  });
});

describe('createHttpApiHandler results', () => {
  it('answers a function error with 500 Internal Server Error and logs it with the route', async () => {
    const { handle, logs } = recordingHandler(() => ({
      ok: false,
      errorType: 'TypeError',
      errorMessage: 'boom',
    }));

    const answer = await handle(request('GET', '/items/1'));

    expect(answer?.status).toBe(500);
    expect(JSON.parse(answer?.body.toString() ?? '')).toEqual({ message: 'Internal Server Error' });
    expect(logs).toEqual([
      expect.objectContaining({
        level: 'error',
        routeKey: 'GET /items/{id}',
        functionLogicalId: 'FnA',
        errorType: 'TypeError',
        errorMessage: 'boom',
      }),
    ]);
  });

  it.each([
    ['a status that is not one', { statusCode: 'abc' }],
    ['a body that is not a string', { statusCode: 200, body: { a: 1 } }],
    ['headers that are not an object', { statusCode: 200, headers: 'x' }],
  ])('answers 500 for a result with %s', async (_, result) => {
    const { handle, logs } = recordingHandler(() => ({ ok: true, result }));

    const answer = await handle(request('GET', '/items/1'));

    expect(answer?.status).toBe(500);
    expect(logs[0]?.level).toBe('error');
  });

  it('needs a statusCode from a payload format 1.0 function', async () => {
    const { handle } = recordingHandler(() => ({ ok: true, result: { hello: 'world' } }));

    expect((await handle(request('GET', '/legacy/x')))?.status).toBe(500);
  });

  it('answers a 1.0 result with its multi-value headers', async () => {
    const result = {
      statusCode: 202,
      headers: { 'X-One': 'a' },
      multiValueHeaders: { 'X-Two': ['b', 'c'], 'Set-Cookie': ['k=1', 'l=2'] },
      body: 'ok',
    };
    const { handle } = recordingHandler(() => ({ ok: true, result }));

    const answer = await handle(request('GET', '/legacy/x'));

    expect(answer).toMatchObject({
      status: 202,
      headers: { 'x-one': 'a', 'x-two': 'b,c' },
      cookies: ['k=1', 'l=2'],
    });
    expect(answer?.body.toString()).toBe('ok');
  });
});

describe('serveHttpApi', () => {
  let server: HttpApiServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  async function serve(answer: (event: Record<string, unknown>) => FunctionOutcome) {
    const recorded = recordingHandler(answer);
    server = await serveHttpApi({ port: 0, handle: recorded.handle, log: () => {} });
    return { ...recorded, url: server.url };
  }

  it('listens on 127.0.0.1 only', async () => {
    const { url } = await serve(() => ({ ok: true, result: {} }));

    expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(server?.port).toBeGreaterThan(0);
  });

  it('hands the function a 2.0 event of the real request, JSON and binary bodies alike', async () => {
    const { url, calls } = await serve(() => ({ ok: true, result: {} }));

    await fetch(`${url}/items/7?a=1&a=2`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', cookie: 'x=1' },
      body: '{"n":1}',
    });
    await fetch(`${url}/items/8`, {
      method: 'POST',
      headers: { 'content-type': 'image/png' },
      body: new Uint8Array([137, 80, 78, 71]),
    });

    expect(calls[0]?.event).toMatchObject({
      routeKey: 'POST /items/{id}',
      rawPath: '/items/7',
      rawQueryString: 'a=1&a=2',
      queryStringParameters: { a: '1,2' },
      pathParameters: { id: '7' },
      cookies: ['x=1'],
      body: '{"n":1}',
      isBase64Encoded: false,
      requestContext: { http: { method: 'POST', sourceIp: '127.0.0.1' }, stage: '$default' },
    });
    expect(calls[1]?.event).toMatchObject({
      body: Buffer.from([137, 80, 78, 71]).toString('base64'),
      isBase64Encoded: true,
    });
  });

  it('answers the status, headers, cookies and base64-decoded body the function returns', async () => {
    const { url } = await serve(() => ({
      ok: true,
      result: {
        statusCode: 201,
        headers: { 'X-Custom': 'yes', 'Content-Type': 'application/octet-stream' },
        cookies: ['a=1; Path=/', 'b=2'],
        body: Buffer.from([1, 2, 3]).toString('base64'),
        isBase64Encoded: true,
      },
    }));

    const res = await fetch(`${url}/items/1`);

    expect(res.status).toBe(201);
    expect(res.headers.get('x-custom')).toBe('yes');
    expect(res.headers.getSetCookie()).toEqual(['a=1; Path=/', 'b=2']);
    expect([...new Uint8Array(await res.arrayBuffer())]).toEqual([1, 2, 3]);
  });

  it('answers a result without statusCode as a 200 JSON body, a string as it is', async () => {
    const { url } = await serve((event) => ({
      ok: true,
      result: event.rawPath === '/items/text' ? 'Hello from Lambda!' : { hello: 'world' },
    }));

    const object = await fetch(`${url}/items/1`);
    const string = await fetch(`${url}/items/text`);

    expect(object.status).toBe(200);
    expect(object.headers.get('content-type')).toBe('application/json');
    expect(await object.json()).toEqual({ hello: 'world' });
    expect(string.headers.get('content-type')).toBe('application/json');
    expect(await string.text()).toBe('Hello from Lambda!');
  });

  it('answers a function error with 500 {"message":"Internal Server Error"}', async () => {
    const { url } = await serve(() => ({ ok: false, errorType: 'Error', errorMessage: 'no' }));

    const res = await fetch(`${url}/items/1`);

    expect(res.status).toBe(500);
    expect(await res.json()).toEqual({ message: 'Internal Server Error' });
  });

  it('answers 404 {"message":"Not Found"} when neither a route nor the fallback answers', async () => {
    const routes = routesOf(RESOURCES).filter((r) => r.routeKey !== '$default');
    const { handle } = recordingHandler(undefined, routes);
    server = await serveHttpApi({
      port: 0,
      handle,
      fallback: async (req) =>
        req.rawPath === '/ui' ? { status: 200, headers: {}, body: 'page' } : undefined,
      log: () => {},
    });

    const page = await fetch(`${server.url}/ui`);
    const missing = await fetch(`${server.url}/nothing`);

    expect(await page.text()).toBe('page');
    expect(missing.status).toBe(404);
    expect(await missing.json()).toEqual({ message: 'Not Found' });
  });

  it('answers 413 for a body over 10 MB without invoking the function', async () => {
    const { url, calls } = await serve(() => ({ ok: true, result: {} }));

    const res = await fetch(`${url}/items/1`, {
      method: 'POST',
      body: new Uint8Array(10 * 1024 * 1024 + 1),
    });

    expect(res.status).toBe(413);
    expect(await res.json()).toEqual({ message: 'Request Entity Too Large' });
    expect(calls).toEqual([]);
  });
});
