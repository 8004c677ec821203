/**
 * One suite, every store: the in-memory store and the DynamoDB store (on DynamoDB Local) must
 * give the same answers to the same calls, conditions and atomicity included.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { initialState, type SessionState } from '../../lib/engine/state.ts';
import { ConflictError } from '../../lib/errors.ts';
import {
  localAwsConfig,
  type RunningEmulators,
  startEmulators,
} from '../../lib/local/emulators.ts';
import { createSessionTable } from '../../lib/local/provision.ts';
import { DynamoStore } from '../../lib/store/dynamo-store.ts';
import { MemoryStore } from '../../lib/store/memory-store.ts';
import type {
  AppliedMark,
  EventRecord,
  InstanceRecord,
  SessionStore,
} from '../../lib/store/port.ts';

const AT = '2026-11-27T10:00:00.000Z';
let emulators: RunningEmulators | undefined;

beforeAll(async () => {
  emulators = await startEmulators();
}, 60_000);

afterAll(async () => {
  await emulators?.stop();
});

const stores: Array<[string, () => Promise<SessionStore>]> = [
  ['memory', async () => new MemoryStore()],
  [
    'dynamodb',
    async () => {
      if (!emulators) throw new Error('the emulators did not start');
      const client = new DynamoDBClient(localAwsConfig(emulators.dynamodbEndpoint));
      const tableName = `conformance-${randomUUID()}`;
      await createSessionTable(client, tableName);
      return new DynamoStore({ tableName, client });
    },
  ],
];

function fire(
  sessionId: string,
  eventId: string,
  kwargs: Record<string, unknown> = {},
): EventRecord {
  return { sessionId, eventId, kind: 'fire', trigger: 'go', kwargs, source: 'api', firedAt: AT };
}

function instance(
  sessionId: string,
  name: string,
  status: InstanceRecord['status'],
): InstanceRecord {
  return {
    sessionId,
    workflow: 'w',
    name,
    task: name.split('#')[0] as string,
    status,
    kwargs: { go: { n: 1 } },
    attempt: 0,
    handler: 'h',
    queue: 'h',
    createdAt: AT,
    updatedAt: AT,
  };
}

/** The head mark after applying events up to stream sequence `sequence`, `count` in all. */
function mark(sequence: number, count = sequence): AppliedMark {
  return { stream: 'test-stream', sequence: String(sequence), count, at: AT };
}

function state(): SessionState {
  return { ...initialState({ name: 'w' } as never), fired: { go: { count: 1, last: 'e1' } } };
}

