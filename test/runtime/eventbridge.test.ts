import { describe, expect, it } from 'vitest';
import { createEventBridgeHandler } from '../../lib/adapters/aws-lambda/eventbridge.ts';
import {
  eventBridgeRuntimeFromEnv,
  eventIngestionFromEnv,
  sqsRejectEvent,
} from '../../lib/adapters/aws-lambda/eventbridge-environment.ts';
import {
  compileEventMapping,
  type EventBridgeIngestDeps,
  type EventIngestion,
  type EventMapping,
  ingestEventBridgeEvent,
  mapEvent,
  type RejectedEvent,
} from '../../lib/core/eventbridge.ts';
import { MAX_BODY_BYTES } from '../../lib/core/http.ts';
import type { LogEntry } from '../../lib/core/log.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import { fireInputSchema, parseInput } from '../../lib/core/validation.ts';
import { EnvironmentError, EventMappingError } from '../../lib/errors.ts';
import { defineWorkflow, ValidationError } from '../../lib/index.ts';
import { MemoryStore } from '../../lib/store/memory-store.ts';
import { type EventRecord, resolveKwargs } from '../../lib/store/port.ts';
import { harness, ManualClock, recordingSqs, rejectionOf, thrownBy } from './fixtures.ts';

const orders = defineWorkflow('orders', {
  t_ship: { after: ['orderPlaced'], run: 'ship' },
  t_audit: { after: ['orderAudited'], run: 'audit' },
});
const returns = defineWorkflow('returns', { t_refund: { after: ['returned'], run: 'refund' } });

const EVENT_ID = '6a7e8feb-b491-4cf7-a9f1-bf3703467718';

/** An EventBridge event as a rule's target receives it. */
function orderEvent(detail: unknown = { orderId: 'o-1', total: 42 }, over = {}) {
  return {
    version: '0',
    id: EVENT_ID,
    'detail-type': 'OrderPlaced',
    source: 'shop.orders',
    account: '123456789012',
    time: '2026-01-01T00:00:00Z',
    region: 'us-east-1',
    resources: ['arn:aws:shop:us-east-1:123456789012:order/o-1'],
    detail,
    ...over,
  };
}

const ingestion = (mapping: EventMapping, workflow?: string): EventIngestion => ({
  mapping: compileEventMapping(mapping),
  ...(workflow !== undefined ? { workflow } : {}),
});

const ORDER_MAPPING: EventMapping = { sessionId: '$.detail.orderId', trigger: 'orderPlaced' };

function mappingError(fn: () => unknown): EventMappingError {
  const err = thrownBy(fn);
  expect(err).toBeInstanceOf(EventMappingError);
  return err as EventMappingError;
}

