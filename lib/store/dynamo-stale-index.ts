/**
 * The DynamoDB store's stale-index reads: the shards of the sparse index of heads with
 * unstarted instances, merged into `listStale` and `countStale` answers.
 * May import: engine, base (lib/types.ts, lib/errors.ts), store, @aws-sdk.
 *
 * @module
 */
import type { ConsumedCapacity } from '@aws-sdk/client-dynamodb';
import { BatchGetCommand, type DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type { SessionState } from '../engine/state.ts';
import {
  headAttributes,
  headStateFromItem,
  type Item,
  keys,
  STALE_INDEX,
  sessionIdOfItem,
  sessionItemKey,
  staleShardKey,
  TABLE,
} from './layout.ts';
import type { StaleCount, StaleHead, StaleHeads, StaleQuery } from './port.ts';
import { compareStale, oldestUnstartedAt } from './stale-heads.ts';

/** What the stale-index reads need of the store: its client, table, index and meter. */
export interface StaleIndexTable {
  readonly doc: DynamoDBDocumentClient;
  readonly tableName: string;
  /** The index's name and how many shards heads are spread over. */
  readonly index: { readonly name: string; readonly shards: number };
  /** Books a read's consumed capacity under `operation`. */
  readonly recordRead: (
    operation: string,
    consumed: ConsumedCapacity | ConsumedCapacity[] | undefined,
  ) => void;
}

/**
 * Pages through one shard of the stale index, oldest first, for heads older than `cutoff`;
 * `visit` returns false to stop. Keys only: the index projects nothing else.
 */
async function queryStaleShard(
  table: StaleIndexTable,
  operation: string,
  shard: number,
  cutoff: string,
  pageSize: number | undefined,
  visit: (item: Item) => boolean,
): Promise<void> {
  let start: Item | undefined;
  do {
    const res = await table.doc.send(
      new QueryCommand({
        TableName: table.tableName,
        IndexName: table.index.name,
        KeyConditionExpression: '#shard = :shard AND #oldest < :cutoff',
        ExpressionAttributeNames: {
          '#shard': STALE_INDEX.partitionKey,
          '#oldest': STALE_INDEX.sortKey,
        },
        ExpressionAttributeValues: {
          ':shard': staleShardKey(shard),
          ':cutoff': cutoff,
        },
        ...(pageSize !== undefined ? { Limit: pageSize } : {}),
        ExclusiveStartKey: start,
        ReturnConsumedCapacity: 'TOTAL',
      }),
    );
    table.recordRead(operation, res.ConsumedCapacity);
    for (const item of res.Items ?? []) if (!visit(item)) return;
    start = res.LastEvaluatedKey;
  } while (start);
}

/**
 * Heads whose oldest unstarted instance was created before `query.olderThan`: the oldest
 * `limit + 1` of each shard of the stale index, merged, then the heads themselves in one
 * eventually consistent batch read. A head that moved on since the index saw it (its old
 * instances started) is left out.
 *
 * @example
 * const { heads, truncated } = await listStaleHeads(table, { olderThan: cutoff, limit: 100 });
 */
export async function listStaleHeads(
  table: StaleIndexTable,
  query: StaleQuery,
): Promise<StaleHeads> {
  const found: Array<{ sessionId: string; oldestUnstartedAt: string }> = [];
  for (let shard = 0; shard < table.index.shards; shard++) {
    let taken = 0;
    await queryStaleShard(table, 'listStale', shard, query.olderThan, query.limit + 1, (item) => {
      found.push({
        sessionId: sessionIdOfItem(item),
        oldestUnstartedAt: String(item[STALE_INDEX.sortKey]),
      });
      taken += 1;
      return taken <= query.limit;
    });
  }
  found.sort(compareStale);
  const chosen = found.slice(0, query.limit);
  const heads = await batchGetHeadStates(
    table,
    chosen.map((f) => f.sessionId),
  );
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

/**
 * Counts the heads of the stale index older than `olderThan`; reads nothing but the index.
 *
 * @example
 * const { count, oldestUnstartedAt } = await countStaleHeads(table, cutoff);
 */
export async function countStaleHeads(
  table: StaleIndexTable,
  olderThan: string,
): Promise<StaleCount> {
  let count = 0;
  let oldest: string | undefined;
  for (let shard = 0; shard < table.index.shards; shard++) {
    await queryStaleShard(table, 'countStale', shard, olderThan, undefined, (item) => {
      const at = String(item[STALE_INDEX.sortKey]);
      if (oldest === undefined || at < oldest) oldest = at;
      count += 1;
      return true;
    });
  }
  return { count, ...(oldest !== undefined ? { oldestUnstartedAt: oldest } : {}) };
}

/** The states of these sessions' heads, eventually consistent (an inspection read). */
async function batchGetHeadStates(
  table: StaleIndexTable,
  sessionIds: readonly string[],
): Promise<Map<string, SessionState>> {
  const out = new Map<string, SessionState>();
  for (let i = 0; i < sessionIds.length; i += 100) {
    let request: Record<string, { Keys: Item[]; [option: string]: unknown }> | undefined = {
      [table.tableName]: {
        Keys: sessionIds.slice(i, i + 100).map((id) => sessionItemKey(id, keys.head)),
        ProjectionExpression: '#pk, #state',
        ExpressionAttributeNames: { '#pk': TABLE.partitionKey, '#state': headAttributes.state },
      },
    };
    while (request && Object.keys(request).length > 0) {
      const res = await table.doc.send(
        new BatchGetCommand({ RequestItems: request, ReturnConsumedCapacity: 'TOTAL' }),
      );
      table.recordRead('listStale', res.ConsumedCapacity);
      for (const item of res.Responses?.[table.tableName] ?? []) {
        out.set(sessionIdOfItem(item), headStateFromItem(item));
      }
      request = res.UnprocessedKeys as typeof request;
    }
  }
  return out;
}
