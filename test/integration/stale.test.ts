/**
 * Stale sessions on DynamoDB Local: the sparse stale index as the DynamoDB store writes it from
 * the real ingest and evaluator flows (a head enters with its first unstarted instance, moves
 * with its oldest, leaves with its last), `listStale` and `countStale` against it, the same
 * answers as the memory store, a default store that writes no index key at all, what the index
 * costs in write units, provisioning the index, and the deployed path: the runtime built from
 * the environment, the scheduled function and the SDK's table mode.
 */

import { randomUUID } from 'node:crypto';
import {
  CreateTableCommand,
  DescribeTableCommand,
  DynamoDBClient,
  waitUntilTableExists,
} from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
} from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runtimeFromEnv, settingsFromEnv } from '../../lib/adapters/aws-lambda/environment.ts';
import { createStaleMonitorHandler } from '../../lib/adapters/aws-lambda/stale.ts';
import { ENV } from '../../lib/adapters/aws-lambda/variables.ts';
import { evaluateSession } from '../../lib/core/evaluator.ts';
import { fireEvent } from '../../lib/core/ingest.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import { readStale } from '../../lib/core/stale.ts';
import {
  defineWorkflow,
  NotAvailableError,
  TriggersClient,
  TriggersError,
} from '../../lib/index.ts';
import {
  localAwsConfig,
  type RunningEmulator,
  startDynamoDbLocal,
} from '../../lib/local/emulators.ts';
import { createSessionTable } from '../../lib/local/provision.ts';
import { type CapacityEntry, DynamoStore } from '../../lib/store/dynamo-store.ts';
import { keys, STALE_INDEX, staleShard } from '../../lib/store/layout.ts';
import { MemoryStore } from '../../lib/store/memory-store.ts';
import type { DeliveredEvent, SessionStore } from '../../lib/store/port.ts';
import { ManualClock, rejectionOf } from '../runtime/fixtures.ts';

const HOUR = 3600;
// Far in the past, so the SDK's table mode (on the system clock) finds these sessions stale too.
const T0 = '2020-01-01T00:00:00.000Z';
const at = (hours: number) => new Date(Date.parse(T0) + hours * HOUR * 1000).toISOString();

const waits = defineWorkflow('waits', {
  t_ab: { after: ['a', 'b'], run: 'h' },
  t_page: { after: ['ready'], andEvery: 'page', run: 'h' },
});
const registry = new WorkflowRegistry([waits]);

let client: DynamoDBClient;
let doc: DynamoDBDocumentClient;

beforeAll(() => {
  const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT;
  if (endpoint === undefined) throw new Error('TRIGGERS_DYNAMODB_ENDPOINT is not set');
  client = new DynamoDBClient(localAwsConfig(endpoint));
  doc = DynamoDBDocumentClient.from(client);
});

async function table(opts: { staleIndex?: boolean } = {}): Promise<string> {
  const name = `stale-${randomUUID()}`;
  await createSessionTable(client, name, opts);
  return name;
}

/**
 * The ingest and evaluator flows over a store, on a clock the test moves: each fire is applied
 * at once, with the session's events delivered in accept order as the stream would.
 */
function flows(store: SessionStore) {
  const clock = new ManualClock(T0);
  const deps = { store, registry, clock, log: () => {} };
  return {
    clock,
    /** Moves the clock to `hours` after T0. */
    at(hours: number) {
      clock.advance((Date.parse(at(hours)) - clock.now().getTime()) / 1000);
    },
    async fire(sessionId: string, trigger: string) {
      await fireEvent(deps, { sessionId, trigger });
      const events = await store.listEvents(sessionId);
      const delivered: DeliveredEvent[] = events.map((e, i) => ({
        ...e,
        position: { stream: 'test-stream', sequence: String(i + 1) },
      }));
      await evaluateSession(deps, sessionId, delivered);
    },
  };
}

async function rawHead(tableName: string, sessionId: string) {
  const res = await doc.send(
    new GetCommand({
      TableName: tableName,
      Key: { pk: keys.session(sessionId), sk: keys.head },
      ConsistentRead: true,
    }),
  );
  return res.Item;
}

/** The session ids the stale index holds in a session's shard (read straight from the index). */
async function indexed(tableName: string, sessionId: string): Promise<string[]> {
  const res = await doc.send(
    new QueryCommand({
      TableName: tableName,
      IndexName: STALE_INDEX.name,
      KeyConditionExpression: '#k = :k',
      ExpressionAttributeNames: { '#k': STALE_INDEX.partitionKey },
      ExpressionAttributeValues: {
        ':k': `${STALE_INDEX.shardPrefix}${staleShard(sessionId, STALE_INDEX.shards)}`,
      },
    }),
  );
  return (res.Items ?? []).map((i) => String(i.pk).slice(keys.session('').length));
}