describe('compileEventMapping', () => {
  it('accepts paths and literal names', () => {
    expect(() =>
      compileEventMapping({
        sessionId: 'global',
        trigger: '$.detail-type',
        kwargs: { a: '$', b: "$.detail['a.b']", c: '$.resources[0]', d: 'literal' },
        eventId: '$["detail"].requestId',
      }),
    ).not.toThrow();
  });

  it.each([
    ['$.detail..orderId', "has no name after '.' (at character 9)"],
    ['$detail.orderId', "has 'd' where '.' or '[' belongs (at character 2)"],
    ['$.resources[x]', 'needs an array index or a quoted name inside [ ]'],
    ["$.detail['order", "has an unclosed ['"],
    ['$.detail.', "has no name after '.'"],
  ])('refuses the path %s, naming the field and the reason', (path, reason) => {
    const err = mappingError(() => compileEventMapping({ sessionId: path, trigger: 'x' }));
    expect(err.field).toBe('sessionId');
    expect(err.message).toContain(`mapping.sessionId '${path}' is not a path: it ${reason}`);
  });

  it('refuses a literal session id or trigger that breaks the name rules', () => {
    const session = mappingError(() => compileEventMapping({ sessionId: 'a b', trigger: 'x' }));
    expect(session.field).toBe('sessionId');
    expect(session.message).toContain("'a b' must match ^[A-Za-z0-9_.:-]{1,256}$");
    const trigger = mappingError(() => compileEventMapping({ sessionId: 's', trigger: 'x#1' }));
    expect(trigger.field).toBe('trigger');
    expect(trigger.message).toContain('no spaces, no "#"');
  });

  it('refuses a literal event id, which would make every later event a duplicate', () => {
    const err = mappingError(() =>
      compileEventMapping({ sessionId: '$.detail.orderId', trigger: 'x', eventId: 'fixed' }),
    );
    expect(err.field).toBe('eventId');
    expect(err.message).toContain('is a literal: every event after the first would be a duplicate');
  });

  it('refuses literal string kwargs and forbidden kwargs keys', () => {
    expect(
      mappingError(() => compileEventMapping({ sessionId: 's', trigger: 'x', kwargs: 'detail' }))
        .field,
    ).toBe('kwargs');
    const forbidden = mappingError(() =>
      compileEventMapping({
        sessionId: 's',
        trigger: 'x',
        kwargs: JSON.parse('{"__proto__": "$.detail"}'),
      }),
    );
    expect(forbidden.field).toBe('kwargs.__proto__');
  });

  it('refuses a field that is not part of a mapping', () => {
    const err = mappingError(() =>
      compileEventMapping({ sessionId: 's', trigger: 'x', session: '$.id' } as EventMapping),
    );
    expect(err.message).toContain('mapping.session is not a mapping field');
  });
});

