/**
 * `npm start [-- --persist DIR]`: the local stack with the app module of `TRIGGERS_APP`
 * (default: the survey example), its HTTP API on `127.0.0.1:${PORT:-3000}`. Sessions live in
 * memory for the life of the process, or in DIR across restarts with `--persist DIR`. Stops
 * cleanly on SIGINT and SIGTERM.
 */
import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { TriggersError } from '../lib/errors.ts';
import type { TriggersApp } from '../lib/runtime/lambda-env.ts';
import { startLocalStack } from '../lib/runtime/local/stack.ts';
import type { LogEntry } from '../lib/runtime/log.ts';

const appPath =
  process.env.TRIGGERS_APP ?? new URL('../examples/survey/app.ts', import.meta.url).pathname;
const port = Number(process.env.PORT ?? 3000);
const quiet = new Set(['debug', 'info']);

function log(entry: LogEntry): void {
  if (!quiet.has(entry.level) || process.env.TRIGGERS_LOG_LEVEL === 'debug') {
    process.stderr.write(`${JSON.stringify(entry)}\n`);
  }
}

function options(): { persist?: string } {
  try {
    return parseArgs({ options: { persist: { type: 'string' } }, strict: true }).values;
  } catch (err) {
    throw new TriggersError(
      `${err instanceof Error ? err.message : String(err)} (usage: npm start -- [--persist DIR])`,
      { code: 'BAD_USAGE', status: 400 },
    );
  }
}

async function main(): Promise<void> {
  const { persist } = options();
  const persistDir = persist !== undefined ? resolve(process.cwd(), persist) : undefined;
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
  const stack = await startLocalStack({
    app,
    port,
    log,
    ...(persistDir !== undefined ? { persistDir } : {}),
  });
  const workflows = app.workflows.map((w) => w.name).join(', ');
  // From the start of this Node.js process (after npm and tsx launched it) to serving.
  const coldStart = process.uptime().toFixed(1);
  process.stdout.write(
    [
      `serverless-triggers local stack is up (cold start ${coldStart} s)`,
      `  HTTP API   ${stack.url}   (POST /sessions/{id}/events, GET /sessions/{id}, .../events, .../replay, .../skip, GET /workflows)`,
      `  inspector  ${stack.url}/ui`,
      `  workflows  ${workflows}   (app: ${appPath})`,
      `  DynamoDB   ${stack.dynamodbEndpoint}`,
      `  SQS        ${stack.sqsEndpoint}`,
      `  sessions   ${persistDir !== undefined ? `kept in ${persistDir}` : 'in memory, for the life of this process (--persist DIR keeps them)'}`,
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
