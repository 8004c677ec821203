/**
 * The local DynamoDB-stream event source: reads the session table's stream and hands filtered,
 * ordered batches to a Lambda handler, with the retries, bisection and on-failure records of
 * Lambda's stream source.
 * May import: base, engine, store, core, adapters, local.
 *
 * @module
 */
import { randomUUID } from 'node:crypto';
import {
  DescribeStreamCommand,
  type DynamoDBStreamsClient,
  GetRecordsCommand,
  GetShardIteratorCommand,
  type _Record as StreamRecordSdk,
} from '@aws-sdk/client-dynamodb-streams';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import type { StreamSourceSettings } from '../adapters/aws-lambda/wiring.ts';
import type { LogSink } from '../core/log.ts';
import { matchesAny } from './filter.ts';
import { PollingLoop } from './polling-loop.ts';

/** Options of a `StreamPoller`. */
export interface StreamPollerOptions {
  client: DynamoDBStreamsClient;
  streamArn: string;
  /** Filters, batch size, starting position, retries: the wiring module's settings. */
  settings: StreamSourceSettings;
  /** The Lambda handler, invoked with the same event shape as AWS. */
  handler: (event: DynamoDBStreamEvent) => Promise<DynamoDBBatchResponse | undefined>;
  /** Pause between polls of a shard with nothing new. @default 25 */
  pollIntervalMs?: number;
  /**
   * Poll at a fixed rate instead, as Lambda's stream event sources do (about four polls a second
   * per shard): each poll starts on the next tick of this period, whether or not the last one
   * found records, so a new record waits for the next tick. Overrides `pollIntervalMs`.
   * @default - off: poll again at once after records, `pollIntervalMs` after nothing
   */
  pollEveryMs?: number;
  /**
   * Batches handed to the handler at once per shard, records of one partition key always in the
   * same lane and in order, as Lambda's `ParallelizationFactor`. @default 1
   */
  parallelization?: number;
  /**
   * The on-failure destination: receives, in Lambda's on-failure record format, each batch
   * given up after the last retry. @default - logged only
   */
  onFailure?: (record: StreamFailureRecord) => Promise<void>;
  /** The function's name in on-failure records. @default 'stream-handler' */
  functionName?: string;
  /**
   * Receives the records the filters dropped (the template mode names the mapping that dropped
   * a record its function needed). @default - none
   */
  onFilteredOut?: (records: DynamoDBRecord[]) => void;
  log: LogSink;
  region?: string;
}

/** What Lambda sends a stream event source's on-failure destination about a dropped batch. */
export interface StreamFailureRecord {
  requestContext: {
    requestId: string;
    functionArn: string;
    condition: 'RetryAttemptsExhausted';
    approximateInvokeCount: number;
  };
  responseContext: { statusCode: number; executedVersion: string; functionError: string };
  version: '1.0';
  timestamp: string;
  DDBStreamBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
}

function arrivalOf(r: DynamoDBRecord | undefined): string {
  const seconds = r?.dynamodb?.ApproximateCreationDateTime;
  return new Date(typeof seconds === 'number' ? seconds * 1000 : Date.now()).toISOString();
}

interface ShardState {
  id: string;
  parent: string | undefined;
  iterator: string | undefined;
  closed: boolean;
  /** The sequence number of the last record read, to resume after an iterator went bad. */
  lastSequence: string | undefined;
  /** Records read but held back while the batching window is open. */
  held: DynamoDBRecord[];
  heldSince: number;
}