describe('mapEvent', () => {
  it('defaults kwargs to the detail and the event id to <trigger>:<the event id>', () => {
    expect(mapEvent(ingestion(ORDER_MAPPING), orderEvent())).toEqual({
      sessionId: 'o-1',
      trigger: 'orderPlaced',
      kwargs: { orderId: 'o-1', total: 42 },
      eventId: `orderPlaced:${EVENT_ID}`,
    });
  });

  it('reads hyphenated names, array indexes and quoted names', () => {
    const fire = mapEvent(
      ingestion({
        sessionId: "$.detail['order.id']",
        trigger: '$.detail-type',
        kwargs: { resource: '$.resources[0]', region: '$["region"]' },
      }),
      orderEvent({ 'order.id': 'o-9' }),
    );
    expect(fire.sessionId).toBe('o-9');
    expect(fire.trigger).toBe('OrderPlaced');
    expect(fire.kwargs).toEqual({
      resource: 'arn:aws:shop:us-east-1:123456789012:order/o-1',
      region: 'us-east-1',
    });
  });

  it('uses a mapped event id as given, so it can match the HTTP path', () => {
    const fire = mapEvent(
      ingestion({ ...ORDER_MAPPING, eventId: '$.detail.requestId' }),
      orderEvent({ orderId: 'o-1', requestId: 'req-7' }),
    );
    expect(fire.eventId).toBe('req-7');
  });

  it('turns a number into its decimal text for a session id', () => {
    expect(mapEvent(ingestion(ORDER_MAPPING), orderEvent({ orderId: 1042 })).sessionId).toBe(
      '1042',
    );
  });

  it('builds kwargs from paths and literals, leaving out keys whose path finds nothing', () => {
    const fire = mapEvent(
      ingestion({
        ...ORDER_MAPPING,
        kwargs: { total: '$.detail.total', coupon: '$.detail.coupon', channel: 'web' },
      }),
      orderEvent(),
    );
    expect(fire.kwargs).toEqual({ total: 42, channel: 'web' });
  });

  it("takes the whole event as kwargs with '$'", () => {
    const event = orderEvent();
    expect(mapEvent(ingestion({ ...ORDER_MAPPING, kwargs: '$' }), event).kwargs).toEqual(event);
  });

  it('passes the ingestion workflow on', () => {
    expect(mapEvent(ingestion(ORDER_MAPPING, 'orders'), orderEvent()).workflow).toBe('orders');
  });

  it('refuses a path that finds nothing, naming the field and the path', () => {
    const err = mappingError(() => mapEvent(ingestion(ORDER_MAPPING), orderEvent({ total: 1 })));
    expect(err.message).toBe('mapping.sessionId ($.detail.orderId) found nothing in the event');
  });

  it('refuses a session id that is not a string or a number', () => {
    const err = mappingError(() =>
      mapEvent(ingestion(ORDER_MAPPING), orderEvent({ orderId: { id: 1 } })),
    );
    expect(err.message).toBe(
      'mapping.sessionId ($.detail.orderId) gave an object, which must be a string or a number',
    );
  });

  it('refuses a mapped session id or trigger with the rule the HTTP path applies', () => {
    const http = thrownBy(() =>
      parseInput(fireInputSchema, { sessionId: 'o 1', trigger: 'orderPlaced' }),
    );
    const err = mappingError(() =>
      mapEvent(ingestion(ORDER_MAPPING), orderEvent({ orderId: 'o 1' })),
    );
    expect(err.field).toBe('sessionId');
    expect(err.message).toBe(
      `mapping.sessionId ($.detail.orderId) gave "o 1", which ${http.message.replace("'sessionId' ", '')}`,
    );
    const trigger = mappingError(() =>
      mapEvent(
        ingestion({ ...ORDER_MAPPING, trigger: '$.detail-type' }),
        orderEvent(undefined, { 'detail-type': 'Order Placed' }),
      ),
    );
    expect(trigger.message).toContain('mapping.trigger ($.detail-type) gave "Order Placed"');
  });

  it('refuses kwargs that are not a JSON object', () => {
    const err = mappingError(() =>
      mapEvent(ingestion({ ...ORDER_MAPPING, kwargs: '$.detail.items' }), {
        ...orderEvent({ orderId: 'o-1', items: [1, 2] }),
      }),
    );
    expect(err.message).toBe(
      'mapping.kwargs ($.detail.items) gave an array, which must be a JSON object',
    );
  });

  it('refuses kwargs with a forbidden key at any depth, as the HTTP path does', () => {
    const detail = JSON.parse('{"orderId":"o-1","meta":{"__proto__":{"admin":true}}}');
    const err = mappingError(() => mapEvent(ingestion(ORDER_MAPPING), orderEvent(detail)));
    expect(err.message).toContain("must not contain the key '__proto__' (at meta)");
  });

  it('refuses an event without an id when the event id defaults to it', () => {
    const err = mappingError(() =>
      mapEvent(ingestion(ORDER_MAPPING), orderEvent(undefined, { id: undefined })),
    );
    expect(err.message).toBe('mapping.eventId ($.id) found nothing in the event');
  });

  it('refuses a fire over the HTTP body limit', () => {
    const big = 'x'.repeat(MAX_BODY_BYTES / 2);
    const fire = () =>
      mapEvent(
        ingestion({ ...ORDER_MAPPING, kwargs: { a: '$.detail.big', b: '$.detail.big' } }),
        orderEvent({ orderId: 'o-1', big }),
      );
    expect(mappingError(fire).message).toMatch(
      new RegExp(`made a fire of \\d+ bytes; the limit is ${MAX_BODY_BYTES}`),
    );
    expect(() =>
      mapEvent(
        ingestion({ ...ORDER_MAPPING, kwargs: { a: '$.detail.big' } }),
        orderEvent({ orderId: 'o-1', big }),
      ),
    ).not.toThrow();
  });
});

interface Rig {
  deps: EventBridgeIngestDeps;
  store: MemoryStore;
  logs: LogEntry[];
  rejected: RejectedEvent[];
}

function rig(store = new MemoryStore()): Rig {
  const logs: LogEntry[] = [];
  const rejected: RejectedEvent[] = [];
  return {
    store,
    logs,
    rejected,
    deps: {
      store,
      registry: new WorkflowRegistry([orders, returns]),
      clock: new ManualClock(),
      log: (entry) => {
        logs.push(entry);
      },
      reject: async (r) => {
        rejected.push(r);
      },
    },
  };
}