/** Sessions each fired at its hour, out of order: five that will be stale, one that is young. */
const SCHEDULE = [
  [3, 'sh-d'],
  [0, 'sh-a'],
  [4, 'sh-e'],
  [1, 'sh-b'],
  [2, 'sh-c'],
  [30, 'sh-young'],
] as const;

async function fireSchedule(f: ReturnType<typeof flows>): Promise<void> {
  for (const [hours, id] of SCHEDULE) {
    f.at(hours);
    await f.fire(id, 'b');
  }
}

describe('a DynamoStore with the stale index', () => {
  let tableName: string;
  let store: DynamoStore;

  beforeAll(async () => {
    tableName = await table({ staleIndex: true });
    store = new DynamoStore({ tableName, client, staleIndex: true });
  });

  it('keys a head with an unstarted instance by its shard and its oldest instance', async () => {
    const f = flows(store);
    await f.fire('enters', 'a');

    const head = await rawHead(tableName, 'enters');

    expect(head?.[STALE_INDEX.partitionKey]).toBe(
      `${STALE_INDEX.shardPrefix}${staleShard('enters', STALE_INDEX.shards)}`,
    );
    expect(head?.[STALE_INDEX.sortKey]).toBe(T0);
    await expect.poll(() => indexed(tableName, 'enters')).toContain('enters');
  });

  it('takes a head out of the index once all its instances started', async () => {
    const f = flows(store);
    await f.fire('leaves', 'a');
    await expect.poll(() => indexed(tableName, 'leaves')).toContain('leaves');
    f.at(1);

    await f.fire('leaves', 'b');

    const head = await rawHead(tableName, 'leaves');
    expect(head).toBeDefined();
    expect(head).not.toHaveProperty(STALE_INDEX.partitionKey);
    expect(head).not.toHaveProperty(STALE_INDEX.sortKey);
    await expect.poll(() => indexed(tableName, 'leaves')).not.toContain('leaves');
    const found = await store.listStale({ olderThan: at(100), limit: 1000 });
    expect(found.heads.map((h) => h.sessionId)).not.toContain('leaves');
  });

  it("moves a head's sort key to its next oldest instance when the oldest starts", async () => {
    const f = flows(store);
    await f.fire('moves', 'a');
    f.at(5);
    await f.fire('moves', 'page');
    f.at(6);

    await f.fire('moves', 'b');

    expect((await rawHead(tableName, 'moves'))?.[STALE_INDEX.sortKey]).toBe(at(5));
  });

  it('leaves out a head whose state no longer has what the index saw', async () => {
    const sessionId = `moved-on-${randomUUID()}`;
    const state = { workflow: 'waits', fired: {}, next: {}, unstarted: {} };
    // A head the index still lists (as an index that lags would) whose instances all started.
    await doc.send(
      new PutCommand({
        TableName: tableName,
        Item: {
          pk: keys.session(sessionId),
          sk: keys.head,
          v: 3,
          workflow: 'waits',
          state: JSON.stringify(state),
          [STALE_INDEX.partitionKey]: `${STALE_INDEX.shardPrefix}0`,
          [STALE_INDEX.sortKey]: '2000-01-01T00:00:00.000Z',
        },
      }),
    );

    const found = await store.listStale({ olderThan: at(100), limit: 1000 });

    expect(found.heads.map((h) => h.sessionId)).not.toContain(sessionId);
  });
});

