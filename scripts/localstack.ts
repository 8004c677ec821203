/**
 * What `npm run deploy:local` needs to know about LocalStack: where it is, whether it runs, the
 * environment `cdklocal` deploys with, and the URL a deployed HTTP API answers on.
 * May import: anything under lib/.
 *
 * @module
 */
import { NotAvailableError } from '../lib/errors.ts';

/**
 * LocalStack's edge endpoint when nothing else is said.
 *
 * @example
 * localStackEndpoint({}) === DEFAULT_LOCALSTACK_ENDPOINT; // true
 */
export const DEFAULT_LOCALSTACK_ENDPOINT = 'http://localhost:4566';

/**
 * Why a deploy to LocalStack cannot go on: LocalStack is not there, not reachable as configured,
 * or lacks a service the stack needs.
 *
 * @example
 * throw new LocalStackError('LocalStack does not answer at http://localhost:4566');
 */
export class LocalStackError extends NotAvailableError {}

/**
 * The LocalStack endpoint from `AWS_ENDPOINT_URL` (default `http://localhost:4566`). A custom
 * endpoint needs `AWS_ENDPOINT_URL_S3` as well (`cdklocal` cannot tell S3 requests apart
 * otherwise), so that is refused with the fix in the message.
 *
 * @example
 * localStackEndpoint({}); // 'http://localhost:4566'
 */
export function localStackEndpoint(env: Record<string, string | undefined>): string {
  const given = env.AWS_ENDPOINT_URL;
  if (given === undefined || given === '') return DEFAULT_LOCALSTACK_ENDPOINT;
  if (!URL.canParse(given)) {
    throw new LocalStackError(`AWS_ENDPOINT_URL '${given}' is not a URL`);
  }
  if (!env.AWS_ENDPOINT_URL_S3?.includes('.s3.') && !env.AWS_ENDPOINT_URL_S3?.includes('//s3.')) {
    throw new LocalStackError(
      'AWS_ENDPOINT_URL is set, so cdklocal needs AWS_ENDPOINT_URL_S3 too, with an s3 host ' +
        '(for example http://s3.localhost.localstack.cloud:4566)',
    );
  }
  return given.replace(/\/+$/, '');
}

/**
 * Checks that LocalStack answers its health route and runs the services the stack uses.
 * Resolves to the services' states; rejects with `LocalStackError` saying how to start it.
 *
 * @example
 * await checkLocalStack('http://localhost:4566');
 */
export async function checkLocalStack(
  endpoint: string,
  fetchFn: typeof fetch = globalThis.fetch,
): Promise<Record<string, string>> {
  let body: { services?: Record<string, string> } = {};
  let reason: string | undefined;
  try {
    const res = await fetchFn(`${endpoint}/_localstack/health`, {
      signal: AbortSignal.timeout(5000),
    });
    if (res.ok) body = (await res.json()) as { services?: Record<string, string> };
    else reason = `it answered ${res.status}`;
  } catch (err) {
    reason = err instanceof Error ? err.message : String(err);
  }
  if (reason !== undefined) {
    throw new LocalStackError(
      `LocalStack does not answer at ${endpoint} (${reason}). Start it first (the ` +
        '`localstack start` CLI or its Docker image, with LOCALSTACK_AUTH_TOKEN set and ' +
        'LAMBDA_IGNORE_ARCHITECTURE=1 on x86 hosts), or set AWS_ENDPOINT_URL (and ' +
        'AWS_ENDPOINT_URL_S3) to where it runs',
    );
  }
  const services = body.services ?? {};
  const needed = ['apigateway', 'dynamodb', 'dynamodbstreams', 'lambda', 'sqs', 'cloudformation'];
  const missing = needed.filter((s) => {
    const state = services[s];
    return state === undefined || state === 'disabled' || state === 'error';
  });
  if (missing.length > 0) {
    throw new LocalStackError(
      `LocalStack at ${endpoint} does not offer ${missing.join(', ')}; the stack needs them ` +
        '(API Gateway HTTP APIs need a LocalStack edition that includes API Gateway v2)',
    );
  }
  return services;
}

/**
 * The URL a deployed HTTP API answers on in LocalStack. CloudFormation may report the AWS form
 * (`https://{id}.execute-api.{region}.amazonaws.com/`); LocalStack serves the API at
 * `http://{id}.execute-api.localhost.localstack.cloud:{port}/`. A URL already local is kept.
 *
 * @example
 * localStackApiUrl('https://abc123.execute-api.us-east-1.amazonaws.com/', 'http://localhost:4566');
 * // 'http://abc123.execute-api.localhost.localstack.cloud:4566/'
 */
export function localStackApiUrl(apiUrl: string, endpoint: string): string {
  const aws = /^https?:\/\/([a-z0-9]+)\.execute-api\.[a-z0-9-]+\.amazonaws\.com(?::\d+)?\/?/.exec(
    apiUrl,
  );
  if (!aws) return apiUrl;
  const port = new URL(endpoint).port || '4566';
  return `http://${aws[1]}.execute-api.localhost.localstack.cloud:${port}/`;
}

/**
 * The environment `cdklocal` deploys with: the caller's, plus LocalStack's test credentials and
 * a region when none is set, and the allowlist that keeps the region (cdklocal drops other
 * AWS_* variables so that nothing points it at a real account).
 *
 * @example
 * const env = cdklocalEnv(process.env);
 */
export function cdklocalEnv(env: Record<string, string | undefined>): Record<string, string> {
  const region = env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined) out[k] = v;
  const allow = new Set((env.AWS_ENVAR_ALLOWLIST ?? '').split(',').filter(Boolean));
  for (const name of ['AWS_REGION', 'AWS_DEFAULT_REGION']) allow.add(name);
  return {
    ...out,
    AWS_REGION: region,
    AWS_DEFAULT_REGION: region,
    AWS_ACCESS_KEY_ID: env.AWS_ACCESS_KEY_ID ?? 'test',
    AWS_SECRET_ACCESS_KEY: env.AWS_SECRET_ACCESS_KEY ?? 'test',
    AWS_ENVAR_ALLOWLIST: [...allow].join(','),
  };
}
