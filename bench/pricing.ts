/**
 * Dollars for measured usage: the pipeline's DynamoDB units, SQS requests and Lambda invocations
 * at the published on-demand prices of `prices.ts`.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */
import { LAMBDA_ASSUMPTIONS, PRICES } from './prices.ts';
import { totals, type UsageCounts } from './usage.ts';

/** A cost broken down by what is billed, in dollars. */
export interface CostBreakdown {
  dynamodbWrites: number;
  dynamodbReads: number;
  sqsRequests: number;
  lambdaRequests: number;
  lambdaDuration: number;
  /** Step Functions state transitions or durable operations (alternatives only). */
  orchestration: number;
  total: number;
}

/** How `priceUsage` counts write units and Lambda duration. */
export interface PricingBasis {
  /**
   * DynamoDB Local's measured units, or AWS's published formula applied to the same items.
   * @default 'measured'
   */
  writeUnits?: 'measured' | 'aws-formula';
  /**
   * The modelled duration of `LAMBDA_ASSUMPTIONS`, or the local wall-clock durations measured.
   * @default 'modelled'
   */
  duration?: 'modelled' | 'measured-local';
}

/**
 * Lambda milliseconds the modelled duration bills for a usage sample: an overhead per
 * invocation, and a latency per DynamoDB call and per `SendMessage` the functions made.
 *
 * @example
 * const ms = modelledLambdaMs(usage);
 */
export function modelledLambdaMs(usage: UsageCounts): number {
  const a = LAMBDA_ASSUMPTIONS;
  const t = totals(usage);
  const ops = Object.values(usage.dynamodb);
  const calls = ops.reduce((n, o) => n + o.calls, 0);
  const transactions = ops.reduce((n, o) => n + o.transactions, 0);
  return (
    t.lambdaInvocations * a.invocationOverheadMs +
    (calls - transactions) * a.dynamodbCallMs +
    transactions * a.transactionMs +
    (usage.sqs.SendMessage ?? 0) * a.apiCallMs
  );
}

/**
 * The dollars a usage sample costs, `sessions` sessions' worth, per session.
 *
 * @example
 * const perSession = priceUsage(usage, 3);
 */
export function priceUsage(
  usage: UsageCounts,
  sessions: number,
  basis: PricingBasis = {},
): CostBreakdown {
  const t = totals(usage);
  const per = (n: number) => n / sessions;
  const writes = (basis.writeUnits ?? 'measured') === 'measured' ? t.writeUnits : t.awsWriteUnits;
  const lambdaMs =
    (basis.duration ?? 'modelled') === 'modelled' ? modelledLambdaMs(usage) : t.lambdaBilledMs;
  const out = {
    dynamodbWrites: per(writes) * PRICES.dynamodbWriteRequestUnit.usd,
    dynamodbReads: per(t.readUnits) * PRICES.dynamodbReadRequestUnit.usd,
    sqsRequests: per(t.sqsRequests) * PRICES.sqsStandardRequest.usd,
    lambdaRequests: per(t.lambdaInvocations) * PRICES.lambdaRequest.usd,
    lambdaDuration:
      per(lambdaMs / 1000) * LAMBDA_ASSUMPTIONS.memoryGb * PRICES.lambdaArmGbSecond.usd,
    orchestration: 0,
  };
  return { ...out, total: sumCost(out) };
}

/**
 * The total of a breakdown's parts.
 *
 * @example
 * sumCost({ ...parts }); // dollars
 */
export function sumCost(parts: Omit<CostBreakdown, 'total'>): number {
  return (
    parts.dynamodbWrites +
    parts.dynamodbReads +
    parts.sqsRequests +
    parts.lambdaRequests +
    parts.lambdaDuration +
    parts.orchestration
  );
}

/**
 * A breakdown scaled to a million sessions.
 *
 * @example
 * perMillion(priceUsage(usage, 1)).total; // dollars per million sessions
 */
export function perMillion(c: CostBreakdown): CostBreakdown {
  const m = (n: number) => n * 1e6;
  return {
    dynamodbWrites: m(c.dynamodbWrites),
    dynamodbReads: m(c.dynamodbReads),
    sqsRequests: m(c.sqsRequests),
    lambdaRequests: m(c.lambdaRequests),
    lambdaDuration: m(c.lambdaDuration),
    orchestration: m(c.orchestration),
    total: m(c.total),
  };
}
