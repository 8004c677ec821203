/**
 * The wiring of a deployment, defined once: stream filters, batch sizes, retries and queue
 * settings. The CDK construct and the local event-source runner both read this module,
 * so what runs locally is what deploys.
 * May import: base, engine, store, core, adapters.
 *
 * @module
 */
import { MAX_QUEUE_DELAY_SECONDS } from '../../core/task-message.ts';
import { headAttributes, keys, TABLE } from '../../store/layout.ts';

/** A Lambda event-filtering pattern (the subset of the syntax this project uses). */
export type FilterPattern = { [key: string]: FilterPattern | FilterValue[] };
export type FilterValue =
  | string
  | number
  | boolean
  | null
  | { prefix: string }
  | { 'anything-but': string[] }
  | { exists: boolean };

/** Settings of a DynamoDB-stream event source. */
export interface StreamSourceSettings {
  /** Lambda filter criteria: a record is delivered when it matches any pattern. */
  readonly filters: readonly FilterPattern[];
  readonly batchSize: number;
  readonly maxBatchingWindowSeconds: number;
  readonly startingPosition: 'TRIM_HORIZON' | 'LATEST';
  readonly bisectBatchOnError: boolean;
  readonly retryAttempts: number;
  readonly reportBatchItemFailures: boolean;
  readonly parallelizationFactor: number;
}

/** What both stream sources share: batches of 100, retried from the failed record, bisected. */
const STREAM_DEFAULTS = {
  batchSize: 100,
  maxBatchingWindowSeconds: 0,
  startingPosition: 'TRIM_HORIZON',
  bisectBatchOnError: true,
  retryAttempts: 10,
  reportBatchItemFailures: true,
  parallelizationFactor: 10,
} as const satisfies Omit<StreamSourceSettings, 'filters'>;

/**
 * The evaluator reads event inserts. Records of one session stay in order (one shard per
 * partition, parallelization keeps a partition key on one processor).
 */
export const EVALUATOR_SOURCE: StreamSourceSettings = {
  filters: [
    {
      eventName: ['INSERT'],
      dynamodb: { Keys: { [TABLE.sortKey]: { S: [{ prefix: keys.eventPrefix }] } } },
    },
  ],
  ...STREAM_DEFAULTS,
};

/** The dispatcher reads instances that have just become `scheduled`. */
export const DISPATCHER_SOURCE: StreamSourceSettings = {
  filters: [
    {
      eventName: ['INSERT'],
      dynamodb: {
        Keys: { [TABLE.sortKey]: { S: [{ prefix: keys.instancePrefix }] } },
        NewImage: { status: { S: ['scheduled'] } },
      },
    },
    {
      eventName: ['MODIFY'],
      dynamodb: {
        Keys: { [TABLE.sortKey]: { S: [{ prefix: keys.instancePrefix }] } },
        NewImage: { status: { S: ['scheduled'] } },
        OldImage: { status: { S: [{ 'anything-but': ['scheduled'] }] } },
      },
    },
  ],
  ...STREAM_DEFAULTS,
};

/**
 * The lifecycle publisher (construct option `lifecycleEvents`) reads heads that carry notes of
 * what their evaluation did, and instances that have just failed or finished. Records of one
 * session stay in order, so its events are published in the order they happened.
 */
export const LIFECYCLE_SOURCE: StreamSourceSettings = {
  filters: [
    {
      dynamodb: {
        Keys: { [TABLE.sortKey]: { S: [keys.head] } },
        NewImage: { [headAttributes.notes]: { S: [{ exists: true }] } },
      },
    },
    {
      eventName: ['MODIFY'],
      dynamodb: {
        Keys: { [TABLE.sortKey]: { S: [{ prefix: keys.instancePrefix }] } },
        NewImage: { status: { S: ['failed'] } },
        OldImage: { status: { S: [{ 'anything-but': ['failed'] }] } },
      },
    },
    {
      eventName: ['INSERT'],
      dynamodb: {
        Keys: { [TABLE.sortKey]: { S: [{ prefix: keys.instancePrefix }] } },
        NewImage: { status: { S: ['failed'] } },
      },
    },
    {
      eventName: ['MODIFY'],
      dynamodb: {
        Keys: { [TABLE.sortKey]: { S: [{ prefix: keys.instancePrefix }] } },
        NewImage: { status: { S: ['finished'] } },
        OldImage: { status: { S: ['running'] } },
      },
    },
  ],
  ...STREAM_DEFAULTS,
};

/** Settings of a task queue and its event source. */
export const TASK_QUEUE = {
  /** Messages per task-Lambda invocation. */
  batchSize: 10,
  maxBatchingWindowSeconds: 0,
  /** Receives before a message moves to the dead-letter queue. */
  maxReceiveCount: 5,
  /** Long polling. */
  receiveWaitTimeSeconds: 20,
  /** SQS caps a message delay at 15 minutes; longer cooldowns are re-delayed. */
  maxDelaySeconds: MAX_QUEUE_DELAY_SECONDS,
  dlqRetentionDays: 14,
  /** AWS's advice for Lambda sources: six times the function timeout. */
  visibilityTimeoutSeconds: (functionTimeoutSeconds: number): number => 6 * functionTimeoutSeconds,
  /**
   * A claim's lease: longer than the function can run, shorter than the visibility timeout, so
   * a message that comes back finds the lease of a run that died lapsed and takes over.
   */
  leaseSeconds: (functionTimeoutSeconds: number): number => 2 * functionTimeoutSeconds,
} as const;

/** The deployment settings of EventBridge ingestion, shared by the construct and its tests. */
export const EVENTBRIDGE_WIRING = {
  /** The rule target: EventBridge retries failed invocations for up to a day. */
  targetRetryAttempts: 185,
  targetMaxEventAgeSeconds: 24 * 3600,
  /** The function's asynchronous invocations: retried twice on an error, then dead-lettered. */
  asyncRetryAttempts: 2,
  asyncMaxEventAgeSeconds: 6 * 3600,
} as const;
