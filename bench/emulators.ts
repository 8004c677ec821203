/**
 * The emulators a benchmark run uses: DynamoDB Local (started here, or one already running) and
 * an SQS emulator (fauxqs) started here that counts every request it serves, by operation.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import { buildApp } from 'fauxqs';
import { NotAvailableError } from '../lib/errors.ts';
import { startDynamoDbLocal } from '../lib/local/emulators.ts';

/** SQS requests by operation, as counted by the emulator. */
export type SqsCounts = Record<string, number>;

/**
 * The operation name a request to the emulator stands for. Receives that returned no message
 * are counted apart (`ReceiveMessage (empty)`): they are the event source's idle polling, not
 * work a session caused.
 */
function operationOf(target: string | string[] | undefined, payload: unknown): string {
  const name =
    typeof target === 'string' && target.startsWith('AmazonSQS.')
      ? target.slice('AmazonSQS.'.length)
      : 'other';
  if (name !== 'ReceiveMessage') return name;
  const text =
    typeof payload === 'string' ? payload : Buffer.isBuffer(payload) ? payload.toString() : '';
  return text.includes('"Messages":[{') ? 'ReceiveMessage' : 'ReceiveMessage (empty)';
}

/** The running emulators of a benchmark run. */
export interface BenchEmulators {
  readonly dynamodbEndpoint: string;
  readonly sqsEndpoint: string;
  /** The SQS requests served so far, by operation (a copy). */
  sqsCounts(): SqsCounts;
  /** SQS requests under way, long polls (`ReceiveMessage`) left out. */
  sqsInFlight(): number;
  /** Stops what this module started. */
  stop(): Promise<void>;
}

/**
 * Starts the benchmark's emulators. The SQS emulator gets a hook that counts every request it
 * serves: counting at the emulator sees every SQS call the local runner makes without touching
 * the runner's client.
 *
 * @example
 * const emulators = await startBenchEmulators();
 * // ... emulators.sqsCounts().SendMessage
 * await emulators.stop();
 */
export async function startBenchEmulators(
  opts: { dynamodbEndpoint?: string } = {},
): Promise<BenchEmulators> {
  const counts = new Map<string, number>();
  let inFlight = 0;
  const sqs = buildApp({ logger: false });
  const isLongPoll = (target: string | string[] | undefined) =>
    target === 'AmazonSQS.ReceiveMessage';
  sqs.addHook('onRequest', async (request) => {
    if (!isLongPoll(request.headers['x-amz-target'])) inFlight += 1;
  });
  sqs.addHook('onResponse', async (request) => {
    if (!isLongPoll(request.headers['x-amz-target'])) inFlight -= 1;
  });
  sqs.addHook('onSend', async (request, _reply, payload) => {
    const op = operationOf(request.headers['x-amz-target'], payload);
    counts.set(op, (counts.get(op) ?? 0) + 1);
    return payload;
  });
  await sqs.listen({ port: 0, host: '127.0.0.1' });
  const address = sqs.server.address();
  if (address === null || typeof address === 'string') {
    await sqs.close();
    throw new NotAvailableError('the SQS emulator has no TCP address');
  }
  let dynamodb: { endpoint: string; stop(): Promise<void> };
  try {
    dynamodb =
      opts.dynamodbEndpoint !== undefined
        ? { endpoint: opts.dynamodbEndpoint, stop: async () => {} }
        : await startDynamoDbLocal();
  } catch (err) {
    await sqs.close();
    throw err;
  }
  return {
    dynamodbEndpoint: dynamodb.endpoint,
    sqsEndpoint: `http://127.0.0.1:${address.port}`,
    sqsCounts: () => Object.fromEntries(counts),
    sqsInFlight: () => inFlight,
    async stop() {
      await Promise.all([sqs.close(), dynamodb.stop()]);
    },
  };
}

/**
 * What was counted between two snapshots.
 *
 * @example
 * const during = sqsDelta(before, emulators.sqsCounts());
 */
export function sqsDelta(before: SqsCounts, after: SqsCounts): SqsCounts {
  const out: SqsCounts = {};
  for (const [op, n] of Object.entries(after)) {
    const d = n - (before[op] ?? 0);
    if (d !== 0) out[op] = d;
  }
  return out;
}
