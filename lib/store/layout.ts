/**
 * The session table's layout, in one place: key names and prefixes, attribute names, the stale
 * index, and the items of heads, events, instances and workflow versions.
 * May import: engine, base (lib/types.ts), store (the port's records, the version hash).
 *
 * @module
 */
import type { SessionState } from '../engine/state.ts';
import type { Workflow } from '../types.ts';
import type {
  AppliedMark,
  EventRecord,
  HeadRecord,
  InstanceRecord,
  LifecycleNote,
} from './port.ts';
import { canonicalJson, workflowVersion } from './workflow-version.ts';

/** A table item, as the document client reads and writes it. */
export type Item = Record<string, unknown>;

/**
 * The single table's key schema and settings.
 *
 * @example
 * item[TABLE.sortKey]; // the item's sort key
 */
export const TABLE = {
  partitionKey: 'pk',
  sortKey: 'sk',
  /** Epoch seconds after which DynamoDB may delete an item. */
  ttlAttribute: 'expiresAt',
  streamView: 'NEW_AND_OLD_IMAGES',
  billing: 'PAY_PER_REQUEST',
} as const;

/**
 * Item keys: one partition per session, one sort key per head, event and instance.
 *
 * @example
 * keys.session('s1'); // 'S#s1'
 * keys.event('e1'); // 'EVT#e1'
 */
export const keys = {
  session: (sessionId: string): string => `S#${sessionId}`,
  head: 'HEAD',
  eventPrefix: 'EVT#',
  event: (eventId: string): string => `EVT#${eventId}`,
  instancePrefix: 'INST#',
  instance: (name: string): string => `INST#${name}`,
} as const;

/**
 * The largest number of items in one `TransactWriteItems`.
 *
 * @example
 * if (items.length > MAX_TRANSACTION_ITEMS) throw new ValidationError('too many items');
 */
export const MAX_TRANSACTION_ITEMS = 100;

/**
 * The attributes of a session head item, besides its keys and TTL.
 *
 * @example
 * { ConditionExpression: '#v = :v', ExpressionAttributeNames: { '#v': headAttributes.version } }
 */
export const headAttributes = {
  /** The head version, which guards every evaluation commit. */
  version: 'v',
  workflow: 'workflow',
  /** The engine state, as JSON text. */
  state: 'state',
  /** The applied mark, as JSON text. */
  applied: 'applied',
  /**
   * What the commit's evaluation did, for the lifecycle publisher (`LifecycleNote[]` as JSON
   * text): written only when lifecycle events are on and there is something to note.
   */
  notes: 'notes',
} as const;

/**
 * The instance attributes that conditions and updates name: an instance item holds the
 * record's fields under their own names.
 *
 * @example
 * { ConditionExpression: '#status = :scheduled', ExpressionAttributeNames: { '#status': instanceAttributes.status } }
 */
export const instanceAttributes = {
  status: 'status',
  leaseUntil: 'leaseUntil',
  updatedAt: 'updatedAt',
} as const satisfies Record<string, keyof InstanceRecord>;

/** Instance attributes stored as JSON text: the application's JSON, kept exactly. */
const INSTANCE_JSON_ATTRIBUTES = ['kwargs', 'kwargsRefs', 'result', 'error', 'metadata'] as const;

/** Event attributes stored as JSON text. */
const EVENT_JSON_ATTRIBUTES = ['kwargs', 'result', 'metadata', 'cascadeKwargs', 'tasks'] as const;

function parseJson<T>(value: unknown): T | undefined {
  return typeof value === 'string' ? (JSON.parse(value) as T) : undefined;
}

/**
 * The key of an item of a session.
 *
 * @example
 * sessionItemKey('s1', keys.head); // { pk: 'S#s1', sk: 'HEAD' }
 */
export function sessionItemKey(sessionId: string, sortKey: string): Item {
  return { [TABLE.partitionKey]: keys.session(sessionId), [TABLE.sortKey]: sortKey };
}

/**
 * The session id of an item of a session (or of a stale-index entry), from its partition key.
 *
 * @example
 * sessionIdOfItem({ pk: 'S#s1', sk: 'HEAD' }); // 's1'
 */
export function sessionIdOfItem(item: Item): string {
  return String(item[TABLE.partitionKey]).slice(keys.session('').length);
}

/** The item without its keys and TTL: what is left is the record. */
function recordAttributes(item: Item): Item {
  const out: Item = { ...item };
  delete out[TABLE.partitionKey];
  delete out[TABLE.sortKey];
  delete out[TABLE.ttlAttribute];
  return out;
}