describe('listing and counting across the shards', () => {
  let tableName: string;
  let store: DynamoStore;

  beforeAll(async () => {
    tableName = await table({ staleIndex: true });
    store = new DynamoStore({ tableName, client, staleIndex: true });
    const f = flows(store);
    await fireSchedule(f);
  });

  it('puts the sessions in more than one shard', () => {
    const ids = ['sh-a', 'sh-b', 'sh-c', 'sh-d', 'sh-e'];
    expect(new Set(ids.map((id) => staleShard(id, STALE_INDEX.shards))).size).toBeGreaterThan(1);
  });

  it('lists the oldest first, merged over the shards, and says when the limit cut the list', async () => {
    const three = await store.listStale({ olderThan: at(24), limit: 3 });
    const all = await store.listStale({ olderThan: at(24), limit: 10 });

    expect(three.heads.map((h) => [h.sessionId, h.oldestUnstartedAt])).toEqual([
      ['sh-a', at(0)],
      ['sh-b', at(1)],
      ['sh-c', at(2)],
    ]);
    expect(three.truncated).toBe(true);
    expect(all.heads.map((h) => h.sessionId)).toEqual(['sh-a', 'sh-b', 'sh-c', 'sh-d', 'sh-e']);
    expect(all.truncated).toBe(false);
  });

  it('counts from the index alone, with the oldest', async () => {
    const reads: CapacityEntry[] = [];
    const metered = new DynamoStore({
      tableName,
      client,
      staleIndex: true,
      meter: (e) => reads.push(e),
    });

    expect(await metered.countStale(at(24))).toEqual({ count: 5, oldestUnstartedAt: at(0) });
    expect(await metered.countStale(at(0))).toEqual({ count: 0 });
    expect(new Set(reads.map((r) => r.operation))).toEqual(new Set(['countStale']));
  });

  it('gives the same answers as the memory store for the same flows', async () => {
    const memory = new MemoryStore();
    const f = flows(memory);
    await fireSchedule(f);
    const clock = new ManualClock(at(30));

    for (const input of [{ olderThan: '1d' }, { olderThan: '28h', limit: 2 }]) {
      expect(await readStale({ store, registry, clock }, input)).toEqual(
        await readStale({ store: memory, registry, clock }, input),
      );
    }
    expect(await store.countStale(at(26))).toEqual(await memory.countStale(at(26)));
  });
});

describe('a DynamoStore without the stale index (the default)', () => {
  it('writes no index key on a head with unstarted instances', async () => {
    const tableName = await table();
    const f = flows(new DynamoStore({ tableName, client }));

    await f.fire('plain', 'a');

    const head = await rawHead(tableName, 'plain');
    expect(Object.keys(head ?? {}).sort()).toEqual(
      ['applied', 'expiresAt', 'pk', 'sk', 'state', 'v', 'workflow'].sort(),
    );
    expect(JSON.parse(head?.state as string).unstarted.t_ab).toHaveLength(1);
  });

  it('refuses to list or count stale sessions', async () => {
    const store = new DynamoStore({ tableName: await table(), client });
    expect(await rejectionOf(store.listStale({ olderThan: T0, limit: 1 }))).toBeInstanceOf(
      NotAvailableError,
    );
    expect(await rejectionOf(store.countStale(T0))).toBeInstanceOf(NotAvailableError);
  });

  /** The write units of each evaluation commit of a simple session (`a`, then `b`). */
  const commitWrites = async (opts: { indexedTable: boolean; staleIndex: boolean }) => {
    const entries: CapacityEntry[] = [];
    const store = new DynamoStore({
      tableName: await table({ staleIndex: opts.indexedTable }),
      client,
      staleIndex: opts.staleIndex,
      meter: (e) => entries.push(e),
    });
    const f = flows(store);
    await f.fire('cost', 'a');
    f.at(1);
    await f.fire('cost', 'b');
    return entries.filter((e) => e.operation === 'commitEvaluation').map((e) => e.writeUnits);
  };

  it('costs nothing when off, even on a table that has the index', async () => {
    const plain = await commitWrites({ indexedTable: false, staleIndex: false });
    const offOnIndexedTable = await commitWrites({ indexedTable: true, staleIndex: false });

    expect(offOnIndexedTable).toEqual(plain);
  });

  it('costs one index write when a head enters the index and one when it leaves, when on', async () => {
    const plain = await commitWrites({ indexedTable: false, staleIndex: false });
    const on = await commitWrites({ indexedTable: true, staleIndex: true });

    // `a` creates the unstarted instance: a single put, one more unit for the index entry.
    expect(on[0]).toBe((plain[0] as number) + 1);
    // `b` schedules it in a transaction, which also deletes the index entry. DynamoDB Local
    // books that delete as 8 units; AWS's formula for a transactional index write gives 2.
    expect(on[1]).toBeGreaterThan(plain[1] as number);
  });
});