async function storedEvents(store: MemoryStore, sessionId: string): Promise<EventRecord[]> {
  return store.listEvents(sessionId);
}

/** The session's stored fires of `trigger`. */
async function firesOf(store: MemoryStore, sessionId: string, trigger: string) {
  return (await storedEvents(store, sessionId)).filter(
    (e) => e.kind === 'fire' && e.trigger === trigger,
  );
}

describe('ingestEventBridgeEvent', () => {
  it('fires a redelivered event once: the second delivery is a duplicate', async () => {
    const { deps, store } = rig();
    const first = await ingestEventBridgeEvent(deps, ingestion(ORDER_MAPPING), orderEvent());
    const second = await ingestEventBridgeEvent(deps, ingestion(ORDER_MAPPING), orderEvent());
    expect(first).toEqual({
      status: 'fired',
      sessionId: 'o-1',
      eventId: `orderPlaced:${EVENT_ID}`,
      duplicate: false,
    });
    expect(second).toMatchObject({ status: 'fired', duplicate: true });
    expect(await firesOf(store, 'o-1', 'orderPlaced')).toHaveLength(1);
  });

  it('schedules the task the event triggers exactly once', async () => {
    const h = harness(orders);
    const deps = { ...rig(h.store).deps, registry: h.registry };
    await ingestEventBridgeEvent(deps, ingestion(ORDER_MAPPING), orderEvent());
    await ingestEventBridgeEvent(deps, ingestion(ORDER_MAPPING), orderEvent());
    await h.evaluate('o-1');
    const instances = await h.store.listInstances('o-1');
    expect(instances.map((i) => [i.name, i.status])).toEqual([['t_ship#0', 'scheduled']]);
    const [resolved] = await resolveKwargs(h.store, instances);
    expect(resolved?.kwargs).toEqual({ orderPlaced: { orderId: 'o-1', total: 42 } });
  });

  it('applies one event mapped by two ingestions to two triggers, both', async () => {
    const { deps, store } = rig();
    await ingestEventBridgeEvent(deps, ingestion(ORDER_MAPPING), orderEvent());
    const audit = ingestion({ ...ORDER_MAPPING, trigger: 'orderAudited' });
    const outcome = await ingestEventBridgeEvent(deps, audit, orderEvent());
    expect(outcome).toMatchObject({ status: 'fired', duplicate: false });
    const triggers = (await storedEvents(store, 'o-1')).map((e) =>
      e.kind === 'fire' ? e.trigger : e.kind,
    );
    expect(triggers.sort()).toEqual(['orderAudited', 'orderPlaced']);
  });

  it('creates the session on the ingestion workflow', async () => {
    const { deps, store } = rig();
    await ingestEventBridgeEvent(
      deps,
      ingestion({ sessionId: '$.detail.orderId', trigger: 'returned' }, 'returns'),
      orderEvent(),
    );
    const [event] = await storedEvents(store, 'o-1');
    expect(event?.workflow).toBe('returns');
  });

  it('dead-letters an event whose mapped fire is invalid, with an error log line, and stores nothing', async () => {
    const { deps, store, logs, rejected } = rig();
    const event = orderEvent({ orderId: 'o 1' });
    const outcome = await ingestEventBridgeEvent(deps, ingestion(ORDER_MAPPING), event);
    const reason =
      'mapping.sessionId ($.detail.orderId) gave "o 1", which must match ^[A-Za-z0-9_.:-]{1,256}$';
    expect(outcome).toEqual({ status: 'rejected', code: 'VALIDATION', message: reason });
    expect(rejected).toEqual([{ event, error: { code: 'VALIDATION', message: reason } }]);
    expect(logs).toEqual([
      {
        level: 'error',
        message: `EventBridge event rejected and sent to the dead-letter queue: ${reason}`,
        timestamp: '2026-01-01T00:00:00.000Z',
        code: 'VALIDATION',
        eventBridgeId: EVENT_ID,
        source: 'shop.orders',
        detailType: 'OrderPlaced',
      },
    ]);
    expect(await store.listEvents('o 1')).toEqual([]);
  });

  it('dead-letters an event whose kwargs are not a JSON object', async () => {
    const { deps, rejected } = rig();
    const outcome = await ingestEventBridgeEvent(
      deps,
      ingestion({ ...ORDER_MAPPING, kwargs: '$.detail.note' }),
      orderEvent({ orderId: 'o-1', note: 'fragile' }),
    );
    expect(outcome).toMatchObject({ status: 'rejected', code: 'VALIDATION' });
    expect(rejected[0]?.error.message).toBe(
      'mapping.kwargs ($.detail.note) gave "fragile", which must be a JSON object',
    );
  });

  it('dead-letters what is not an event at all', async () => {
    const { deps, logs, rejected } = rig();
    const outcome = await ingestEventBridgeEvent(deps, ingestion(ORDER_MAPPING), 'ping');
    expect(outcome).toMatchObject({ status: 'rejected' });
    expect(rejected[0]?.event).toBe('ping');
    expect(logs[0]).toMatchObject({ level: 'error', eventType: '"ping"' });
  });

  it('dead-letters an event for a workflow the deployment lacks', async () => {
    const { deps, rejected } = rig();
    const outcome = await ingestEventBridgeEvent(
      deps,
      ingestion(ORDER_MAPPING, 'invoices'),
      orderEvent(),
    );
    expect(outcome).toEqual({
      status: 'rejected',
      code: 'NOT_FOUND',
      message: "unknown workflow 'invoices'",
    });
    expect(rejected).toHaveLength(1);
  });

  it('throws a storage error, so Lambda retries the invocation, and dead-letters nothing', async () => {
    const store = new MemoryStore();
    store.putEvent = async () => {
      throw new Error('ProvisionedThroughputExceededException');
    };
    const { deps, rejected, logs } = rig(store);
    const err = await rejectionOf(
      ingestEventBridgeEvent(deps, ingestion(ORDER_MAPPING), orderEvent()),
    );
    expect(err.message).toBe('ProvisionedThroughputExceededException');
    expect(rejected).toEqual([]);
    expect(logs).toEqual([]);
  });

  it('throws when the dead-letter queue refuses the event, so the event is retried, not lost', async () => {
    const { deps } = rig();
    deps.reject = async () => {
      throw new Error('AccessDenied');
    };
    const err = await rejectionOf(
      ingestEventBridgeEvent(deps, ingestion(ORDER_MAPPING), orderEvent({ orderId: 'o 1' })),
    );
    expect(err.message).toBe('AccessDenied');
  });

  it('logs each fire with its session, event id and whether it was a duplicate', async () => {
    const { deps, logs } = rig();
    await ingestEventBridgeEvent(deps, ingestion(ORDER_MAPPING), orderEvent());
    await ingestEventBridgeEvent(deps, ingestion(ORDER_MAPPING), orderEvent());
    expect(logs.map((l) => [l.level, l.message, l.sessionId, l.eventId, l.duplicate])).toEqual([
      ['info', 'EventBridge event fired', 'o-1', `orderPlaced:${EVENT_ID}`, false],
      ['info', 'EventBridge event was a duplicate', 'o-1', `orderPlaced:${EVENT_ID}`, true],
    ]);
  });
});

