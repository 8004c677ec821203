/**
 * The DynamoDB store: the storage port over the single session table, every write conditional,
 * commits as `TransactWriteItems`. It does the I/O only; the items are the layout's.
 * May import: engine, base (lib/types.ts, lib/errors.ts), store, @aws-sdk.
 *
 * @module
 */
import {
  ConditionalCheckFailedException,
  type ConsumedCapacity,
  DynamoDBClient,
  type DynamoDBClientConfig,
  TransactionCanceledException,
} from '@aws-sdk/client-dynamodb';
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactWriteCommand,
  type TransactWriteCommandInput,
  UpdateCommand,
} from '@aws-sdk/lib-dynamodb';
import type { SessionState } from '../engine/state.ts';
import { ConflictError, NotAvailableError } from '../errors.ts';
import type { Workflow } from '../types.ts';
import { countStaleHeads, listStaleHeads, type StaleIndexTable } from './dynamo-stale-index.ts';
import {
  definitionFromItem,
  eventFromItem,
  eventItem,
  headAttributes,
  headFromItem,
  headItem,
  type Item,
  instanceAttributes,
  instanceAttributeValue,
  instanceFromItem,
  instanceItem,
  keys,
  MAX_TRANSACTION_ITEMS,
  STALE_INDEX,
  sessionItemKey,
  staleIndexKeys,
  TABLE,
  workflowVersionItem,
  workflowVersionKey,
} from './layout.ts';
import type {
  EvaluationCommit,
  EventRecord,
  HeadRecord,
  InstanceRecord,
  InstanceUpdate,
  OutcomeCommit,
  SessionStore,
  StaleCount,
  StaleHeads,
  StaleQuery,
} from './port.ts';
import { oldestUnstartedAt, STALE_NOT_TRACKED } from './stale-heads.ts';

/** One DynamoDB call's consumed capacity, as `ReturnConsumedCapacity` reports it. */
export interface CapacityEntry {
  operation: string;
  readUnits: number;
  writeUnits: number;
}

/** Options of `DynamoStore`. */
export interface DynamoStoreOptions {
  tableName: string;
  /** A client to use. @default - a new `DynamoDBClient` from `clientConfig` */
  client?: DynamoDBClient;
  /** Config of the client it creates (region, endpoint, credentials). */
  clientConfig?: DynamoDBClientConfig;
  /** How long items live after their last write, in seconds. @default 90 days */
  ttlSeconds?: number;
  /** Receives the consumed capacity of every call (cost accounting). */
  meter?: (entry: CapacityEntry) => void;
  /**
   * Keep session heads with unstarted instances in the table's stale index (`STALE_INDEX`),
   * which `listStale` and `countStale` query. The table must have the index. `true` uses the
   * default name; an object names another.
   * @default false - heads carry no index attributes and the store cannot list stale sessions
   */
  staleIndex?: boolean | StaleIndexOptions;
}

/** Options of the stale index of `DynamoStore`. */
export interface StaleIndexOptions {
  /** The index's name. @default STALE_INDEX.name */
  name?: string;
  /** How many partition-key values heads are spread over. @default STALE_INDEX.shards */
  shards?: number;
}

/**
 * The single-table DynamoDB implementation of the storage port. Every write is conditional;
 * evaluations and outcomes commit with `TransactWriteItems`; trigger names and kwargs only ever
 * travel as attribute values, never inside an expression.
 *
 * @example
 * const store = new DynamoStore({ tableName: 'triggers', clientConfig: { region: 'eu-west-1' } });
 */
export class DynamoStore implements SessionStore {
  readonly maxCommitItems = MAX_TRANSACTION_ITEMS;
  readonly tableName: string;
  private readonly doc: DynamoDBDocumentClient;
  private readonly ttlSeconds: number;
  private readonly meter: ((entry: CapacityEntry) => void) | undefined;
  private readonly staleIndex: Required<StaleIndexOptions> | undefined;

  constructor(opts: DynamoStoreOptions) {
    this.tableName = opts.tableName;
    const client = opts.client ?? new DynamoDBClient(opts.clientConfig ?? {});
    this.doc = DynamoDBDocumentClient.from(client, {
      marshallOptions: { removeUndefinedValues: true },
    });
    this.ttlSeconds = opts.ttlSeconds ?? 90 * 24 * 3600;
    this.meter = opts.meter;
    const stale = opts.staleIndex === true ? {} : opts.staleIndex || undefined;
    this.staleIndex = stale && {
      name: stale.name ?? STALE_INDEX.name,
      shards: stale.shards ?? STALE_INDEX.shards,
    };
  }

