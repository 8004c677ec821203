/**
 * The template's event source mappings run by the local pollers: each DynamoDB-stream and SQS
 * `AWS::Lambda::EventSourceMapping` with its own filters, batch size, batching window,
 * bisection, retries, response types and on-failure destination, polling with the function's
 * credentials (so its role must allow reading the source, as on AWS). A record the template's
 * filters drop but the package's wiring delivers is reported, naming the mapping.
 *
 * The lifecycle events' mapping (construct option `lifecycleEvents`) runs like the others, with
 * the template's filters (`LIFECYCLE_SOURCE`'s): its function's `PutEvents` go through the local
 * AWS endpoint, which checks them against the function's role and hands them to the template's
 * EventBridge rules, so a rule of the stack on `source: ['serverless-triggers']` sees them.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { DynamoDBStreamsClient } from '@aws-sdk/client-dynamodb-streams';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import type { DynamoDBRecord, SQSBatchResponse } from 'aws-lambda';
import {
  DISPATCHER_SOURCE,
  EVALUATOR_SOURCE,
  type FilterPattern,
  LIFECYCLE_SOURCE,
  type StreamSourceSettings,
} from '../../adapters/aws-lambda/wiring.ts';
import type { LogSink } from '../../core/log.ts';
import { TemplateError } from '../../errors.ts';
import { matchesAny, unsupportedInPattern } from '../filter.ts';
import { QueuePoller } from '../queue-poller.ts';
import { StreamPoller } from '../stream-poller.ts';
import type { FunctionCredentials, LocalEnv } from './model.ts';

/** One event source mapping of the template, resolved. */
export interface MappingSpec {
  readonly logicalId: string;
  readonly functionLogicalId: string;
  readonly kind: 'stream' | 'queue';
  /** The stream or queue ARN, in the local account and region. */
  readonly sourceArn: string;
  readonly stream: StreamSourceSettings;
  /** The on-failure destination (an SQS queue ARN), if any. */
  readonly onFailureArn: string | undefined;
  readonly enabled: boolean;
  /** SQS sources: concurrent pollers (`ScalingConfig.MaximumConcurrency`, at most 5 here). */
  readonly pollers: number;
}

/** The properties of a mapping the mode honours; any other stops it. */
const HONOURED = new Set([
  'FunctionName',
  'EventSourceArn',
  'BatchSize',
  'MaximumBatchingWindowInSeconds',
  'BisectBatchOnFunctionError',
  'MaximumRetryAttempts',
  'FunctionResponseTypes',
  'DestinationConfig',
  'ParallelizationFactor',
  'StartingPosition',
  'FilterCriteria',
  'Enabled',
  'ScalingConfig',
  // Kept but not enforced locally:
  'MaximumRecordAgeInSeconds',
  'Tags',
]);

/**
 * A mapping's resolved properties as the local pollers take them; throws `TemplateError`
 * naming the mapping for a source, a filter or a property the mode does not emulate.
 *
 * @example
 * const spec = mappingSpec('EvaluatorSource', props, (name) => functionIds.get(name));
 */