/** Iterator errors after which a fresh iterator, from where reading stopped, is the cure. */
const STALE_ITERATOR = new Set(['TrimmedDataAccessException', 'ExpiredIteratorException']);

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A stream record as the SDK returns it, in the shape Lambda hands to a function. */
export function toLambdaRecord(
  r: StreamRecordSdk,
  streamArn: string,
  region: string,
): DynamoDBRecord {
  const d = r.dynamodb ?? {};
  const created = d.ApproximateCreationDateTime;
  return {
    eventID: r.eventID,
    eventName: r.eventName as DynamoDBRecord['eventName'],
    eventVersion: r.eventVersion ?? '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: r.awsRegion ?? region,
    eventSourceARN: streamArn,
    dynamodb: {
      ...(d.Keys ? { Keys: d.Keys as never } : {}),
      ...(d.NewImage ? { NewImage: d.NewImage as never } : {}),
      ...(d.OldImage ? { OldImage: d.OldImage as never } : {}),
      ...(d.SequenceNumber ? { SequenceNumber: d.SequenceNumber } : {}),
      ...(d.SizeBytes !== undefined ? { SizeBytes: d.SizeBytes } : {}),
      ...(d.StreamViewType ? { StreamViewType: d.StreamViewType } : {}),
      ...(created
        ? { ApproximateCreationDateTime: Math.floor(new Date(created).getTime() / 1000) }
        : {}),
    },
  };
}

/** Splits records into `count` lanes by partition key, each lane keeping the records' order. */
function lanes(records: DynamoDBRecord[], count: number): DynamoDBRecord[][] {
  if (count <= 1) return [records];
  const out: DynamoDBRecord[][] = Array.from({ length: count }, () => []);
  for (const r of records) {
    const key = JSON.stringify(r.dynamodb?.Keys?.pk ?? '');
    let hash = 0;
    for (let i = 0; i < key.length; i++) hash = (hash * 31 + key.charCodeAt(i)) >>> 0;
    out[hash % count]?.push(r);
  }
  return out.filter((lane) => lane.length > 0);
}

/**
 * The local stand-in for a Lambda DynamoDB-stream event source: reads every shard (children
 * after their parents close), filters records with the wiring's patterns, hands batches of the
 * configured size to the handler in order, resumes from a reported failure, bisects a batch
 * whose handler throws, and gives up on a record after the configured retries (logging it, as
 * an on-failure destination would receive it).
 */
export class StreamPoller extends PollingLoop {
  private readonly shards = new Map<string, ShardState>();
  private lastPollEmpty = false;

  constructor(private readonly opts: StreamPollerOptions) {
    super();
  }

  /** True when the last pass over every shard found nothing and no batch is in hand. */
  get idle(): boolean {
    return !this.busy && this.lastPollEmpty;
  }

  private async discoverShards(): Promise<void> {
    let start: string | undefined;
    do {
      const res = await this.opts.client.send(
        new DescribeStreamCommand({ StreamArn: this.opts.streamArn, ExclusiveStartShardId: start }),
      );
      for (const shard of res.StreamDescription?.Shards ?? []) {
        if (!shard.ShardId || this.shards.has(shard.ShardId)) continue;
        this.shards.set(shard.ShardId, {
          id: shard.ShardId,
          parent: shard.ParentShardId,
          iterator: undefined,
          closed: false,
          lastSequence: undefined,
          held: [],
          heldSince: 0,
        });
      }
      start = res.StreamDescription?.LastEvaluatedShardId;
    } while (start);
  }

  private async iteratorFor(shard: ShardState): Promise<string | undefined> {
    const isChild = shard.parent !== undefined && this.shards.has(shard.parent);
    const res = await this.opts.client.send(
      new GetShardIteratorCommand({
        StreamArn: this.opts.streamArn,
        ShardId: shard.id,
        ...(shard.lastSequence !== undefined
          ? { ShardIteratorType: 'AFTER_SEQUENCE_NUMBER', SequenceNumber: shard.lastSequence }
          : // A child shard continues its parent: it is read from its start.
            { ShardIteratorType: isChild ? 'TRIM_HORIZON' : this.opts.settings.startingPosition }),
      }),
    );
    return res.ShardIterator;
  }

