/**
 * `npm start`: the local stack with the app module of `TRIGGERS_APP` (default: the survey
 * example), its HTTP API on `127.0.0.1:${PORT:-3000}`. Stops cleanly on SIGINT and SIGTERM.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { TriggersError } from '../lib/errors.ts';
import type { TriggersApp } from '../lib/runtime/lambda-env.ts';
import { startLocalStack } from '../lib/runtime/local/stack.ts';
import type { LogEntry } from '../lib/runtime/log.ts';

const started = Date.now();
const appPath =
  process.env.TRIGGERS_APP ?? new URL('../examples/survey/app.ts', import.meta.url).pathname;
const port = Number(process.env.PORT ?? 3000);
const quiet = new Set(['debug', 'info']);

function log(entry: LogEntry): void {
  if (!quiet.has(entry.level) || process.env.TRIGGERS_LOG_LEVEL === 'debug') {
    process.stderr.write(`${JSON.stringify(entry)}\n`);
  }
}

async function main(): Promise<void> {
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new TriggersError(`PORT must be a port number, not '${process.env.PORT}'`, {
      code: 'BAD_PORT',
      status: 400,
    });
  }
  const file = isAbsolute(appPath) ? appPath : resolve(process.cwd(), appPath);
  const app = (await import(pathToFileURL(file).href)) as TriggersApp;
  if (!Array.isArray(app.workflows)) {
    throw new TriggersError(`${appPath} must export { workflows, handlers, defaultWorkflow? }`, {
      code: 'BAD_APP',
      status: 400,
    });
  }
  const stack = await startLocalStack({ app, port, log });
  const workflows = app.workflows.map((w) => w.name).join(', ');
  process.stdout.write(
    [
      `serverless-triggers local stack is up (${((Date.now() - started) / 1000).toFixed(1)} s)`,
      `  HTTP API   ${stack.url}   (POST /sessions/{id}/events, GET /sessions/{id}, .../replay, .../skip)`,
      `  workflows  ${workflows}   (app: ${appPath})`,
      `  DynamoDB   ${stack.dynamodbEndpoint}`,
      `  SQS        ${stack.sqsEndpoint}`,
      'Ctrl+C stops it.',
      '',
    ].join('\n'),
  );
  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    process.stdout.write(`${signal}: stopping\n`);
    stack.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGINT', () => stop('SIGINT'));
  process.once('SIGTERM', () => stop('SIGTERM'));
}

main().catch((err: unknown) => {
  process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
