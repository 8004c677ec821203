/**
 * `npm run deploy:local`'s LocalStack helpers (`scripts/localstack.ts`), and the script's one-line
 * refusal when LocalStack is not running. The deploy itself is not part of `npm test`.
 * May import: scripts/localstack.ts, test fixtures.
 *
 * @module
 */
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  cdklocalEnv,
  checkLocalStack,
  DEFAULT_LOCALSTACK_ENDPOINT,
  LocalStackError,
  localStackApiUrl,
  localStackEndpoint,
} from '../../scripts/localstack.ts';
import { rejectionOf, thrownBy } from '../runtime/fixtures.ts';

const RUNNING = Object.fromEntries(
  ['apigateway', 'cloudformation', 'dynamodb', 'dynamodbstreams', 'lambda', 'sqs', 's3'].map(
    (s) => [s, 'running'],
  ),
);

let health: Record<string, string> = RUNNING;
let server: Server;
let endpoint: string;
let closed: string;

beforeAll(async () => {
  server = createServer((req, res) => {
    if (req.url !== '/_localstack/health') {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ services: health, edition: 'test' }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const probe = createServer();
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  closed = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => probe.close(() => resolve()));
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

describe('localStackEndpoint', () => {
  it('defaults to the edge port on localhost', () => {
    expect(localStackEndpoint({})).toBe(DEFAULT_LOCALSTACK_ENDPOINT);
    expect(localStackEndpoint({ AWS_ENDPOINT_URL: '' })).toBe('http://localhost:4566');
  });

  it('takes AWS_ENDPOINT_URL with its S3 twin, without a trailing slash', () => {
    expect(
      localStackEndpoint({
        AWS_ENDPOINT_URL: 'http://ls.internal:4566/',
        AWS_ENDPOINT_URL_S3: 'http://s3.ls.internal:4566',
      }),
    ).toBe('http://ls.internal:4566');
  });

  it('refuses AWS_ENDPOINT_URL without AWS_ENDPOINT_URL_S3, and one that is not a URL', () => {
    expect(thrownBy(() => localStackEndpoint({ AWS_ENDPOINT_URL: 'http://ls:4566' }))).toSatisfy(
      (e: unknown) => e instanceof LocalStackError && /AWS_ENDPOINT_URL_S3/.test(e.message),
    );
    expect(thrownBy(() => localStackEndpoint({ AWS_ENDPOINT_URL: 'not a url' }))).toBeInstanceOf(
      LocalStackError,
    );
  });
});

describe('checkLocalStack', () => {
  it('resolves to the service states when every service the stack uses runs', async () => {
    health = RUNNING;
    expect(await checkLocalStack(endpoint)).toMatchObject({ apigateway: 'running' });
  });

  it('names the services LocalStack lacks', async () => {
    health = { ...RUNNING, apigateway: 'disabled' };
    delete health.dynamodbstreams;
    const err = await rejectionOf(checkLocalStack(endpoint));
    expect(err).toBeInstanceOf(LocalStackError);
    expect((err as Error).message).toMatch(/does not offer apigateway, dynamodbstreams/);
  });

  it('says how to start LocalStack when nothing answers', async () => {
    const err = await rejectionOf(checkLocalStack(closed));
    expect(err).toBeInstanceOf(LocalStackError);
    expect((err as Error).message).toMatch(/does not answer at http:\/\/127\.0\.0\.1:\d+/);
    expect((err as Error).message).toContain('AWS_ENDPOINT_URL');
  });
});

describe('localStackApiUrl', () => {
  it('turns the AWS form of an HTTP API URL into the one LocalStack serves', () => {
    expect(
      localStackApiUrl(
        'https://abc123.execute-api.us-east-1.amazonaws.com/',
        'http://localhost:4566',
      ),
    ).toBe('http://abc123.execute-api.localhost.localstack.cloud:4566/');
    expect(
      localStackApiUrl('https://x9.execute-api.eu-west-1.amazonaws.com', 'http://localhost:4599'),
    ).toBe('http://x9.execute-api.localhost.localstack.cloud:4599/');
  });

  it('keeps a URL that is already local', () => {
    const local = 'http://abc.execute-api.localhost.localstack.cloud:4566/';
    expect(localStackApiUrl(local, 'http://localhost:4566')).toBe(local);
  });
});

describe('cdklocalEnv', () => {
  it('adds test credentials and a region, and allows the region through cdklocal', () => {
    const env = cdklocalEnv({ PATH: '/bin', AWS_ENVAR_ALLOWLIST: 'AWS_PROFILE' });
    expect(env).toMatchObject({
      PATH: '/bin',
      AWS_REGION: 'us-east-1',
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'test',
      AWS_SECRET_ACCESS_KEY: 'test',
    });
    expect(env.AWS_ENVAR_ALLOWLIST?.split(',').sort()).toEqual([
      'AWS_DEFAULT_REGION',
      'AWS_PROFILE',
      'AWS_REGION',
    ]);
  });

  it('keeps the region the caller chose', () => {
    expect(cdklocalEnv({ AWS_DEFAULT_REGION: 'eu-central-1' }).AWS_REGION).toBe('eu-central-1');
  });
});

describe('npm run deploy:local without LocalStack', () => {
  it('stops before deploying anything: one line, exit 1', () => {
    const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/deploy-local.ts'], {
      env: {
        ...process.env,
        AWS_ENDPOINT_URL: closed,
        AWS_ENDPOINT_URL_S3: closed.replace('127.0.0.1', 's3.localhost.localstack.cloud'),
      },
      encoding: 'utf8',
      timeout: 60_000,
    });
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    const lines = run.stderr
      .trim()
      .split('\n')
      .filter((l) => l.startsWith('deploy:local'));
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatch(/^deploy:local: LocalStack does not answer at /);
  });

  it('refuses an unknown argument', () => {
    const run = spawnSync(
      process.execPath,
      ['--import', 'tsx', 'scripts/deploy-local.ts', '--bogus'],
      { encoding: 'utf8', timeout: 60_000 },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('deploy:local: unknown argument --bogus');
  });
});