  /** Reads the next page of a shard; a stale iterator is replaced from where reading stopped. */
  private async readShard(shard: ShardState): Promise<StreamRecordSdk[]> {
    shard.iterator ??= await this.iteratorFor(shard);
    if (!shard.iterator) {
      shard.closed = true;
      return [];
    }
    try {
      const res = await this.opts.client.send(
        new GetRecordsCommand({ ShardIterator: shard.iterator, Limit: 1000 }),
      );
      shard.iterator = res.NextShardIterator;
      if (!shard.iterator) shard.closed = true;
      const records = res.Records ?? [];
      const last = records[records.length - 1]?.dynamodb?.SequenceNumber;
      if (last !== undefined) shard.lastSequence = last;
      return records;
    } catch (err) {
      if (err instanceof Error && STALE_ITERATOR.has(err.name)) {
        // DynamoDB Local, for one, calls an iterator taken on an empty shard trimmed once other
        // tables are written: a new one from the same place reads on.
        shard.iterator = undefined;
        return [];
      }
      throw err;
    }
  }

  private readable(shard: ShardState): boolean {
    if (shard.closed) return false;
    const parent = shard.parent ? this.shards.get(shard.parent) : undefined;
    return !parent || parent.closed;
  }

  /** Waits for the next tick of a fixed-rate schedule (ticks at `phase + k × every`). */
  private async nextTick(every: number, phase: number): Promise<void> {
    const now = performance.now();
    const next = phase + Math.ceil((now - phase) / every) * every;
    await sleep(Math.max(0, next - now));
  }

  protected async run(): Promise<void> {
    let sinceDescribe = Number.POSITIVE_INFINITY;
    const every = this.opts.pollEveryMs;
    // Each source starts its ticks at its own random phase, as independent pollers do.
    const phase = performance.now() + Math.random() * (every ?? 0);
    while (this.running) {
      try {
        if (every !== undefined) await this.nextTick(every, phase);
        if (sinceDescribe > 20) {
          await this.discoverShards();
          sinceDescribe = 0;
        }
        sinceDescribe += 1;
        let fetched = 0;
        for (const shard of this.shards.values()) {
          if (!this.running || !this.readable(shard)) continue;
          const page = await this.readShard(shard);
          if (shard.closed) sinceDescribe = Number.POSITIVE_INFINITY;
          const read = page.map((r) =>
            toLambdaRecord(r, this.opts.streamArn, this.opts.region ?? 'us-east-1'),
          );
          const records = read.filter((r) => matchesAny(r, this.opts.settings.filters));
          if (records.length < read.length && this.opts.onFilteredOut) {
            this.opts.onFilteredOut(read.filter((r) => !records.includes(r)));
          }
          fetched += page.length;
          await this.deliverWindowed(shard, records);
        }
        this.lastPollEmpty =
          fetched === 0 && [...this.shards.values()].every((x) => x.held.length === 0);
        if (fetched === 0 && every === undefined) await sleep(this.opts.pollIntervalMs ?? 25);
      } catch (err) {
        this.opts.log({
          level: 'error',
          message: 'stream poll failed; retrying',
          timestamp: new Date().toISOString(),
          error: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
        });
        this.lastPollEmpty = false;
        await sleep(200);
      }
    }
  }

  /**
   * Delivers full batches at once and holds a smaller remainder until the batching window
   * closes (with no window, nothing is held), as Lambda's `MaximumBatchingWindowInSeconds`.
   */
  private async deliverWindowed(shard: ShardState, records: DynamoDBRecord[]): Promise<void> {
    if (records.length > 0 && shard.held.length === 0) shard.heldSince = Date.now();
    shard.held.push(...records);
    const { batchSize, maxBatchingWindowSeconds } = this.opts.settings;
    const windowOpen = Date.now() - shard.heldSince < maxBatchingWindowSeconds * 1000;
    const deliverable =
      windowOpen && shard.held.length < batchSize
        ? 0
        : shard.held.length >= batchSize && windowOpen
          ? shard.held.length - (shard.held.length % batchSize)
          : shard.held.length;
    if (deliverable === 0) return;
    const batch = shard.held.splice(0, deliverable);
    if (shard.held.length > 0) shard.heldSince = Date.now();
    await this.deliver(batch, shard.id);
  }