/** An item of a session: the record, its keys and TTL, the attributes `json` names as JSON text. */
function sessionItem(
  record: Item,
  key: Item,
  expiresAt: number,
  json: readonly string[],
  stored: (attribute: string) => boolean,
): Item {
  const item: Item = { ...record, ...key, [TABLE.ttlAttribute]: expiresAt };
  for (const attribute of json) {
    if (stored(attribute)) item[attribute] = JSON.stringify(record[attribute]);
  }
  return item;
}

/** The record an item of a session holds: its keys and TTL dropped, `json` attributes parsed. */
function recordOfItem(item: Item, json: readonly string[]): Item {
  const out = recordAttributes(item);
  for (const attribute of json) {
    if (typeof item[attribute] === 'string') out[attribute] = parseJson(item[attribute]);
  }
  return out;
}

/**
 * The item of an event: the record, its keys and TTL; kwargs and results as JSON text. The
 * in-memory accept number (`seq`) is not stored.
 *
 * @example
 * eventItem(event, expiresAt); // { pk: 'S#s1', sk: 'EVT#e1', kwargs: '{…}', expiresAt, … }
 */
export function eventItem(event: EventRecord, expiresAt: number): Item {
  const { seq: _seq, ...rest } = event;
  const key = sessionItemKey(event.sessionId, keys.event(event.eventId));
  return sessionItem(rest, key, expiresAt, EVENT_JSON_ATTRIBUTES, (a) => a in rest);
}

/**
 * The event record an event item (or its stream image) holds.
 *
 * @example
 * eventFromItem(unmarshall(record.dynamodb.NewImage)); // { sessionId, eventId, kind, … }
 */
export function eventFromItem(item: Item): EventRecord {
  return recordOfItem(item, EVENT_JSON_ATTRIBUTES) as unknown as EventRecord;
}

/**
 * The item of an instance: the record, its keys and TTL; kwargs, results, errors and metadata
 * as JSON text.
 *
 * @example
 * instanceItem(record, expiresAt); // { pk: 'S#s1', sk: 'INST#t_a#0', status: 'scheduled', … }
 */
export function instanceItem(record: InstanceRecord, expiresAt: number): Item {
  const fields = record as unknown as Item;
  const key = sessionItemKey(record.sessionId, keys.instance(record.name));
  return sessionItem(
    fields,
    key,
    expiresAt,
    INSTANCE_JSON_ATTRIBUTES,
    (a) => fields[a] !== undefined,
  );
}

/**
 * The instance record an instance item (or its stream image) holds.
 *
 * @example
 * instanceFromItem(unmarshall(record.dynamodb.NewImage)).status; // 'scheduled'
 */
export function instanceFromItem(item: Item): InstanceRecord {
  return recordOfItem(item, INSTANCE_JSON_ATTRIBUTES) as unknown as InstanceRecord;
}

/**
 * The stored value of an instance attribute an update sets: JSON text for the attributes kept
 * as JSON, the value itself for the others.
 *
 * @example
 * instanceAttributeValue('result', { ok: true }); // '{"ok":true}'
 */
export function instanceAttributeValue(attribute: string, value: unknown): unknown {
  return (INSTANCE_JSON_ATTRIBUTES as readonly string[]).includes(attribute)
    ? JSON.stringify(value)
    : value;
}

/**
 * The item of a session head: its version, workflow, state and applied mark, its TTL, and the
 * stale index's keys when it is in the index.
 *
 * @example
 * headItem({ sessionId: 's1', version: 1, state, mark }, expiresAt); // { pk: 'S#s1', sk: 'HEAD', v: 1, … }
 */
export function headItem(
  head: {
    sessionId: string;
    version: number;
    state: SessionState;
    mark: AppliedMark;
    notes?: readonly LifecycleNote[];
  },
  expiresAt: number,
  staleKeys: Item = {},
): Item {
  return {
    ...sessionItemKey(head.sessionId, keys.head),
    [headAttributes.version]: head.version,
    [headAttributes.workflow]: head.state.workflow,
    [headAttributes.state]: JSON.stringify(head.state),
    [headAttributes.applied]: JSON.stringify(head.mark),
    ...(head.notes !== undefined && head.notes.length > 0
      ? { [headAttributes.notes]: JSON.stringify(head.notes) }
      : {}),
    [TABLE.ttlAttribute]: expiresAt,
    ...staleKeys,
  };
}

/**
 * The engine state a head item holds (all a projection of the state attribute needs).
 *
 * @example
 * headStateFromItem(item).workflow; // 'survey'
 */
export function headStateFromItem(item: Item): SessionState {
  return JSON.parse(item[headAttributes.state] as string) as SessionState;
}

/**
 * The head record a head item holds.
 *
 * @example
 * headFromItem('s1', item); // { sessionId: 's1', version: 3, state, applied }
 */
export function headFromItem(sessionId: string, item: Item): HeadRecord {
  const applied = parseJson<AppliedMark>(item[headAttributes.applied]);
  return {
    sessionId,
    version: item[headAttributes.version] as number,
    state: headStateFromItem(item),
    ...(applied ? { applied } : {}),
  };
}

