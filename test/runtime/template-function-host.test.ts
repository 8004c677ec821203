/**
 * The local Lambda execution environments of the template mode: tiny function folders written
 * to a temp dir, run by a `FunctionHost` in child processes as Lambda would run them.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import {
  FunctionHost,
  type FunctionHostOptions,
  type InvokeResult,
  lambdaEnvironment,
} from '../../lib/local/template/function-host.ts';
import { DEFAULT_LOCAL_ENV, type FunctionSpec } from '../../lib/local/template/model.ts';

/** The function folders, by name: file name to source. */
const FUNCTIONS: Record<string, Record<string, string>> = {
  esm: {
    'index.mjs': `
      export const handler = async (event, context) => ({
        event, pid: process.pid, env: { ...process.env }, cwd: process.cwd(),
        execArgv: process.execArgv,
        context: { ...context, remaining: context.getRemainingTimeInMillis() },
      });`,
  },
  cjs: {
    'package.json': '{}',
    'index.js': `exports.handler = async (event) => ({ kind: typeof module, echo: event });`,
  },
  'esm-js': {
    'package.json': '{"type":"module"}',
    'lib/main.js': `export const handler = async () => ({ kind: typeof module });`,
  },
  callback: {
    'index.js': `
      exports.handler = (event, context, callback) => {
        const result = { late: false };
        if (event.noWait) context.callbackWaitsForEmptyEventLoop = false;
        setTimeout(() => callback(null, result), 5);
        setTimeout(() => { result.late = true; }, 50);
      };
      exports.succeeds = (event, context) => { setTimeout(() => context.succeed('done'), 5); };
      exports.fails = (event, context, callback) => callback(new RangeError('out of range'));`,
  },
  throws: {
    'index.mjs': `export const handler = async () => { throw new TypeError('bad input'); };`,
  },
  'init-throws': {
    'index.mjs': `
      import { existsSync } from 'node:fs';
      class EnvironmentError extends Error { name = 'EnvironmentError'; }
      if (!existsSync('ready')) {
        throw new EnvironmentError('environment variable TRIGGERS_TABLE_NAME is required');
      }
      export const handler = async () => 'ready now';`,
  },
  'no-export': {
    'index.mjs': `export const other = async () => 1; export const notFn = 42;`,
  },
  slow: {
    'index.mjs': `
      export const handler = async (event) => {
        await new Promise((resolve) => setTimeout(resolve, event.sleepMs ?? 0));
        return { pid: process.pid };
      };`,
  },
  chatty: {
    'index.mjs': `
      export const handler = async (event) => {
        console.log('hello from the handler');
        console.error('first\\nsecond');
        return 'ok';
      };`,
  },
  crashes: {
    'index.mjs': `
      const end = process.exit.bind(process);
      export const exits = async () => { end(3); };
      export const rejects = async () => {
        Promise.reject(new Error('nobody waits for me'));
        await new Promise((resolve) => setTimeout(resolve, 1000));
      };
      export const hoards = async () => {
        const hoard = [];
        for (;;) hoard.push(new Array(100_000).fill(Math.random()));
      };
      export const works = async () => process.pid;`,
  },
  sdk: {
    'esm.mjs': `
      import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
      export const handler = async () => {
        const { accessKeyId } = await new DynamoDBClient({}).config.credentials();
        return accessKeyId;
      };`,
    'cjs.js': `
      const { SQSClient } = require('@aws-sdk/client-sqs');
      exports.handler = async () => typeof SQSClient;`,
  },
  'custom-resource': {
    'index.js': `
      const https = require('node:https');
      const put = (options, body) => new Promise((resolve, reject) => {
        const req = https.request(options, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)); });
        req.on('error', reject);
        req.end(body);
      });
      exports.handler = async (event) => {
        const url = new URL(event.ResponseURL);
        const body = JSON.stringify({ Status: 'SUCCESS', RequestId: event.RequestId });
        return put({ hostname: url.hostname, path: url.pathname + url.search, method: 'PUT',
          headers: { 'content-type': '', 'content-length': Buffer.byteLength(body) } }, body);
      };
      exports.withUrl = async (event) => new Promise((resolve, reject) => {
        const req = https.request(event.ResponseURL, { method: 'PUT' }, (res) => { res.resume(); resolve(res.statusCode); });
        req.on('error', reject);
        req.end('second');
      });`,
  },
};

