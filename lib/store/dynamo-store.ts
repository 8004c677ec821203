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
import {
  compareStale,
  oldestUnstartedAt,
  STALE_INDEX,
  STALE_NOT_TRACKED,
  staleShard,
} from '../core/stale.ts';
import { definitionFromItem, versionKeys, workflowVersionItem } from '../core/versions.ts';
import type { SessionState } from '../engine/session.ts';
import { ConflictError, NotAvailableError } from '../errors.ts';
import type { Workflow } from '../types.ts';
import { keys, MAX_TRANSACTION_ITEMS, TABLE } from './layout.ts';
import type {
  AppliedMark,
  EvaluationCommit,
  EventRecord,
  HeadRecord,
  InstanceRecord,
  InstanceUpdate,
  OutcomeCommit,
  SessionStore,
  StaleCount,
  StaleHead,
  StaleHeads,
  StaleQuery,
} from './port.ts';

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

type Item = Record<string, unknown>;

/** Attributes stored as JSON text: kwargs and results are the application's JSON, kept exactly. */
const JSON_ATTRIBUTES = ['kwargs', 'kwargsRefs', 'result', 'error', 'metadata'] as const;

function parseJson<T>(value: unknown): T | undefined {
  return typeof value === 'string' ? (JSON.parse(value) as T) : undefined;
}

/** The event record an `EVT#` item (or its stream image) holds. */
export function eventFromItem(item: Item): EventRecord {
  const { pk: _pk, sk: _sk, expiresAt: _exp, ...rest } = item;
  const out: Item = { ...rest };
  for (const key of ['kwargs', 'result'] as const) {
    if (typeof item[key] === 'string') out[key] = parseJson(item[key]);
  }
  return out as unknown as EventRecord;
}

/** The instance record an `INST#` item (or its stream image) holds. */
export function instanceFromItem(item: Item): InstanceRecord {
  const { pk: _pk, sk: _sk, expiresAt: _exp, ...rest } = item;
  const out: Item = { ...rest };
  for (const key of JSON_ATTRIBUTES) {
    if (typeof item[key] === 'string') out[key] = parseJson(item[key]);
  }
  return out as unknown as InstanceRecord;
}

function eventToItem(e: EventRecord, expiresAt: number): Item {
  const { seq: _seq, ...rest } = e;
  const item: Item = {
    ...rest,
    pk: keys.session(e.sessionId),
    sk: keys.event(e.eventId),
    expiresAt,
  };
  for (const key of ['kwargs', 'result'] as const) {
    if (key in e) item[key] = JSON.stringify((e as Item)[key]);
  }
  return item;
}