/**
 * The sparse index of session heads with unstarted instances. Only heads that have some carry
 * its keys: the partition key is one of `shards` fixed values, picked by a hash of the session
 * id (so no single index partition takes every write), the sort key the `createdAt` of the
 * head's oldest unstarted instance. The index projects keys only.
 *
 * @example
 * { IndexName: STALE_INDEX.name, KeyConditionExpression: '#shard = :shard', ExpressionAttributeNames: { '#shard': STALE_INDEX.partitionKey } }
 */
export const STALE_INDEX = {
  name: 'stale',
  partitionKey: 'staleKey',
  sortKey: 'oldestUnstartedAt',
  shardPrefix: 'UNSTARTED#',
  /**
   * Fixed, not an option: heads written under one shard count would be missed by a reader that
   * queries fewer shards.
   */
  shards: 8,
} as const;

/**
 * The stale-index shard of a session: FNV-1a of its id, modulo `shards`. Stable across
 * processes and versions, since heads already written keep the shard they got.
 *
 * @example
 * staleShard('survey-42', 8); // a number in 0..7, always the same one
 */
export function staleShard(sessionId: string, shards: number): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < sessionId.length; i++) {
    hash ^= sessionId.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash % shards;
}

/**
 * The stale index's partition-key value of a shard.
 *
 * @example
 * staleShardKey(3); // 'UNSTARTED#3'
 */
export function staleShardKey(shard: number): string {
  return `${STALE_INDEX.shardPrefix}${shard}`;
}

/**
 * The stale index's keys of a head: its shard and the `createdAt` of its oldest unstarted
 * instance.
 *
 * @example
 * staleIndexKeys('s1', '2026-01-01T00:00:00.000Z', 8); // { staleKey: 'UNSTARTED#…', oldestUnstartedAt: '2026-…' }
 */
export function staleIndexKeys(sessionId: string, oldestUnstartedAt: string, shards: number): Item {
  return {
    [STALE_INDEX.partitionKey]: staleShardKey(staleShard(sessionId, shards)),
    [STALE_INDEX.sortKey]: oldestUnstartedAt,
  };
}

/**
 * Keys of the version items: one partition per workflow, one item per version.
 *
 * @example
 * versionKeys.workflow('survey'); // 'WF#survey'
 */
export const versionKeys = {
  workflow: (name: string): string => `WF#${name}`,
  version: (version: string): string => `V#${version}`,
} as const;

/**
 * The item that holds a version's definition, every attribute a string: the table keys, the
 * workflow's name, the version and the definition as canonical JSON. It has no TTL attribute:
 * a version item is never deleted, since a session may be pinned to it for as long as it lives.
 *
 * @example
 * workflowVersionItem(survey); // { pk: 'WF#survey', sk: 'V#…', workflow: 'survey', version: '…', definition: '{…}' }
 */
export function workflowVersionItem(workflow: Workflow): Record<string, string> {
  const version = workflowVersion(workflow);
  return {
    ...workflowVersionKey(workflow.name, version),
    workflow: workflow.name,
    version,
    definition: canonicalJson(workflow),
  };
}

/**
 * The key of the item of one version of a workflow.
 *
 * @example
 * workflowVersionKey('survey', 'c1f0…'); // { pk: 'WF#survey', sk: 'V#c1f0…' }
 */
export function workflowVersionKey(name: string, version: string): Record<string, string> {
  return {
    [TABLE.partitionKey]: versionKeys.workflow(name),
    [TABLE.sortKey]: versionKeys.version(version),
  };
}

/**
 * The `PutItem` request (low-level attribute values) that stores a version unless it is
 * stored: what the CDK construct's custom resource sends at deploy time.
 *
 * @example
 * await dynamodb.send(new PutItemCommand(workflowVersionPutItem('triggers', survey)));
 */
export function workflowVersionPutItem(
  tableName: string,
  workflow: Workflow,
): {
  TableName: string;
  Item: Record<string, { S: string }>;
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
} {
  return {
    TableName: tableName,
    Item: Object.fromEntries(
      Object.entries(workflowVersionItem(workflow)).map(([k, v]) => [k, { S: v }]),
    ),
    ConditionExpression: 'attribute_not_exists(#sk)',
    ExpressionAttributeNames: { '#sk': TABLE.sortKey },
  };
}

/**
 * Reads the definition out of a version item; undefined when the item is not one.
 *
 * @example
 * definitionFromItem(workflowVersionItem(survey)); // survey, as canonical JSON parses
 */
export function definitionFromItem(item: Item | undefined): Workflow | undefined {
  const text = item?.definition;
  return typeof text === 'string' ? (JSON.parse(text) as Workflow) : undefined;
}