let root: string;
const hosts: FunctionHost[] = [];
const CUSTOM_RESOURCE_HOST = 'cfn-response.local.invalid';
const CREDENTIALS = { accessKeyId: 'LOCALFUNCTIONKEY', secretAccessKey: 'local-secret' };

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'triggers-function-host-'));
  for (const [name, files] of Object.entries(FUNCTIONS)) {
    for (const [file, source] of Object.entries(files)) {
      mkdirSync(join(root, name, file, '..'), { recursive: true });
      writeFileSync(join(root, name, file), source);
    }
  }
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

afterEach(async () => {
  await Promise.all(hosts.splice(0).map((host) => host.stop()));
});

function spec(
  folder: string,
  handler: string,
  overrides: Partial<FunctionSpec> = {},
): FunctionSpec {
  return {
    logicalId: `Fn${folder.replace(/\W/g, '')}`,
    functionName: `Stack-Fn-${folder}`,
    codeDir: join(root, folder),
    handler,
    runtime: 'nodejs22.x',
    timeoutSeconds: 10,
    memoryMb: 256,
    environment: {},
    roleLogicalId: undefined,
    ...overrides,
  };
}

function host(
  fn: FunctionSpec,
  opts: Partial<FunctionHostOptions> = {},
): FunctionHost & { lines: { line: string; stream: string }[] } {
  const lines: { line: string; stream: string }[] = [];
  const created = new FunctionHost(fn, {
    credentials: CREDENTIALS,
    awsEndpoint: 'http://127.0.0.1:4599',
    env: DEFAULT_LOCAL_ENV,
    output: (line, stream) => lines.push({ line, stream }),
    ...opts,
  });
  hosts.push(created);
  return Object.assign(created, { lines });
}

function ok(res: InvokeResult): { result: unknown; coldStart: boolean } {
  if (!res.ok) throw new Error(`invocation failed: ${res.errorType}: ${res.errorMessage}`);
  return res;
}

function pidOf(res: InvokeResult): number {
  return (ok(res).result as { pid: number }).pid;
}

function failed(res: InvokeResult): Extract<InvokeResult, { ok: false }> {
  if (res.ok) throw new Error(`invocation succeeded: ${JSON.stringify(res.result)}`);
  return res;
}