export function mappingSpec(
  logicalId: string,
  props: Record<string, unknown>,
  functionOf: (nameOrArn: string) => string | undefined,
): MappingSpec {
  for (const key of Object.keys(props)) {
    if (!HONOURED.has(key))
      throw new TemplateError(logicalId, `mapping property ${key} is not emulated`);
  }
  const functionLogicalId = functionOf(String(props.FunctionName));
  if (functionLogicalId === undefined) {
    throw new TemplateError(
      logicalId,
      `FunctionName '${String(props.FunctionName)}' is not a function of the template`,
    );
  }
  const sourceArn = String(props.EventSourceArn ?? '');
  const kind = /:dynamodb:.*\/stream\//.test(sourceArn)
    ? 'stream'
    : /:sqs:/.test(sourceArn)
      ? 'queue'
      : undefined;
  if (kind === undefined) {
    throw new TemplateError(
      logicalId,
      `event source ${sourceArn || '(none)'} is not emulated (DynamoDB streams and SQS queues are)`,
    );
  }
  const criteria = (props.FilterCriteria as { Filters?: Array<{ Pattern?: string }> } | undefined)
    ?.Filters;
  if (kind === 'queue' && criteria !== undefined && criteria.length > 0) {
    // The local queue poller hands over every message: filters it ignored would deliver
    // (and, on AWS, delete unseen) messages differently than Lambda does.
    throw new TemplateError(logicalId, 'FilterCriteria on an SQS source are not emulated');
  }
  const filters = (criteria ?? []).map((f) => {
    let pattern: unknown;
    try {
      pattern = JSON.parse(String(f.Pattern));
    } catch (err) {
      throw new TemplateError(logicalId, `filter pattern ${String(f.Pattern)} is not JSON`, {
        cause: err,
      });
    }
    const unsupported = unsupportedInPattern(pattern);
    if (unsupported !== undefined) {
      throw new TemplateError(
        logicalId,
        `filter pattern ${String(f.Pattern)}: ${unsupported} is not emulated`,
      );
    }
    return pattern as FilterPattern;
  });
  const onFailure = (
    props.DestinationConfig as { OnFailure?: { Destination?: string } } | undefined
  )?.OnFailure?.Destination;
  if (onFailure !== undefined && !/:sqs:/.test(onFailure)) {
    throw new TemplateError(
      logicalId,
      `on-failure destination ${onFailure} is not emulated (SQS queues are)`,
    );
  }
  const retries = Number(props.MaximumRetryAttempts ?? -1);
  const concurrency = Number(
    (props.ScalingConfig as { MaximumConcurrency?: number } | undefined)?.MaximumConcurrency ?? 2,
  );
  return {
    logicalId,
    functionLogicalId,
    kind,
    sourceArn,
    stream: {
      filters,
      batchSize: Number(props.BatchSize ?? (kind === 'stream' ? 100 : 10)),
      maxBatchingWindowSeconds: Number(props.MaximumBatchingWindowInSeconds ?? 0),
      startingPosition: props.StartingPosition === 'LATEST' ? 'LATEST' : 'TRIM_HORIZON',
      bisectBatchOnError:
        props.BisectBatchOnFunctionError === true || props.BisectBatchOnFunctionError === 'true',
      // -1, the default, retries until the record expires: a day of retries is as good locally.
      retryAttempts: retries < 0 ? 10_000 : retries,
      reportBatchItemFailures: (
        (props.FunctionResponseTypes as string[] | undefined) ?? []
      ).includes('ReportBatchItemFailures'),
      parallelizationFactor: Number(props.ParallelizationFactor ?? 1),
    },
    onFailureArn: onFailure,
    enabled: props.Enabled !== false && props.Enabled !== 'false',
    pollers: Math.max(1, Math.min(5, concurrency)),
  };
}

/** A record of the stream the template's filters dropped but the package's wiring delivers. */
export interface DroppedRecords {
  readonly mapping: string;
  readonly functionLogicalId: string;
  /** Which of the package's stream sources the function is. */
  readonly source: PackageStreamSource;
  /** How many such records it dropped. */
  count: number;
  /** The keys of the first one. */
  readonly sample: string;
}

/** What the mappings need of the rest of the mode. */
export interface MappingDeps {
  readonly env: LocalEnv;
  /** The local IAM endpoint every poller calls AWS through. */
  readonly awsEndpoint: string;
  readonly credentialsOf: (functionLogicalId: string) => FunctionCredentials;
  /** Invokes a function; rejects (a `FunctionError`) when the function failed. */
  readonly invoke: (functionLogicalId: string, event: unknown) => Promise<unknown>;
  /** The local URL of a queue, by ARN. */
  readonly queueUrlOf: (arn: string) => string | undefined;
  /** Which of the package's stream sources a function is, if any (by its handler). */
  readonly sourceOf: (functionLogicalId: string) => PackageStreamSource | undefined;
  readonly log: LogSink;
}

const WIRING = {
  evaluator: EVALUATOR_SOURCE,
  dispatcher: DISPATCHER_SOURCE,
  lifecycle: LIFECYCLE_SOURCE,
} as const;

/** The package's functions that read the table stream, by the name of their wiring. */
export type PackageStreamSource = keyof typeof WIRING;

/**
 * Which of the package's stream functions a handler is (`evaluator.handler`, `lifecycle.handler`).
 *
 * @example
 * streamSourceOfHandler('lifecycle.handler'); // 'lifecycle'
 */
export function streamSourceOfHandler(handler: string): PackageStreamSource | undefined {
  const name = handler.replace(/\.handler$/, '');
  return Object.hasOwn(WIRING, name) && handler === `${name}.handler`
    ? (name as PackageStreamSource)
    : undefined;
}

/** The running pollers of a template's mappings. */
export class TemplateMappings {
  readonly pollers: Array<StreamPoller | QueuePoller> = [];
  private readonly dropped = new Map<string, DroppedRecords>();

