/**
 * Published on-demand prices the benchmark converts usage with: us-east-1, no free tier, no
 * savings plans; one constant per billed unit, each with where it comes from and when.
 * May import: anything (bench is a tool above every layer).
 *
 * @module
 */

/**
 * One published price. `published` is the date the price took effect or was announced, where the
 * source says so; `transcribed` is when it was copied here. The prices were transcribed from the
 * project's issue and the sources named, not read from the live pages on that day: check them
 * before quoting a number to anyone.
 */
export interface Price {
  /** US dollars per one `unit`. */
  readonly usd: number;
  /** What one unit is. */
  readonly unit: string;
  /** Where the price is published. */
  readonly source: string;
  /** When it took effect or was published, as the source states it (ISO date, or a note). */
  readonly published: string;
  /** When it was copied into this file. */
  readonly transcribed: string;
  /** What to know when using it. */
  readonly note?: string;
}

const TRANSCRIBED = '2026-11-27';

/**
 * The prices, in dollars per single unit (not per million).
 *
 * @example
 * const dollars = writeUnits * PRICES.dynamodbWriteRequestUnit.usd;
 */
export const PRICES = {
  dynamodbWriteRequestUnit: {
    usd: 0.625 / 1e6,
    unit: 'DynamoDB on-demand write request unit',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    published: '2024-11-01',
    transcribed: TRANSCRIBED,
    note: '$0.625 per million in us-east-1 after the November 2024 on-demand price cut (was $1.25).',
  },
  dynamodbReadRequestUnit: {
    usd: 0.125 / 1e6,
    unit: 'DynamoDB on-demand read request unit',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    published: '2024-11-01',
    transcribed: TRANSCRIBED,
    note: '$0.125 per million in us-east-1 after the November 2024 price cut (was $0.25).',
  },
  dynamodbStreamsReadByLambda: {
    usd: 0,
    unit: 'DynamoDB Streams GetRecords call made by a Lambda trigger',
    source: 'https://aws.amazon.com/dynamodb/pricing/on-demand/',
    published: 'standing terms',
    transcribed: TRANSCRIBED,
    note: 'Stream reads are free when the stream is consumed by Lambda triggers.',
  },
  sqsStandardRequest: {
    usd: 0.4 / 1e6,
    unit: 'SQS standard queue request (per 64 KB chunk of payload)',
    source: 'https://aws.amazon.com/sqs/pricing/',
    published: 'standing terms',
    transcribed: TRANSCRIBED,
    note: '$0.40 per million after the first million a month; every message here is under 64 KB.',
  },
  lambdaRequest: {
    usd: 0.2 / 1e6,
    unit: 'Lambda request (invocation)',
    source: 'https://aws.amazon.com/lambda/pricing/',
    published: 'standing terms',
    transcribed: TRANSCRIBED,
  },
  lambdaArmGbSecond: {
    usd: 0.0000133334,
    unit: 'Lambda GB-second on Arm (Graviton), first pricing tier',
    source: 'https://aws.amazon.com/lambda/pricing/',
    published: 'standing terms',
    transcribed: TRANSCRIBED,
    note: 'Billed per 1 ms of duration.',
  },
  stepFunctionsStandardTransition: {
    usd: 0.025 / 1000,
    unit: 'Step Functions Standard state transition',
    source: 'https://aws.amazon.com/step-functions/pricing/',
    published: 'standing terms',
    transcribed: TRANSCRIBED,
    note: '$0.025 per 1,000 state transitions after the free 4,000 a month.',
  },
  durableOperation: {
    usd: 8 / 1e6,
    unit: 'Lambda durable functions durable operation (step, wait, callback, ...)',
    source: 'https://aws.amazon.com/lambda/pricing/',
    published: '2025-12 (launch, re:Invent 2025)',
    transcribed: TRANSCRIBED,
    note:
      'UNVERIFIED: $8.00 per million operations as quoted from the pricing page by a third-party ' +
      'transcription (api-evangelist/aws-lambda plans); the live page was not read. Treat the ' +
      'durable-functions column as an estimate under this assumption.',
  },
  durableDataWrittenGb: {
    usd: 0.25,
    unit: 'GB of durable execution data written (checkpoints)',
    source: 'https://aws.amazon.com/lambda/pricing/',
    published: '2025-12 (launch)',
    transcribed: TRANSCRIBED,
    note: 'ASSUMED, not found in the sources consulted; it is negligible for kilobyte payloads.',
  },
  durableDataRetainedGbMonth: {
    usd: 0.15,
    unit: 'GB-month of durable execution data retained',
    source: 'https://aws.amazon.com/lambda/pricing/',
    published: '2025-12 (launch)',
    transcribed: TRANSCRIBED,
    note: 'ASSUMED, not found in the sources consulted; it is negligible for kilobyte payloads.',
  },
} as const satisfies Record<string, Price>;

/** The name of one price in `PRICES`. */
export type PriceName = keyof typeof PRICES;

/**
 * What the Lambda duration charge assumes. Memory: the construct's default function size (512 MB
 * on Arm). Duration: local wall-clock times measure DynamoDB Local and the machine, not Lambda,
 * so the headline prices a modelled duration instead: a fixed overhead per invocation plus a
 * typical in-region latency per AWS call the function makes (not the event source's polling).
 * These latencies are assumptions, not published figures; the measured local durations are
 * priced beside them.
 *
 * @example
 * const ms = invocations * LAMBDA_ASSUMPTIONS.invocationOverheadMs + calls * LAMBDA_ASSUMPTIONS.dynamodbCallMs;
 */
export const LAMBDA_ASSUMPTIONS = {
  memoryMb: 512,
  memoryGb: 0.5,
  architecture: 'arm64',
  /** Handler code per invocation besides AWS calls: parsing, the engine, JSON. */
  invocationOverheadMs: 2,
  /** One single-item DynamoDB call (GetItem, PutItem, UpdateItem, a small BatchGetItem). */
  dynamodbCallMs: 6,
  /** One TransactWriteItems call. */
  transactionMs: 12,
  /** One other AWS API call from a function (SendMessage, SendTaskSuccess, a checkpoint). */
  apiCallMs: 8,
  /** Billing granularity. */
  billedIncrementMs: 1,
} as const;