  private expiresAt(): number {
    return Math.floor(Date.now() / 1000) + this.ttlSeconds;
  }

  /**
   * Reports consumed capacity. Some answers (DynamoDB Local's, for single-item writes) give only
   * a total: the store knows whether the call read or wrote, so it books the total there.
   */
  private record(
    operation: string,
    kind: 'read' | 'write',
    consumed: ConsumedCapacity | ConsumedCapacity[] | undefined,
  ) {
    if (!this.meter || consumed === undefined) return;
    for (const c of Array.isArray(consumed) ? consumed : [consumed]) {
      const total = c.CapacityUnits ?? 0;
      this.meter({
        operation,
        readUnits: c.ReadCapacityUnits ?? (kind === 'read' ? total : 0),
        writeUnits: c.WriteCapacityUnits ?? (kind === 'write' ? total : 0),
      });
    }
  }

  async putEvent(event: EventRecord): Promise<{ duplicate: boolean }> {
    try {
      const out = await this.doc.send(
        new PutCommand({
          ...this.putNew(eventItem(event, this.expiresAt())),
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.record('putEvent', 'write', out.ConsumedCapacity);
      return { duplicate: false };
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return { duplicate: true };
      throw err;
    }
  }

  async getEvents(
    sessionId: string,
    eventIds: readonly string[],
  ): Promise<Map<string, EventRecord>> {
    const out = new Map<string, EventRecord>();
    const unique = [...new Set(eventIds)];
    for (let i = 0; i < unique.length; i += 100) {
      let request: Record<string, { Keys: Item[] }> | undefined = {
        [this.tableName]: {
          Keys: unique.slice(i, i + 100).map((id) => sessionItemKey(sessionId, keys.event(id))),
        },
      };
      while (request && Object.keys(request).length > 0) {
        // Event kwargs never change after the put: an eventually consistent read is enough.
        const res = await this.doc.send(
          new BatchGetCommand({ RequestItems: request, ReturnConsumedCapacity: 'TOTAL' }),
        );
        this.record('getEvents', 'read', res.ConsumedCapacity);
        for (const item of res.Responses?.[this.tableName] ?? []) {
          const e = eventFromItem(item);
          out.set(e.eventId, e);
        }
        request = res.UnprocessedKeys as Record<string, { Keys: Item[] }> | undefined;
      }
    }
    return out;
  }

  async getHead(sessionId: string): Promise<HeadRecord | undefined> {
    const res = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: sessionItemKey(sessionId, keys.head),
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.record('getHead', 'read', res.ConsumedCapacity);
    return res.Item ? headFromItem(sessionId, res.Item) : undefined;
  }

  private updateItem(u: InstanceUpdate, extraCondition?: { expr: string; values: Item }) {
    const names: Record<string, string> = { '#status': instanceAttributes.status };
    // An annotation keeps a running instance's claim; a status change drops it.
    if (!u.keepLease) names['#lease'] = instanceAttributes.leaseUntil;
    const values: Item = { ...(extraCondition?.values ?? {}) };
    const sets: string[] = [];
    for (const [key, value] of Object.entries(u.set)) {
      if (value === undefined) continue;
      names[`#${key}`] = key;
      values[`:${key}`] = instanceAttributeValue(key, value);
      sets.push(`#${key} = :${key}`);
    }
    const expect = u.expect.map((s, i) => {
      values[`:expect${i}`] = s;
      return `:expect${i}`;
    });
    const condition = `#status IN (${expect.join(', ')})${extraCondition ? ` AND ${extraCondition.expr}` : ''}`;
    return {
      TableName: this.tableName,
      Key: sessionItemKey(u.sessionId, keys.instance(u.name)),
      UpdateExpression: `SET ${sets.join(', ')}${u.keepLease ? '' : ' REMOVE #lease'}`,
      ConditionExpression: condition,
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    };
  }

  /** Puts an item only if no item has its key. */
  private putNew(item: Item) {
    return {
      TableName: this.tableName,
      Item: item,
      ConditionExpression: 'attribute_not_exists(#sk)',
      ExpressionAttributeNames: { '#sk': TABLE.sortKey },
    };
  }

  async commitEvaluation(c: EvaluationCommit): Promise<void> {
    const expiresAt = this.expiresAt();
    const head = headItem(
      {
        sessionId: c.sessionId,
        version: (c.expectedVersion ?? 0) + 1,
        state: c.state,
        mark: c.mark,
        ...(c.notes !== undefined ? { notes: c.notes } : {}),
      },
      expiresAt,
      this.staleIndexKeys(c.sessionId, c.state),
    );
    const headPut =
      c.expectedVersion === undefined
        ? this.putNew(head)
        : {
            TableName: this.tableName,
            Item: head,
            ConditionExpression: '#v = :v',
            ExpressionAttributeNames: { '#v': headAttributes.version },
            ExpressionAttributeValues: { ':v': c.expectedVersion },
          };
    const others: NonNullable<TransactWriteCommandInput['TransactItems']> = [];
    for (const r of c.created) {
      others.push({ Put: this.putNew(instanceItem(r, expiresAt)) });
    }
    for (const u of c.updated) others.push({ Update: this.updateItem(u) });
    for (const e of c.events) {
      others.push({ Put: this.putNew(eventItem(e, expiresAt)) });
    }
    const lost = (cause: unknown) =>
      new ConflictError(`evaluation of session '${c.sessionId}' lost a race`, { cause });
    if (others.length === 0) {
      // The head alone (applied marks live in it): one conditional write, not a transaction.
      try {
        const res = await this.doc.send(
          new PutCommand({ ...headPut, ReturnConsumedCapacity: 'TOTAL' }),
        );
        this.record('commitEvaluation', 'write', res.ConsumedCapacity);
        return;
      } catch (err) {
        if (err instanceof ConditionalCheckFailedException) throw lost(err);
        throw err;
      }
    }
    try {
      const res = await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [{ Put: headPut }, ...others],
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.record('commitEvaluation', 'write', res.ConsumedCapacity);
    } catch (err) {
      if (err instanceof TransactionCanceledException) throw lost(err);
      throw err;
    }
  }

  /**
   * A stored workflow version's definition (see `workflowVersionItem`). Read once per
   * process and version by the registry, which keeps what it loaded.
   */
  async getWorkflowVersion(name: string, version: string): Promise<Workflow | undefined> {
    const res = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: workflowVersionKey(name, version),
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.record('getWorkflowVersion', 'read', res.ConsumedCapacity);
    return definitionFromItem(res.Item);
  }

  /** Stores a workflow version's definition unless stored: no TTL, so it is never expired. */
  async putWorkflowVersion(workflow: Workflow): Promise<{ version: string; created: boolean }> {
    const item = workflowVersionItem(workflow);
    const version = item.version as string;
    try {
      const res = await this.doc.send(
        new PutCommand({ ...this.putNew(item), ReturnConsumedCapacity: 'TOTAL' }),
      );
      this.record('putWorkflowVersion', 'write', res.ConsumedCapacity);
      return { version, created: true };
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return { version, created: false };
      throw err;
    }
  }

  async getInstance(sessionId: string, name: string): Promise<InstanceRecord | undefined> {
    const res = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: sessionItemKey(sessionId, keys.instance(name)),
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.record('getInstance', 'read', res.ConsumedCapacity);
    return res.Item ? instanceFromItem(res.Item) : undefined;
  }

  async listInstances(sessionId: string): Promise<InstanceRecord[]> {
    return (await this.query('listInstances', sessionId, keys.instancePrefix)).map(
      instanceFromItem,
    );
  }

  async listEvents(sessionId: string): Promise<EventRecord[]> {
    const events = (await this.query('listEvents', sessionId, keys.eventPrefix)).map(eventFromItem);
    // Items are in event-id order; the accept order is the order of `firedAt` (the table keeps
    // no sequence number: the stream carries the order to the evaluator). Events accepted in
    // the same millisecond keep event-id order (the sort is stable).
    return events.sort((a, b) => (a.firedAt < b.firedAt ? -1 : a.firedAt > b.firedAt ? 1 : 0));
  }

  /** Every item of a session whose sort key starts with `prefix`, strongly consistent. */
  private async query(operation: string, sessionId: string, prefix: string): Promise<Item[]> {
    const out: Item[] = [];
    let start: Item | undefined;
    do {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#pk = :pk AND begins_with(#sk, :prefix)',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#sk': TABLE.sortKey },
          ExpressionAttributeValues: { ':pk': keys.session(sessionId), ':prefix': prefix },
          ConsistentRead: true,
          ExclusiveStartKey: start,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.record(operation, 'read', res.ConsumedCapacity);
      out.push(...(res.Items ?? []));
      start = res.LastEvaluatedKey;
    } while (start);
    return out;
  }

  async claimInstance(
    sessionId: string,
    name: string,
    now: string,
    leaseUntil: string,
  ): Promise<InstanceRecord | undefined> {
    try {
      const res = await this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: sessionItemKey(sessionId, keys.instance(name)),
          UpdateExpression: 'SET #status = :running, #lease = :lease, #updated = :now',
          ConditionExpression:
            'attribute_exists(#sk) AND (#status = :scheduled OR (#status = :running AND #lease < :now))',
          ExpressionAttributeNames: {
            '#status': instanceAttributes.status,
            '#lease': instanceAttributes.leaseUntil,
            '#updated': instanceAttributes.updatedAt,
            '#sk': TABLE.sortKey,
          },
          ExpressionAttributeValues: {
            ':running': 'running',
            ':scheduled': 'scheduled',
            ':lease': leaseUntil,
            ':now': now,
          },
          ReturnValues: 'ALL_NEW',
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.record('claimInstance', 'write', res.ConsumedCapacity);
      return res.Attributes ? instanceFromItem(res.Attributes) : undefined;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return undefined;
      throw err;
    }
  }

  async commitOutcome(c: OutcomeCommit): Promise<boolean> {
    const lease =
      c.leaseUntil === undefined
        ? undefined
        : { expr: '#lease = :owned', values: { ':owned': c.leaseUntil } };
    const update = this.updateItem(c.update, lease);
    try {
      if (c.events.length === 0) {
        const res = await this.doc.send(
          new UpdateCommand({ ...update, ReturnConsumedCapacity: 'TOTAL' }),
        );
        this.record('commitOutcome', 'write', res.ConsumedCapacity);
        return true;
      }
      const expiresAt = this.expiresAt();
      const res = await this.doc.send(
        new TransactWriteCommand({
          TransactItems: [
            { Update: update },
            ...c.events.map((e) => ({ Put: this.putNew(eventItem(e, expiresAt)) })),
          ],
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.record('commitOutcome', 'write', res.ConsumedCapacity);
      return true;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return false;
      // Only the instance's own condition failing means the claim moved on. A transaction
      // cancelled for another reason (a conflict with a concurrent transaction, throttling)
      // says nothing about the claim: rethrow, so the delivery is retried instead of its
      // outcome being dropped.
      if (
        err instanceof TransactionCanceledException &&
        err.CancellationReasons?.[0]?.Code === 'ConditionalCheckFailed'
      ) {
        return false;
      }
      throw err;
    }
  }

  /**
   * The stale index's keys for a head of `state`: its shard and the `createdAt` of its oldest
   * unstarted instance. None when the index is off, or the head has no unstarted instance
   * (the put then drops them, and the head leaves the index).
   */
  private staleIndexKeys(sessionId: string, state: SessionState): Item {
    const oldest = this.staleIndex && oldestUnstartedAt(state);
    if (!this.staleIndex || oldest === undefined) return {};
    return staleIndexKeys(sessionId, oldest, this.staleIndex.shards);
  }

  /** The stale index as its reads need it; throws `NotAvailableError` when it is off. */
  private staleIndexTable(): StaleIndexTable {
    if (this.staleIndex === undefined) {
      throw new NotAvailableError(STALE_NOT_TRACKED);
    }
    return {
      doc: this.doc,
      tableName: this.tableName,
      index: this.staleIndex,
      recordRead: (operation, consumed) => this.record(operation, 'read', consumed),
    };
  }

  /**
   * Heads whose oldest unstarted instance was created before `query.olderThan`, oldest first:
   * a query of each shard of the stale index, then one batch read of the heads.
   */
  async listStale(query: StaleQuery): Promise<StaleHeads> {
    return listStaleHeads(this.staleIndexTable(), query);
  }

  /** Counts the heads of the stale index older than `olderThan`; reads nothing but the index. */
  async countStale(olderThan: string): Promise<StaleCount> {
    return countStaleHeads(this.staleIndexTable(), olderThan);
  }
}