  constructor(
    private readonly specs: readonly MappingSpec[],
    private readonly deps: MappingDeps,
  ) {}

  /** Starts one poller per enabled mapping (per SQS mapping, `pollers` of them). */
  start(): void {
    for (const spec of this.specs) {
      if (!spec.enabled) continue;
      const credentials = this.deps.credentialsOf(spec.functionLogicalId);
      const config = {
        endpoint: this.deps.awsEndpoint,
        region: this.deps.env.region,
        credentials,
      };
      const invoke = async <R>(event: unknown): Promise<R> =>
        (await this.deps.invoke(spec.functionLogicalId, event)) as R;
      const log: LogSink = (entry) => this.deps.log({ ...entry, mapping: spec.logicalId });
      if (spec.kind === 'stream') {
        const sqs = new SQSClient(config);
        const onFailureUrl = spec.onFailureArn
          ? this.deps.queueUrlOf(spec.onFailureArn)
          : undefined;
        this.pollers.push(
          new StreamPoller({
            client: new DynamoDBStreamsClient(config),
            streamArn: spec.sourceArn,
            settings: spec.stream,
            parallelization: spec.stream.parallelizationFactor,
            functionName: spec.functionLogicalId,
            region: this.deps.env.region,
            handler: invoke,
            onFilteredOut: (records) => this.checkDropped(spec, records),
            ...(onFailureUrl !== undefined
              ? {
                  onFailure: async (record) => {
                    await sqs.send(
                      new SendMessageCommand({
                        QueueUrl: onFailureUrl,
                        MessageBody: JSON.stringify(record),
                      }),
                    );
                  },
                }
              : {}),
            log,
          }),
        );
        continue;
      }
      const queueUrl = this.deps.queueUrlOf(spec.sourceArn);
      if (queueUrl === undefined) {
        throw new TemplateError(
          spec.logicalId,
          `event source ${spec.sourceArn} is not a queue of the template`,
        );
      }
      const client = new SQSClient({ ...config, useQueueUrlAsEndpoint: false });
      for (let i = 0; i < spec.pollers; i++) {
        this.pollers.push(
          new QueuePoller({
            client,
            queueUrl,
            queueArn: spec.sourceArn,
            batchSize: spec.stream.batchSize,
            region: this.deps.env.region,
            handler: async (event) => {
              const res = await invoke<SQSBatchResponse | undefined>(event);
              // Without ReportBatchItemFailures, a response's failures mean nothing to Lambda.
              return spec.stream.reportBatchItemFailures
                ? (res ?? { batchItemFailures: [] })
                : { batchItemFailures: [] };
            },
            log,
          }),
        );
      }
    }
    for (const p of this.pollers) p.start();
  }

  /** Remembers the records `spec` dropped that the package's wiring delivers to its function. */
  private checkDropped(spec: MappingSpec, records: DynamoDBRecord[]): void {
    const source = this.deps.sourceOf(spec.functionLogicalId);
    if (source === undefined) return;
    const needed = records.filter((r) => matchesAny(r, WIRING[source].filters));
    if (needed.length === 0) return;
    const seen = this.dropped.get(spec.logicalId);
    if (seen !== undefined) {
      seen.count += needed.length;
      return;
    }
    const keys = needed[0]?.dynamodb?.Keys ?? {};
    const sample = Object.entries(keys)
      .map(([k, v]) => `${k}=${(v as { S?: string }).S ?? JSON.stringify(v)}`)
      .join(' ');
    this.dropped.set(spec.logicalId, {
      mapping: spec.logicalId,
      functionLogicalId: spec.functionLogicalId,
      source,
      count: needed.length,
      sample,
    });
    this.deps.log({
      level: 'error',
      message: `event source mapping ${spec.logicalId} dropped a stream record its function ${spec.functionLogicalId} (the ${source}) needs: its FilterCriteria do not match what the package's wiring delivers (${sample})`,
      timestamp: new Date().toISOString(),
    });
  }

  /** Records the template's filters dropped that the package's wiring delivers, by mapping. */
  droppedRecords(): DroppedRecords[] {
    return [...this.dropped.values()];
  }

  /** True when no poller holds a batch and every stream poller's last pass found nothing. */
  get idle(): boolean {
    return this.pollers.every((p) => p.idle);
  }

  /** Records or messages handed to functions so far. */
  get delivered(): number {
    return this.pollers.reduce((n, p) => n + p.deliveredCount, 0);
  }

  async stop(): Promise<void> {
    await Promise.all(this.pollers.map((p) => p.stop()));
  }
}