  private async deliver(records: DynamoDBRecord[], shardId: string): Promise<void> {
    this.busy = true;
    try {
      const size = this.opts.settings.batchSize;
      await Promise.all(
        lanes(records, this.opts.parallelization ?? 1).map(async (lane) => {
          for (let i = 0; i < lane.length; i += size) {
            await this.invoke(lane.slice(i, i + size), 0, shardId);
          }
        }),
      );
    } finally {
      this.busy = false;
    }
  }

  /** Tells the on-failure destination about a batch given up; a failure to do so is logged. */
  private async sendToOnFailure(
    rest: DynamoDBRecord[],
    attempt: number,
    shardId: string,
    threw: boolean,
  ): Promise<void> {
    if (!this.opts.onFailure) return;
    const record: StreamFailureRecord = {
      requestContext: {
        requestId: randomUUID(),
        functionArn: `local:function:${this.opts.functionName ?? 'stream-handler'}`,
        condition: 'RetryAttemptsExhausted',
        approximateInvokeCount: attempt + 1,
      },
      responseContext: {
        statusCode: 200,
        executedVersion: '$LATEST',
        functionError: threw ? 'Unhandled' : 'BatchItemFailure',
      },
      version: '1.0',
      timestamp: new Date().toISOString(),
      DDBStreamBatchInfo: {
        shardId,
        startSequenceNumber: rest[0]?.dynamodb?.SequenceNumber ?? '',
        endSequenceNumber: rest.at(-1)?.dynamodb?.SequenceNumber ?? '',
        approximateArrivalOfFirstRecord: arrivalOf(rest[0]),
        approximateArrivalOfLastRecord: arrivalOf(rest.at(-1)),
        batchSize: rest.length,
        streamArn: this.opts.streamArn,
      },
    };
    try {
      await this.opts.onFailure(record);
    } catch (err) {
      this.opts.log({
        level: 'error',
        message: 'the on-failure destination refused a dropped batch',
        timestamp: new Date().toISOString(),
        error: err instanceof Error ? err.message : String(err),
      });
    }
  }

  /** Invokes the handler for a batch, with the event source's failure handling. */
  private async invoke(batch: DynamoDBRecord[], attempt: number, shardId: string): Promise<void> {
    if (batch.length === 0) return;
    const { settings } = this.opts;
    let failedAt = -1;
    let threw: unknown;
    try {
      const res = await this.opts.handler({ Records: batch });
      this.delivered += batch.length;
      const failures = settings.reportBatchItemFailures ? (res?.batchItemFailures ?? []) : [];
      if (failures.length > 0) {
        const ids = new Set(failures.map((f) => f.itemIdentifier));
        failedAt = batch.findIndex((r) => ids.has(r.dynamodb?.SequenceNumber ?? ''));
        // An identifier that names no record fails the whole batch, as on AWS.
        if (failedAt < 0) failedAt = 0;
      }
    } catch (err) {
      threw = err;
      failedAt = 0;
    }
    if (failedAt < 0) return;
    const rest = batch.slice(failedAt);
    const splits = threw !== undefined && settings.bisectBatchOnError && rest.length > 1;
    if (attempt >= settings.retryAttempts && !splits) {
      this.opts.log({
        level: 'error',
        message: 'stream records dropped after the last retry (on-failure destination)',
        timestamp: new Date().toISOString(),
        sequenceNumbers: rest.map((r) => r.dynamodb?.SequenceNumber),
        ...(threw instanceof Error ? { error: `${threw.name}: ${threw.message}` } : {}),
      });
      await this.sendToOnFailure(rest, attempt, shardId, threw !== undefined);
      return;
    }
    if (splits) {
      // As on AWS, splitting a batch does not count against the retry quota.
      const half = Math.ceil(rest.length / 2);
      await this.invoke(rest.slice(0, half), attempt, shardId);
      await this.invoke(rest.slice(half), attempt, shardId);
      return;
    }
    await sleep(Math.min(1000, 20 * 2 ** attempt));
    await this.invoke(rest, attempt + 1, shardId);
  }
}
