/**
 * What a stretch of work consumed (DynamoDB units, SQS requests, Lambda invocations), and sums
 * of it.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import type { SqsCounts } from './emulators.ts';

/** A function the deployment runs, as Lambda would bill it. */
export type FunctionName = 'ingest' | 'evaluator' | 'dispatcher' | 'task';

/** Invocations of one function. */
export interface InvocationUsage {
  count: number;
  /** Records (stream records, messages, events) handled, over all invocations. */
  records: number;
  /** Lambda billed duration: each invocation's wall-clock time rounded up to 1 ms. */
  billedMs: number;
}

/** Capacity consumed by one store operation, as DynamoDB Local reported it. */
export interface OperationUsage {
  calls: number;
  readUnits: number;
  writeUnits: number;
  /** Write units by AWS's published formula for the same items (an estimate). */
  awsWriteUnits: number;
  /** Calls that were `TransactWriteItems`. */
  transactions: number;
}

/** Everything a stretch of work consumed. */
export interface Usage {
  /** By store operation. */
  dynamodb: Record<string, OperationUsage>;
  /** Lambda invocations by function. */
  lambda: Record<FunctionName, InvocationUsage>;
  /** SQS requests by operation, as the emulator counted them. */
  sqs: SqsCounts;
  /** Records per evaluator invocation, in order. */
  evaluatorBatchSizes: number[];
  /** Task handler runs. */
  handlerRuns: number;
}

/** The counts of a `Usage`, without the per-invocation batch sizes. */
export type UsageCounts = Pick<Usage, 'dynamodb' | 'lambda' | 'sqs' | 'handlerRuns'>;

/** Totals of a `Usage`. */
export interface UsageTotals {
  readUnits: number;
  writeUnits: number;
  awsWriteUnits: number;
  /** SQS requests a session causes: sends, receives that returned messages, deletes. */
  sqsRequests: number;
  /** Receives that returned nothing: the event source's idle polling. */
  sqsIdleReceives: number;
  lambdaInvocations: number;
  lambdaBilledMs: number;
}

/**
 * The totals of a usage sample.
 *
 * @example
 * const { writeUnits } = totals(usage);
 */
export function totals(u: UsageCounts): UsageTotals {
  const ops = Object.values(u.dynamodb);
  const fns = Object.values(u.lambda);
  return {
    readUnits: ops.reduce((n, o) => n + o.readUnits, 0),
    writeUnits: ops.reduce((n, o) => n + o.writeUnits, 0),
    awsWriteUnits: ops.reduce((n, o) => n + o.awsWriteUnits, 0),
    sqsRequests: Object.entries(u.sqs)
      .filter(([op]) => op === 'SendMessage' || op === 'ReceiveMessage' || op.startsWith('Delete'))
      .reduce((n, [, c]) => n + c, 0),
    sqsIdleReceives: u.sqs['ReceiveMessage (empty)'] ?? 0,
    lambdaInvocations: fns.reduce((n, f) => n + f.count, 0),
    lambdaBilledMs: fns.reduce((n, f) => n + f.billedMs, 0),
  };
}

/**
 * Zero invocations of every function.
 *
 * @example
 * const lambda = emptyLambda();
 */
export const emptyLambda = (): Record<FunctionName, InvocationUsage> => ({
  ingest: { count: 0, records: 0, billedMs: 0 },
  evaluator: { count: 0, records: 0, billedMs: 0 },
  dispatcher: { count: 0, records: 0, billedMs: 0 },
  task: { count: 0, records: 0, billedMs: 0 },
});

/**
 * The sum of usage samples.
 *
 * @example
 * const session = addUsage([first, second]);
 */
export function addUsage(samples: readonly Usage[]): Usage {
  const out: Usage = {
    dynamodb: {},
    lambda: emptyLambda(),
    sqs: {},
    evaluatorBatchSizes: [],
    handlerRuns: 0,
  };
  for (const u of samples) {
    for (const [op, o] of Object.entries(u.dynamodb)) {
      const r = out.dynamodb[op] ?? {
        calls: 0,
        readUnits: 0,
        writeUnits: 0,
        awsWriteUnits: 0,
        transactions: 0,
      };
      out.dynamodb[op] = r;
      r.calls += o.calls;
      r.readUnits += o.readUnits;
      r.writeUnits += o.writeUnits;
      r.awsWriteUnits += o.awsWriteUnits;
      r.transactions += o.transactions;
    }
    for (const [fn, f] of Object.entries(u.lambda) as Array<[FunctionName, InvocationUsage]>) {
      out.lambda[fn].count += f.count;
      out.lambda[fn].records += f.records;
      out.lambda[fn].billedMs += f.billedMs;
    }
    for (const [op, n] of Object.entries(u.sqs)) out.sqs[op] = (out.sqs[op] ?? 0) + n;
    out.evaluatorBatchSizes.push(...u.evaluatorBatchSizes);
    out.handlerRuns += u.handlerRuns;
  }
  return out;
}