describe.each(stores)('the %s store', (_name, make) => {
  let store: SessionStore;
  let sid: string;

  beforeAll(async () => {
    store = await make();
  }, 60_000);

  const session = () => {
    sid = `s-${randomUUID()}`;
    return sid;
  };

  it('puts an event once and reports the second put of its id as a duplicate', async () => {
    const s = session();
    expect(await store.putEvent(fire(s, 'e1', { n: 1 }))).toEqual({ duplicate: false });
    expect(await store.putEvent(fire(s, 'e1', { n: 2 }))).toEqual({ duplicate: true });
    const events = await store.getEvents(s, ['e1', 'missing']);
    expect([...events.keys()]).toEqual(['e1']);
    expect(events.get('e1')).toMatchObject({ trigger: 'go', kwargs: { n: 1 } });
  });

  it('lists the events of a session in accept order, not in event-id order, and only its own', async () => {
    const s = session();
    const at = (second: number) => `2026-11-27T10:00:0${second}.000Z`;
    await store.putEvent({ ...fire(s, 'zeta', { n: 1 }), firedAt: at(1) });
    await store.putEvent({ ...fire(s, 'alpha', { n: 2 }), firedAt: at(2) });
    await store.putEvent({ ...fire(s, 'mid', { n: 3 }), firedAt: at(3) });
    await store.putEvent(fire(session(), 'other'));

    const events = await store.listEvents(s);

    expect(events.map((e) => e.eventId)).toEqual(['zeta', 'alpha', 'mid']);
    expect(events[1]).toMatchObject({ kind: 'fire', trigger: 'go', kwargs: { n: 2 } });
    expect(await store.listEvents(`s-${randomUUID()}`)).toEqual([]);
  });

  it('keeps kwargs exactly as JSON, odd keys and nesting included', async () => {
    const s = session();
    const kwargs = JSON.parse(
      '{"__proto__":{"x":1},"constructor":"c","nested":{"a":[1,"two",null,{"b":{}}],"e":""},"unicode":"żółw ☃","big":12345678901234567,"f":-0.5}',
    );
    await store.putEvent(fire(s, 'e1', kwargs));
    const back = (await store.getEvents(s, ['e1'])).get('e1');
    expect(back?.kind === 'fire' ? JSON.stringify(back.kwargs) : undefined).toBe(
      JSON.stringify(kwargs),
    );
    expect(({} as Record<string, unknown>).x).toBeUndefined();
  });

  it('creates the head only once and then moves it version by version', async () => {
    const s = session();
    await store.putEvent(fire(s, 'e1'));
    await store.putEvent(fire(s, 'e2'));
    const base = { sessionId: s, created: [], updated: [], events: [], at: AT };
    expect(await store.getHead(s)).toBeUndefined();

    await store.commitEvaluation({
      ...base,
      expectedVersion: undefined,
      state: state(),
      applied: ['e1'],
      mark: mark(1),
    });
    await expect(
      store.commitEvaluation({
        ...base,
        expectedVersion: undefined,
        state: state(),
        applied: ['e2'],
        mark: mark(2),
      }),
    ).rejects.toBeInstanceOf(ConflictError);
    await store.commitEvaluation({
      ...base,
      expectedVersion: 1,
      state: state(),
      applied: ['e2'],
      mark: mark(2),
    });

    const head = await store.getHead(s);
    expect(head?.version).toBe(2);
    expect(head?.state).toEqual(state());
  });

  it('keeps the applied mark in the head, written alone as one conditional write', async () => {
    const s = session();
    await store.putEvent(fire(s, 'e1'));
    await store.putEvent(fire(s, 'e2'));
    const base = { sessionId: s, created: [], updated: [], events: [], at: AT, state: state() };
    await store.commitEvaluation({
      ...base,
      expectedVersion: undefined,
      applied: ['e1'],
      mark: mark(1),
    });
    expect((await store.getHead(s))?.applied).toEqual(mark(1));

    // A head-only commit on a stale version loses, as a transaction would.
    await expect(
      store.commitEvaluation({
        ...base,
        expectedVersion: undefined,
        applied: ['e2'],
        mark: mark(2),
      }),
    ).rejects.toBeInstanceOf(ConflictError);
    await store.commitEvaluation({ ...base, expectedVersion: 1, applied: ['e2'], mark: mark(2) });

    const head = await store.getHead(s);
    expect(head?.version).toBe(2);
    expect(head?.applied).toEqual(mark(2));
  });

  it('writes nothing of a commit when any one of its conditions fails', async () => {
    const s = session();
    await store.putEvent(fire(s, 'e1'));
    await store.putEvent(fire(s, 'e2'));
    const base = { sessionId: s, events: [], at: AT, state: state() };
    await store.commitEvaluation({
      ...base,
      expectedVersion: undefined,
      applied: ['e1'],
      mark: mark(1),
      created: [instance(s, 't#0', 'scheduled')],
      updated: [],
    });

    await expect(
      store.commitEvaluation({
        ...base,
        expectedVersion: 1,
        applied: ['e2'],
        mark: mark(2),
        created: [instance(s, 't#1', 'scheduled')],
        // t#0 is scheduled, not failed: this condition fails, so nothing may be written.
        updated: [
          {
            sessionId: s,
            name: 't#0',
            expect: ['failed'],
            set: { status: 'replayed', updatedAt: AT },
          },
        ],
        events: [fire(s, 'cascade#t#0')],
      }),
    ).rejects.toBeInstanceOf(ConflictError);

    expect((await store.getHead(s))?.version).toBe(1);
    expect(await store.getInstance(s, 't#1')).toBeUndefined();
    expect((await store.getInstance(s, 't#0'))?.status).toBe('scheduled');
    expect((await store.getEvents(s, ['cascade#t#0'])).size).toBe(0);
    // e2 is still unapplied: a later commit may apply it.
    await store.commitEvaluation({
      ...base,
      expectedVersion: 1,
      applied: ['e2'],
      mark: mark(2),
      created: [],
      updated: [],
    });
  });

  it('lists the instances a commit created, with their records intact', async () => {
    const s = session();
    await store.putEvent(fire(s, 'e1'));
    const created = [instance(s, 't#0', 'scheduled'), instance(s, 'u#0', 'abandoned')];
    await store.commitEvaluation({
      sessionId: s,
      expectedVersion: undefined,
      state: state(),
      applied: ['e1'],
      mark: mark(1),
      created,
      updated: [],
      events: [],
      at: AT,
    });
    const listed = (await store.listInstances(s)).sort((a, b) => a.name.localeCompare(b.name));
    expect(listed).toEqual(created);
  });

  describe('claims and outcomes', () => {
    async function scheduled(name = 't#0') {
      const s = session();
      await store.putEvent(fire(s, 'e1'));
      await store.commitEvaluation({
        sessionId: s,
        expectedVersion: undefined,
        state: state(),
        applied: ['e1'],
        mark: mark(1),
        created: [instance(s, name, 'scheduled')],
        updated: [],
        events: [],
        at: AT,
      });
      return s;
    }

    it('claims a scheduled instance once', async () => {
      const s = await scheduled();
      const first = await store.claimInstance(s, 't#0', AT, '2026-11-27T10:15:00.000Z');
      const second = await store.claimInstance(s, 't#0', AT, '2026-11-27T10:15:00.000Z');
      expect(first).toMatchObject({ status: 'running', leaseUntil: '2026-11-27T10:15:00.000Z' });
      expect(second).toBeUndefined();
    });

    it('lets a delivery take over a running instance only once its lease lapsed', async () => {
      const s = await scheduled();
      await store.claimInstance(s, 't#0', AT, '2026-11-27T10:15:00.000Z');
      expect(
        await store.claimInstance(s, 't#0', '2026-11-27T10:14:59.000Z', '2026-11-27T10:30:00.000Z'),
      ).toBeUndefined();
      const taken = await store.claimInstance(
        s,
        't#0',
        '2026-11-27T10:15:01.000Z',
        '2026-11-27T10:30:00.000Z',
      );
      expect(taken?.leaseUntil).toBe('2026-11-27T10:30:00.000Z');
    });

    it('commits an outcome with its cascade only for the holder of the lease', async () => {
      const s = await scheduled();
      await store.claimInstance(s, 't#0', AT, 'lease-a');
      const outcome = (lease: string) => ({
        update: {
          sessionId: s,
          name: 't#0',
          expect: ['running' as const],
          set: { status: 'finished' as const, result: { ok: true }, updatedAt: AT },
        },
        leaseUntil: lease,
        events: [fire(s, 'cascade#t#0', { ok: true })],
      });

      expect(await store.commitOutcome(outcome('lease-b'))).toBe(false);
      expect((await store.getEvents(s, ['cascade#t#0'])).size).toBe(0);
      expect(await store.commitOutcome(outcome('lease-a'))).toBe(true);
      expect(await store.commitOutcome(outcome('lease-a'))).toBe(false);

      const done = await store.getInstance(s, 't#0');
      expect(done).toMatchObject({ status: 'finished', result: { ok: true } });
      expect(done?.leaseUntil).toBeUndefined();
      expect((await store.getEvents(s, ['cascade#t#0'])).get('cascade#t#0')).toMatchObject({
        kind: 'fire',
        kwargs: { ok: true },
      });
    });

    it('records an outcome without events in one write', async () => {
      const s = await scheduled();
      await store.claimInstance(s, 't#0', AT, 'lease-a');
      const ok = await store.commitOutcome({
        update: {
          sessionId: s,
          name: 't#0',
          expect: ['running'],
          set: { status: 'failed', error: { type: 'Error', message: 'boom' }, updatedAt: AT },
        },
        leaseUntil: 'lease-a',
        events: [],
      });
      expect(ok).toBe(true);
      expect(await store.getInstance(s, 't#0')).toMatchObject({
        status: 'failed',
        error: { type: 'Error', message: 'boom' },
      });
    });
  });
});
