/**
 * `npm run smoke -- --api-url URL [--timeout SECONDS] [--prefix ID] [--json]`: the survey
 * smoke test (`examples/survey/smoke.ts`) against a stack that serves the example survey app.
 * May import: anything (a tool above every layer).
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import { runSurveySmoke } from '../examples/survey/smoke.ts';
import { TriggersClient } from '../lib/client/client.ts';

function fail(message: string, code: number): never {
  process.stderr.write(`smoke: ${message.replace(/\s*\n\s*/g, ' ')}\n`);
  process.exit(code);
}

/**
 * Runs the survey smoke test against the stack at `--api-url` (or `TRIGGERS_API_URL`):
 * `npm start`, LocalStack (`npm run deploy:local`) or AWS (`npx cdk deploy`). Requests are
 * signed with SigV4 when the default AWS credential chain finds credentials.
 *
 * Exit codes: 0 every check passed, 1 a check failed or bad usage, 3 the API is unreachable or
 * answered an error.
 */
async function main(): Promise<void> {
  let values: { 'api-url'?: string; timeout?: string; prefix?: string; json?: boolean };
  try {
    ({ values } = parseArgs({
      args: process.argv.slice(2),
      options: {
        'api-url': { type: 'string' },
        timeout: { type: 'string' },
        prefix: { type: 'string' },
        json: { type: 'boolean' },
      },
      strict: true,
    }));
  } catch (err) {
    fail(err instanceof Error ? err.message : String(err), 1);
  }
  const apiUrl = values['api-url'] ?? process.env.TRIGGERS_API_URL;
  if (!apiUrl) fail('--api-url URL is required (the stack output ApiUrl, or npm start URL)', 1);
  try {
    new URL(apiUrl);
  } catch {
    fail(`--api-url: '${apiUrl}' is not a URL`, 1);
  }
  const timeout = Number(values.timeout ?? 120);
  if (!Number.isFinite(timeout) || timeout <= 0) {
    fail(`--timeout: '${values.timeout}' is not a positive number of seconds`, 1);
  }
  const prefix = values.prefix ?? `smoke-${randomUUID().slice(0, 8)}`;
  const json = values.json === true;
  const log = json ? undefined : (line: string) => process.stdout.write(`${line}\n`);
  log?.(`smoke test of ${apiUrl} (sessions ${prefix}-*)`);
  const report = await runSurveySmoke({
    client: new TriggersClient({ apiUrl }),
    prefix,
    timeoutMs: timeout * 1000,
    ...(log ? { log } : {}),
  });
  if (json) {
    process.stdout.write(`${JSON.stringify({ apiUrl, ...report })}\n`);
  } else {
    const failed = report.checks.filter((c) => !c.ok).length;
    log?.(
      report.ok
        ? `smoke passed: ${report.checks.length} checks in ${(report.durationMs / 1000).toFixed(1)} s`
        : `smoke FAILED: ${failed} of ${report.checks.length} checks`,
    );
  }
  process.exitCode = report.ok ? 0 : 1;
}

main().catch((err: unknown) => {
  const message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error && err.cause instanceof Error ? `: ${err.cause.message}` : '';
  fail(message === 'fetch failed' ? `cannot reach the API${cause}` : message, 3);
});