describe('the EventBridge Lambda', () => {
  it('fires through its ingestion', async () => {
    const { deps, store } = rig();
    const handler = createEventBridgeHandler({ ...deps, ingestion: ingestion(ORDER_MAPPING) });
    expect(await handler(orderEvent())).toMatchObject({ status: 'fired', sessionId: 'o-1' });
    expect(await firesOf(store, 'o-1', 'orderPlaced')).toHaveLength(1);
  });
});

const QUEUE_URL = 'https://sqs.eu-west-1.amazonaws.com/123456789012/eb-dlq';

describe('sqsRejectEvent', () => {
  it("sends the event as it arrived, with EventBridge's error attributes", async () => {
    const { sqs, sent } = recordingSqs();
    const event = orderEvent({ orderId: 'o 1' });
    await sqsRejectEvent(
      sqs,
      QUEUE_URL,
    )({ event, error: { code: 'VALIDATION', message: 'mapping.sessionId ...' } });
    expect(sent).toEqual([
      {
        QueueUrl: QUEUE_URL,
        MessageBody: JSON.stringify(event),
        MessageAttributes: {
          ERROR_CODE: { DataType: 'String', StringValue: 'VALIDATION' },
          ERROR_MESSAGE: { DataType: 'String', StringValue: 'mapping.sessionId ...' },
        },
      },
    ]);
  });
});