function instanceToItem(r: InstanceRecord, expiresAt: number): Item {
  const item: Item = { ...r, pk: keys.session(r.sessionId), sk: keys.instance(r.name), expiresAt };
  for (const key of JSON_ATTRIBUTES) {
    if (r[key] !== undefined) item[key] = JSON.stringify(r[key]);
  }
  return item;
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

  private key(sessionId: string, sk: string) {
    return { [TABLE.partitionKey]: keys.session(sessionId), [TABLE.sortKey]: sk };
  }

  async putEvent(event: EventRecord): Promise<{ duplicate: boolean }> {
    try {
      const out = await this.doc.send(
        new PutCommand({
          ...this.putNew(eventToItem(event, this.expiresAt())),
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
          Keys: unique.slice(i, i + 100).map((id) => this.key(sessionId, keys.event(id))),
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
        Key: this.key(sessionId, keys.head),
        ConsistentRead: true,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    this.record('getHead', 'read', res.ConsumedCapacity);
    if (!res.Item) return undefined;
    const applied = parseJson<AppliedMark>(res.Item.applied);
    return {
      sessionId,
      version: res.Item.v as number,
      state: JSON.parse(res.Item.state as string) as SessionState,
      ...(applied ? { applied } : {}),
    };
  }

  private updateItem(u: InstanceUpdate, extraCondition?: { expr: string; values: Item }) {
    const names: Record<string, string> = { '#status': 'status', '#lease': 'leaseUntil' };
    const values: Item = { ...(extraCondition?.values ?? {}) };
    const sets: string[] = [];
    for (const [key, value] of Object.entries(u.set)) {
      if (value === undefined) continue;
      names[`#${key}`] = key;
      values[`:${key}`] = (JSON_ATTRIBUTES as readonly string[]).includes(key)
        ? JSON.stringify(value)
        : value;
      sets.push(`#${key} = :${key}`);
    }
    const expect = u.expect.map((s, i) => {
      values[`:expect${i}`] = s;
      return `:expect${i}`;
    });
    const condition = `#status IN (${expect.join(', ')})${extraCondition ? ` AND ${extraCondition.expr}` : ''}`;
    return {
      TableName: this.tableName,
      Key: this.key(u.sessionId, keys.instance(u.name)),
      UpdateExpression: `SET ${sets.join(', ')} REMOVE #lease`,
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
    const headItem = {
      ...this.key(c.sessionId, keys.head),
      v: (c.expectedVersion ?? 0) + 1,
      workflow: c.state.workflow,
      state: JSON.stringify(c.state),
      applied: JSON.stringify(c.mark),
      expiresAt,
      ...this.staleIndexKeys(c.sessionId, c.state),
    };
    const headPut =
      c.expectedVersion === undefined
        ? this.putNew(headItem)
        : {
            TableName: this.tableName,
            Item: headItem,
            ConditionExpression: '#v = :v',
            ExpressionAttributeNames: { '#v': 'v' },
            ExpressionAttributeValues: { ':v': c.expectedVersion },
          };
    const others: NonNullable<TransactWriteCommandInput['TransactItems']> = [];
    for (const r of c.created) {
      others.push({ Put: this.putNew(instanceToItem(r, expiresAt)) });
    }
    for (const u of c.updated) others.push({ Update: this.updateItem(u) });
    for (const e of c.events) {
      others.push({ Put: this.putNew(eventToItem(e, expiresAt)) });
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
   * A stored workflow version's definition (a `WF#<name>` / `V#<version>` item). Read once per
   * process and version by the registry, which keeps what it loaded.
   */
  async getWorkflowVersion(name: string, version: string): Promise<Workflow | undefined> {
    const res = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: {
          [TABLE.partitionKey]: versionKeys.workflow(name),
          [TABLE.sortKey]: versionKeys.version(version),
        },
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
        Key: this.key(sessionId, keys.instance(name)),
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
          Key: this.key(sessionId, keys.instance(name)),
          UpdateExpression: 'SET #status = :running, #lease = :lease, #updated = :now',
          ConditionExpression:
            'attribute_exists(#sk) AND (#status = :scheduled OR (#status = :running AND #lease < :now))',
          ExpressionAttributeNames: {
            '#status': 'status',
            '#lease': 'leaseUntil',
            '#updated': 'updatedAt',
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
            ...c.events.map((e) => ({ Put: this.putNew(eventToItem(e, expiresAt)) })),
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
    return {
      [STALE_INDEX.partitionKey]: `${STALE_INDEX.shardPrefix}${staleShard(sessionId, this.staleIndex.shards)}`,
      [STALE_INDEX.sortKey]: oldest,
    };
  }

  private requireStaleIndex(): Required<StaleIndexOptions> {
    if (this.staleIndex === undefined) {
      throw new NotAvailableError(STALE_NOT_TRACKED);
    }
    return this.staleIndex;
  }

  /**
   * Pages through one shard of the stale index, oldest first, for heads older than `cutoff`;
   * `visit` returns false to stop. Keys only: the index projects nothing else.
   */
  private async queryStaleShard(
    operation: string,
    shard: number,
    cutoff: string,
    pageSize: number | undefined,
    visit: (item: Item) => boolean,
  ): Promise<void> {
    const index = this.requireStaleIndex();
    let start: Item | undefined;
    do {
      const res = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: index.name,
          KeyConditionExpression: '#shard = :shard AND #oldest < :cutoff',
          ExpressionAttributeNames: {
            '#shard': STALE_INDEX.partitionKey,
            '#oldest': STALE_INDEX.sortKey,
          },
          ExpressionAttributeValues: {
            ':shard': `${STALE_INDEX.shardPrefix}${shard}`,
            ':cutoff': cutoff,
          },
          ...(pageSize !== undefined ? { Limit: pageSize } : {}),
          ExclusiveStartKey: start,
          ReturnConsumedCapacity: 'TOTAL',
        }),
      );
      this.record(operation, 'read', res.ConsumedCapacity);
      for (const item of res.Items ?? []) if (!visit(item)) return;
      start = res.LastEvaluatedKey;
    } while (start);
  }

  /**
   * Heads whose oldest unstarted instance was created before `query.olderThan`: the oldest
   * `limit + 1` of each shard of the stale index, merged, then the heads themselves in one
   * eventually consistent batch read. A head that moved on since the index saw it (its old
   * instances started) is left out.
   */
  async listStale(query: StaleQuery): Promise<StaleHeads> {
    const index = this.requireStaleIndex();
    const found: Array<{ sessionId: string; oldestUnstartedAt: string }> = [];
    const sessionPrefix = keys.session('');
    for (let shard = 0; shard < index.shards; shard++) {
      let taken = 0;
      await this.queryStaleShard('listStale', shard, query.olderThan, query.limit + 1, (item) => {
        found.push({
          sessionId: String(item[TABLE.partitionKey]).slice(sessionPrefix.length),
          oldestUnstartedAt: String(item[STALE_INDEX.sortKey]),
        });
        taken += 1;
        return taken <= query.limit;
      });
    }
    found.sort(compareStale);
    const chosen = found.slice(0, query.limit);
    const heads = await this.batchGetHeads(chosen.map((f) => f.sessionId));
    const out: StaleHead[] = [];
    for (const { sessionId } of chosen) {
      const state = heads.get(sessionId);
      const oldest = state && oldestUnstartedAt(state);
      if (state && oldest !== undefined && oldest < query.olderThan) {
        out.push({ sessionId, oldestUnstartedAt: oldest, state });
      }
    }
    out.sort(compareStale);
    return { heads: out, truncated: found.length > query.limit };
  }

  /** Counts the heads of the stale index older than `olderThan`; reads nothing but the index. */
  async countStale(olderThan: string): Promise<StaleCount> {
    const index = this.requireStaleIndex();
    let count = 0;
    let oldest: string | undefined;
    for (let shard = 0; shard < index.shards; shard++) {
      await this.queryStaleShard('countStale', shard, olderThan, undefined, (item) => {
        const at = String(item[STALE_INDEX.sortKey]);
        if (oldest === undefined || at < oldest) oldest = at;
        count += 1;
        return true;
      });
    }
    return { count, ...(oldest !== undefined ? { oldestUnstartedAt: oldest } : {}) };
  }

  /** The states of these sessions' heads, eventually consistent (an inspection read). */
  private async batchGetHeads(sessionIds: readonly string[]): Promise<Map<string, SessionState>> {
    const out = new Map<string, SessionState>();
    const prefix = keys.session('');
    for (let i = 0; i < sessionIds.length; i += 100) {
      let request: Record<string, { Keys: Item[]; [option: string]: unknown }> | undefined = {
        [this.tableName]: {
          Keys: sessionIds.slice(i, i + 100).map((id) => this.key(id, keys.head)),
          ProjectionExpression: '#pk, #state',
          ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#state': 'state' },
        },
      };
      while (request && Object.keys(request).length > 0) {
        const res = await this.doc.send(
          new BatchGetCommand({ RequestItems: request, ReturnConsumedCapacity: 'TOTAL' }),
        );
        this.record('listStale', 'read', res.ConsumedCapacity);
        for (const item of res.Responses?.[this.tableName] ?? []) {
          const sessionId = String(item[TABLE.partitionKey]).slice(prefix.length);
          out.set(sessionId, JSON.parse(item.state as string) as SessionState);
        }
        request = res.UnprocessedKeys as typeof request;
      }
    }
    return out;
  }
}