describe('provisioning the stale index', () => {
  // A DynamoDB Local of its own: adding an index to an existing table backfills it, which the
  // suite's shared, busy DynamoDB Local can keep waiting for minutes.
  let local: RunningEmulator;
  let own: DynamoDBClient;
  beforeAll(async () => {
    local = await startDynamoDbLocal();
    own = new DynamoDBClient(localAwsConfig(local.endpoint));
  }, 120_000);
  afterAll(async () => {
    await local?.stop();
  });
  const table = async (opts: { staleIndex?: boolean } = {}): Promise<string> => {
    const name = `stale-${randomUUID()}`;
    await createSessionTable(own, name, opts);
    return name;
  };
  const indexOf = async (tableName: string) => {
    const { Table } = await own.send(new DescribeTableCommand({ TableName: tableName }));
    return Table?.GlobalSecondaryIndexes?.find((i) => i.IndexName === STALE_INDEX.name);
  };

  it('creates a keys-only index on the shard and the oldest instance', async () => {
    const index = await indexOf(await table({ staleIndex: true }));

    expect(index?.KeySchema).toEqual([
      { AttributeName: STALE_INDEX.partitionKey, KeyType: 'HASH' },
      { AttributeName: STALE_INDEX.sortKey, KeyType: 'RANGE' },
    ]);
    expect(index?.Projection?.ProjectionType).toBe('KEYS_ONLY');
  });

  it('adds the index to an existing table without it, and keeps it on the next call', async () => {
    const tableName = await table();
    expect(await indexOf(tableName)).toBeUndefined();

    await createSessionTable(own, tableName, { staleIndex: true });
    await createSessionTable(own, tableName, { staleIndex: true });

    expect((await indexOf(tableName))?.IndexStatus).toBe('ACTIVE');
  });

  it('refuses a table whose index of that name has other keys', async () => {
    const tableName = `stale-${randomUUID()}`;
    await own.send(
      new CreateTableCommand({
        TableName: tableName,
        AttributeDefinitions: [
          { AttributeName: 'pk', AttributeType: 'S' },
          { AttributeName: 'sk', AttributeType: 'S' },
          { AttributeName: 'other', AttributeType: 'S' },
        ],
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        BillingMode: 'PAY_PER_REQUEST',
        StreamSpecification: { StreamEnabled: true, StreamViewType: 'NEW_AND_OLD_IMAGES' },
        GlobalSecondaryIndexes: [
          {
            IndexName: STALE_INDEX.name,
            KeySchema: [{ AttributeName: 'other', KeyType: 'HASH' }],
            Projection: { ProjectionType: 'KEYS_ONLY' },
          },
        ],
      }),
    );
    await waitUntilTableExists({ client: own, maxWaitTime: 60 }, { TableName: tableName });

    const err = await rejectionOf(createSessionTable(own, tableName, { staleIndex: true }));

    expect(err).toBeInstanceOf(TriggersError);
    expect((err as TriggersError).code).toBe('TABLE_MISMATCH');
  });
});

describe('deployed: the runtime from the environment, the scheduled function, the SDK', () => {
  let tableName: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    tableName = await table({ staleIndex: true });
    env = {
      TRIGGERS_TABLE_NAME: tableName,
      [ENV.staleIndex]: STALE_INDEX.name,
      [ENV.staleAfterSeconds]: String(24 * HOUR),
    };
  });

  it('keeps heads in the index when TRIGGERS_STALE_INDEX is set, and the function counts them', async () => {
    const clock = new ManualClock(T0);
    const runtime = runtimeFromEnv({ workflows: [waits] }, env, { dynamodb: client, clock });
    const f = flows(runtime.store);
    await f.fire('deployed', 'a');
    expect((await rawHead(tableName, 'deployed'))?.[STALE_INDEX.sortKey]).toBe(T0);

    clock.advance(25 * HOUR);
    const lines: string[] = [];
    const handler = createStaleMonitorHandler(runtime, settingsFromEnv(env), (l) => lines.push(l));
    await expect.poll(async () => (await handler()).count).toBe(1);

    expect(JSON.parse(lines.at(-1) as string)).toMatchObject({
      TableName: tableName,
      StaleSessions: 1,
      OldestStaleAgeSeconds: 25 * HOUR,
    });
  });

  it('lets the SDK read them straight from the table', async () => {
    const f = flows(new DynamoStore({ tableName, client, staleIndex: true }));
    await f.fire('sdk', 'page');
    const sdk = new TriggersClient({ tableName, client, workflows: [waits], staleIndex: true });

    const answer = await sdk.getStale({ olderThan: '1h' });

    const sdkSession = answer.sessions.find((s) => s.sessionId === 'sdk');
    expect(sdkSession).toEqual({
      sessionId: 'sdk',
      workflow: 'waits',
      oldestUnstartedAt: T0,
      waiting: [{ instance: 't_page#0', task: 't_page', waitingFor: ['ready'], createdAt: T0 }],
    });
    const without = new TriggersClient({ tableName, client, workflows: [waits] });
    expect(await rejectionOf(without.getStale())).toBeInstanceOf(NotAvailableError);
  });
});