describe('the EventBridge function environment', () => {
  const env = {
    TRIGGERS_TABLE_NAME: 'triggers-sessions',
    AWS_REGION: 'eu-west-1',
    TRIGGERS_EVENT_MAPPING: JSON.stringify(ORDER_MAPPING),
    TRIGGERS_DEAD_LETTER_QUEUE_URL: QUEUE_URL,
  };
  const app = { workflows: [orders, returns] };

  it('reads the mapping and the workflow', () => {
    const read = eventIngestionFromEnv({ ...env, TRIGGERS_EVENT_WORKFLOW: 'returns' }, [
      'orders',
      'returns',
    ]);
    expect(read.workflow).toBe('returns');
    expect(mapEvent(read, orderEvent()).sessionId).toBe('o-1');
  });

  it.each([
    [{ TRIGGERS_EVENT_MAPPING: undefined }, 'TRIGGERS_EVENT_MAPPING', 'is required'],
    [{ TRIGGERS_EVENT_MAPPING: '{' }, 'TRIGGERS_EVENT_MAPPING', 'must be JSON'],
    [
      { TRIGGERS_EVENT_MAPPING: '{"sessionId":"$.a..b","trigger":"x"}' },
      'TRIGGERS_EVENT_MAPPING',
      "is invalid: mapping.sessionId '$.a..b' is not a path",
    ],
    [
      { TRIGGERS_EVENT_MAPPING: '{"trigger":"x"}' },
      'TRIGGERS_EVENT_MAPPING',
      'is not an event mapping: sessionId',
    ],
    [{ TRIGGERS_EVENT_WORKFLOW: 'invoices' }, 'TRIGGERS_EVENT_WORKFLOW', "workflow 'invoices'"],
    [
      { TRIGGERS_DEAD_LETTER_QUEUE_URL: undefined },
      'TRIGGERS_DEAD_LETTER_QUEUE_URL',
      'is required',
    ],
    [{ TRIGGERS_DEAD_LETTER_QUEUE_URL: 'eb-dlq' }, 'TRIGGERS_DEAD_LETTER_QUEUE_URL', 'queue URL'],
  ])('refuses %j at cold start, naming %s', (change, variable, message) => {
    const err = thrownBy(() => eventBridgeRuntimeFromEnv(app, { ...env, ...change }));
    expect(err).toBeInstanceOf(EnvironmentError);
    expect((err as EnvironmentError).variable).toBe(variable);
    expect(err.message).toContain(message);
    expect(err).toBeInstanceOf(ValidationError);
  });

  it('sends refused events to the dead-letter queue of its environment', async () => {
    const { sqs, sent } = recordingSqs();
    const runtime = eventBridgeRuntimeFromEnv(app, env, { sqs, log: () => {} });
    const handler = createEventBridgeHandler(runtime);
    expect(await handler(orderEvent({ orderId: 'o 1' }))).toMatchObject({ status: 'rejected' });
    expect(sent.map((m) => m.QueueUrl)).toEqual([QUEUE_URL]);
  });
});