describe('a function run by FunctionHost', () => {
  it('gets the event, a Lambda context and only Lambda environment variables and its own', async () => {
    process.env.TRIGGERS_PARENT_ONLY = 'must not leak';
    const fn = spec('esm', 'index.handler', {
      environment: { TRIGGERS_TABLE_NAME: 'Stack-Table', AWS_REGION: 'eu-west-9' },
    });
    const { result, coldStart } = ok(await host(fn).invoke({ hello: 'world' }));
    delete process.env.TRIGGERS_PARENT_ONLY;
    const r = result as {
      event: unknown;
      env: Record<string, string | undefined>;
      cwd: string;
      execArgv: string[];
      context: Record<string, unknown>;
    };
    expect(coldStart).toBe(true);
    expect(r.event).toEqual({ hello: 'world' });
    expect(r.cwd).toBe(fn.codeDir);
    expect(r.execArgv).toEqual([
      '--max-old-space-size=256',
      '--disable-warning=NodeVersionSupportWarning',
    ]);
    expect(r.env).toMatchObject({
      TRIGGERS_TABLE_NAME: 'Stack-Table',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_LAMBDA_FUNCTION_NAME: 'Stack-Fn-esm',
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: '256',
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_LAMBDA_LOG_GROUP_NAME: '/aws/lambda/Stack-Fn-esm',
      AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      AWS_ACCESS_KEY_ID: 'LOCALFUNCTIONKEY',
      AWS_SECRET_ACCESS_KEY: 'local-secret',
      AWS_ENDPOINT_URL: 'http://127.0.0.1:4599',
      LAMBDA_TASK_ROOT: fn.codeDir,
      TZ: 'UTC',
      LANG: 'en_US.UTF-8',
    });
    expect(r.env.AWS_SESSION_TOKEN).toBeTruthy();
    expect(r.env.AWS_LAMBDA_LOG_STREAM_NAME).toMatch(
      /^\d{4}\/\d\d\/\d\d\/\[\$LATEST\][0-9a-f]{32}$/,
    );
    expect(r.env.TRIGGERS_PARENT_ONLY).toBeUndefined();
    expect(r.env.NODE_OPTIONS).toBeUndefined();
    expect(r.env.PATH).toBe(process.env.PATH);
    expect(r.context).toMatchObject({
      functionName: 'Stack-Fn-esm',
      functionVersion: '$LATEST',
      invokedFunctionArn: 'arn:aws:lambda:us-east-1:000000000000:function:Stack-Fn-esm',
      memoryLimitInMB: '256',
      logGroupName: '/aws/lambda/Stack-Fn-esm',
      logStreamName: r.env.AWS_LAMBDA_LOG_STREAM_NAME,
      callbackWaitsForEmptyEventLoop: true,
    });
    expect(r.context.awsRequestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(r.context.remaining).toBeGreaterThan(0);
  });

  it('lets no Environment variable override what Lambda reserves or the AWS endpoint', () => {
    const fn = spec('esm', 'index.handler', {
      environment: {
        AWS_ACCESS_KEY_ID: 'x',
        AWS_ENDPOINT_URL_DYNAMODB: 'http://elsewhere',
        FOO: '1',
      },
    });
    const vars = lambdaEnvironment(fn, {
      credentials: CREDENTIALS,
      awsEndpoint: 'http://127.0.0.1:1',
      env: DEFAULT_LOCAL_ENV,
      nodePath: ['/sdk/node_modules'],
      runtimeDir: '/runtime',
    });
    expect(vars.AWS_ACCESS_KEY_ID).toBe('LOCALFUNCTIONKEY');
    expect(vars.AWS_ENDPOINT_URL_DYNAMODB).toBeUndefined();
    expect(vars.FOO).toBe('1');
    expect(vars.NODE_PATH?.split(':')).toEqual(['/sdk/node_modules', fn.codeDir]);
    expect(vars.LAMBDA_RUNTIME_DIR).toBe('/runtime');
  });

  it('runs CommonJS handlers, and .js files as ES modules under "type": "module"', async () => {
    expect(ok(await host(spec('cjs', 'index.handler')).invoke({ n: 1 })).result).toEqual({
      kind: 'object',
      echo: { n: 1 },
    });
    expect(ok(await host(spec('esm-js', 'lib/main.handler')).invoke({})).result).toEqual({
      kind: 'undefined',
    });
  });

  it('answers a callback handler once its event loop is empty, unless told not to wait', async () => {
    const fn = host(spec('callback', 'index.handler'));
    expect(ok(await fn.invoke({})).result).toEqual({ late: true });
    expect(ok(await fn.invoke({ noWait: true })).result).toEqual({ late: false });
    expect(ok(await host(spec('callback', 'index.succeeds')).invoke({})).result).toBe('done');
    const res = failed(await host(spec('callback', 'index.fails')).invoke({}));
    expect(res).toMatchObject({ errorType: 'RangeError', errorMessage: 'out of range' });
  });

  it("reports a thrown error as Lambda's error payload", async () => {
    const res = failed(await host(spec('throws', 'index.handler')).invoke({}));
    expect(res).toMatchObject({
      phase: 'invoke',
      errorType: 'TypeError',
      errorMessage: 'bad input',
    });
    expect(res.stack?.[0]).toBe('TypeError: bad input');
  });

  it('fails init when the module throws at its top level, then retries the cold start', async () => {
    const fn = host(spec('init-throws', 'index.handler'));
    const res = failed(await fn.invoke({}));
    expect(res).toMatchObject({
      phase: 'init',
      errorType: 'EnvironmentError',
      errorMessage: 'environment variable TRIGGERS_TABLE_NAME is required',
    });
    await vi.waitFor(() =>
      expect(
        fn.lines.some((l) => l.stream === 'stderr' && l.line.includes('EnvironmentError')),
      ).toBe(true),
    );
    writeFileSync(join(root, 'init-throws', 'ready'), '');
    expect(ok(await fn.invoke({}))).toMatchObject({ result: 'ready now', coldStart: true });
    expect(fn.stats).toMatchObject({ coldStarts: 2, invocations: 1, environments: 1 });
  });

  it('fails init with Runtime.ImportModuleError or Runtime.HandlerNotFound as Lambda does', async () => {
    expect(failed(await host(spec('esm', 'missing.handler')).invoke({}))).toMatchObject({
      phase: 'init',
      errorType: 'Runtime.ImportModuleError',
      errorMessage: "Error: Cannot find module 'missing'",
    });
    expect(failed(await host(spec('no-export', 'index.handler')).invoke({}))).toMatchObject({
      phase: 'init',
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: 'index.handler is undefined or not exported',
    });
    expect(failed(await host(spec('no-export', 'index.notFn')).invoke({}))).toMatchObject({
      errorType: 'Runtime.HandlerNotFound',
      errorMessage: 'index.notFn is not a function',
    });
  });

  it('kills an invocation past its timeout and runs the next on a fresh environment', async () => {
    const fn = host(spec('slow', 'index.handler', { timeoutSeconds: 1 }));
    const first = ok(await fn.invoke({})).result as { pid: number };
    const res = failed(await fn.invoke({ sleepMs: 5000 }));
    expect(res).toMatchObject({
      phase: 'timeout',
      errorType: 'Sandbox.Timedout',
      errorMessage: 'Task timed out after 1.00 seconds',
    });
    const next = ok(await fn.invoke({}));
    expect(next.coldStart).toBe(true);
    expect((next.result as { pid: number }).pid).not.toBe(first.pid);
  });

  it('runs concurrent invocations in environments of their own, up to maxConcurrency', async () => {
    const fn = host(spec('slow', 'index.handler'));
    const [a, b] = await Promise.all([fn.invoke({ sleepMs: 300 }), fn.invoke({ sleepMs: 300 })]);
    expect(pidOf(a)).not.toBe(pidOf(b));
    expect(fn.stats.coldStarts).toBe(2);

    const single = host(spec('slow', 'index.handler'), { maxConcurrency: 1 });
    const both = Promise.all([single.invoke({ sleepMs: 200 }), single.invoke({ sleepMs: 0 })]);
    await vi.waitFor(() => expect(single.inFlight).toBe(2));
    const [c, d] = await both;
    expect(pidOf(c)).toBe(pidOf(d));
    expect(d.ok && d.coldStart).toBe(false);
    expect(single.stats).toMatchObject({ coldStarts: 1, invocations: 2 });
    expect(single.inFlight).toBe(0);
  });

  it('keeps an environment warm between sequential invocations', async () => {
    const fn = host(spec('slow', 'index.handler'));
    const first = ok(await fn.invoke({}));
    const second = ok(await fn.invoke({}));
    expect(first.coldStart).toBe(true);
    expect(second.coldStart).toBe(false);
    expect(second.result).toEqual(first.result);
  });

  it("sends the function's stdout and stderr to output, line by line", async () => {
    const fn = host(spec('chatty', 'index.handler'));
    ok(await fn.invoke({}));
    await vi.waitFor(() =>
      expect(fn.lines).toEqual(
        expect.arrayContaining([
          { line: 'hello from the handler', stream: 'stdout' },
          { line: 'first', stream: 'stderr' },
          { line: 'second', stream: 'stderr' },
        ]),
      ),
    );
  });

  it('fails an invocation whose environment dies, and replaces the environment', async () => {
    const fn = host(spec('crashes', 'index.exits'));
    expect(failed(await fn.invoke({}))).toMatchObject({
      phase: 'invoke',
      errorType: 'Runtime.ExitError',
      errorMessage: 'Runtime exited with error: exit status 3',
    });
    const rejects = host(spec('crashes', 'index.rejects'));
    expect(failed(await rejects.invoke({}))).toMatchObject({
      errorType: 'Runtime.UnhandledPromiseRejection',
      errorMessage: 'Error: nobody waits for me',
    });
    // The dying environment is not reused: the next invocation fails the same way, not on it.
    expect(failed(await rejects.invoke({})).errorType).toBe('Runtime.UnhandledPromiseRejection');
    expect(rejects.stats.coldStarts).toBe(2);
    const hoards = host(spec('crashes', 'index.hoards', { memoryMb: 64 }));
    expect(failed(await hoards.invoke({}))).toMatchObject({ errorType: 'Runtime.ExitError' });
  });

  it('refuses an event that is not JSON, and fails init when the code folder is missing', async () => {
    const fn = host(spec('esm', 'index.handler'));
    expect(failed(await fn.invoke({ n: 1n }))).toMatchObject({
      errorType: 'InvalidRequestContentException',
    });
    expect(fn.stats.coldStarts).toBe(0);
    const res = failed(await host(spec('no-such-folder', 'index.handler')).invoke({}));
    expect(res).toMatchObject({ phase: 'init', errorType: 'Runtime.ExitError' });
    expect(res.errorMessage).toContain(join(root, 'no-such-folder'));
  });

  it('gives functions the AWS SDK from NODE_PATH, to ES modules and CommonJS alike', async () => {
    expect(ok(await host(spec('sdk', 'esm.handler')).invoke({})).result).toBe('LOCALFUNCTIONKEY');
    expect(ok(await host(spec('sdk', 'cjs.handler')).invoke({})).result).toBe('function');
  });

  it('resolves pending invocations as Local.Stopped when stopped', async () => {
    const fn = host(spec('slow', 'index.handler'), { maxConcurrency: 1 });
    const running = fn.invoke({ sleepMs: 5000 });
    const waiting = fn.invoke({});
    await vi.waitFor(() => expect(fn.stats.environments).toBe(1));
    await fn.stop();
    expect(failed(await running).errorType).toBe('Local.Stopped');
    expect(failed(await waiting).errorType).toBe('Local.Stopped');
    expect(failed(await fn.invoke({})).errorType).toBe('Local.Stopped');
  });

  it('gives up on an invocation whose signal aborts, killing its environment', async () => {
    const fn = host(spec('slow', 'index.handler'), { maxConcurrency: 1 });
    ok(await fn.invoke({}));
    const running = new AbortController();
    const queued = new AbortController();
    const first = fn.invoke({ sleepMs: 5000 }, { signal: running.signal });
    const second = fn.invoke({}, { signal: queued.signal });
    queued.abort();
    expect(failed(await second)).toMatchObject({ errorType: 'Local.Aborted', phase: 'invoke' });
    running.abort();
    expect(failed(await first)).toMatchObject({ errorType: 'Local.Aborted', phase: 'invoke' });
    expect(ok(await fn.invoke({})).coldStart).toBe(true);
    expect(fn.stats.invocations).toBe(3);
  });

  describe('with a custom resource response host', () => {
    let server: Server;
    const received: { method?: string; url?: string; body: string }[] = [];

    beforeAll(async () => {
      server = createServer((req, res) => {
        let body = '';
        req.on('data', (chunk) => {
          body += chunk;
        });
        req.on('end', () => {
          received.push({ method: req.method, url: req.url, body });
          res.end();
        });
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    });

    afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

    it("sends the provider's HTTPS PUT to the local receiver over HTTP", async () => {
      const { port } = server.address() as AddressInfo;
      const opts = {
        customResourceResponse: { host: CUSTOM_RESOURCE_HOST, url: `http://127.0.0.1:${port}` },
      };
      const event = {
        RequestType: 'Create',
        RequestId: 'req-1',
        ResponseURL: `https://${CUSTOM_RESOURCE_HOST}/responses/Stack/Res?sig=1`,
      };
      expect(
        ok(await host(spec('custom-resource', 'index.handler'), opts).invoke(event)).result,
      ).toBe(200);
      expect(
        ok(await host(spec('custom-resource', 'index.withUrl'), opts).invoke(event)).result,
      ).toBe(200);
      expect(received).toEqual([
        {
          method: 'PUT',
          url: '/responses/Stack/Res?sig=1',
          body: JSON.stringify({ Status: 'SUCCESS', RequestId: 'req-1' }),
        },
        { method: 'PUT', url: '/responses/Stack/Res?sig=1', body: 'second' },
      ]);
    });
  });
});
