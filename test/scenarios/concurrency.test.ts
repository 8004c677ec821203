/**
 * Concurrency: fires in flight at the same time, in one session and across sessions, with and
 * without cascades racing them; and evaluators racing on one session's head. Each event is
 * applied exactly once, each ready instance runs to exactly one outcome, nothing is lost.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { describe, expect, it } from 'vitest';
import { systemClock } from '../../lib/core/clock.ts';
import { type EvaluatorDeps, evaluateSession } from '../../lib/core/evaluator.ts';
import { fireEvent } from '../../lib/core/ingest.ts';
import { silentSink } from '../../lib/core/log.ts';
import { WorkflowRegistry } from '../../lib/core/registry.ts';
import { readSession } from '../../lib/core/view.ts';
import { ConflictError } from '../../lib/errors.ts';
import type { Kwargs, TaskHandler, Workflow } from '../../lib/index.ts';
import { localAwsConfig } from '../../lib/local/emulators.ts';
import { createSessionTable } from '../../lib/local/provision.ts';
import { DynamoStore } from '../../lib/store/dynamo-store.ts';
import { MemoryStore } from '../../lib/store/memory-store.ts';
import type { DeliveredEvent, SessionStore } from '../../lib/store/port.ts';
import { backend, type Session, start, startSession, waitUntil } from './harness.ts';

/** A small seeded generator (mulberry32), so a failing order can be replayed. */
function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

/** A Fisher–Yates shuffle driven by `rng`. */
function shuffle<T>(items: readonly T[], rng: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

const range = (n: number): number[] => Array.from({ length: n }, (_, i) => i);

/** Counts calls per `<session>/<key>`. */
class Calls {
  private readonly counts = new Map<string, number>();
  add(sessionId: string, key: string): void {
    const k = `${sessionId}/${key}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
  }
  of(sessionId: string, key: string): number {
    return this.counts.get(`${sessionId}/${key}`) ?? 0;
  }
}

/** Every instance of the session, name → status (so an extra instance shows up as a key). */
async function statuses(s: Session): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const i of await s.instances()) out[i.name] = i.status;
  return out;
}

/** `{ '<task>#0': status, …, '<task>#<n-1>': status }`. */
function numbered(task: string, n: number, status: string): Record<string, string> {
  return Object.fromEntries(range(n).map((i) => [`${task}#${i}`, status]));
}

/** The `i` of each instance's kwargs for `trigger`, sorted. */
async function indicesOf(s: Session, task: string, trigger: string): Promise<number[]> {
  return (await s.instances())
    .filter((i) => i.task === task)
    .map((i) => (i.kwargs[trigger] as { i: number }).i)
    .sort((a, b) => a - b);
}

describe('concurrent fires', () => {
  it('apply 50 concurrent fires that share one event id exactly once', async () => {
    const calls = new Calls();
    const { rt, s } = await startSession(
      { t_every: { after: [], andEvery: 'go', run: 'count' } },
      {
        count: (ctx) => {
          calls.add(ctx.sessionId, 'count');
          return {};
        },
      },
    );

    const answers = await Promise.allSettled(
      range(50).map(() => s.fire('go', { answer: 42 }, { eventId: 'the-one-event' })),
    );
    await rt.settle();

    expect(answers.filter((a) => a.status === 'rejected')).toEqual([]);
    expect(await statuses(s)).toEqual({ 't_every#0': 'finished' });
    expect((await s.instance('t_every#0'))?.kwargs).toEqual({ go: { answer: 42 } });
    expect(calls.of('s1', 'count')).toBe(1);
  });

  it('run the join task of each of 20 sessions exactly once with all four kwargs, whatever the order', async () => {
    const triggers = ['w', 'x', 'y', 'z'];
    const sessions = range(20).map((k) => `join-${k}`);
    const calls = new Calls();
    const rt = await start(
      { t_join: { after: triggers, run: 'join' } },
      {
        join: (ctx) => {
          calls.add(ctx.sessionId, 'join');
          return { got: ctx.kwargs };
        },
      },
    );
    const fires = sessions.flatMap((id) => triggers.map((trigger) => ({ id, trigger })));

    await Promise.all(
      shuffle(fires, seeded(20_260_101)).map(({ id, trigger }) =>
        rt.session(id).fire(trigger, { id, trigger }),
      ),
    );
    await rt.settle();

    for (const id of sessions) {
      const s = rt.session(id);
      expect(await statuses(s), id).toEqual({ 't_join#0': 'finished' });
      const expected = Object.fromEntries(triggers.map((trigger) => [trigger, { id, trigger }]));
      expect((await s.instance('t_join#0'))?.result, id).toEqual({ got: expected });
      expect(calls.of(id, 'join'), id).toBe(1);
    }
  });

  it('give a burst of 30 concurrent andEvery fires instances #0..#29, each finished once', async () => {
    const calls = new Calls();
    const { rt, s } = await startSession(
      { t_every: { after: [], andEvery: 'tick', run: 'count' } },
      {
        count: (ctx) => {
          calls.add(ctx.sessionId, 'count');
          return { i: (ctx.kwargs.tick as { i: number }).i };
        },
      },
    );

    await Promise.all(range(30).map((i) => s.fire('tick', { i })));
    await rt.settle();

    expect(await statuses(s)).toEqual(numbered('t_every', 30, 'finished'));
    expect(await indicesOf(s, 't_every', 'tick')).toEqual(range(30));
    for (const instance of await s.instances()) {
      expect(instance.result, instance.name).toEqual(instance.kwargs.tick);
    }
    expect(calls.of('s1', 'count')).toBe(30);
  });

  it('lose and double nothing when fires and cascades interleave in 5 sessions at once', async () => {
    const sessions = range(5).map((k) => `mixed-${k}`);
    const calls = new Calls();
    const handler =
      (key: string, from: string): TaskHandler =>
      (ctx) => {
        calls.add(ctx.sessionId, key);
        return { i: (ctx.kwargs[from] as { i: number } | undefined)?.i ?? -1 };
      };
    const rt = await start(
      {
        t_a: { after: [], andEvery: 'tick', run: 'stepA' },
        t_b: { after: [], andEvery: 't_a', run: 'stepB' },
        t_c: { after: ['start', 't_b'], run: 'final' },
      },
      {
        stepA: handler('stepA', 'tick'),
        stepB: handler('stepB', 't_a'),
        final: handler('final', 't_b'),
      },
    );
    const rng = seeded(5);
    const wave = (ticks: number[], withStart: boolean) =>
      Promise.all(
        shuffle(
          sessions.flatMap((id) => [
            ...ticks.map((i) => ({ id, trigger: 'tick', kwargs: { i } as Kwargs })),
            ...(withStart ? [{ id, trigger: 'start', kwargs: {} as Kwargs }] : []),
          ]),
          rng,
        ).map(({ id, trigger, kwargs }) => rt.session(id).fire(trigger, kwargs)),
      );

    await wave([0, 1, 2, 3, 4], true);
    // The second wave goes in while cascades of the first are under way.
    await waitUntil('a first cascade ran', async () =>
      (await rt.session('mixed-0').instances()).some((i) => i.task === 't_b'),
    );
    await wave([5, 6, 7, 8, 9], false);
    await rt.settle();

    for (const id of sessions) {
      const s = rt.session(id);
      expect(await statuses(s), id).toEqual({
        ...numbered('t_a', 10, 'finished'),
        ...numbered('t_b', 10, 'finished'),
        't_c#0': 'finished',
      });
      expect(await indicesOf(s, 't_a', 'tick'), id).toEqual(range(10));
      expect(await indicesOf(s, 't_b', 't_a'), id).toEqual(range(10));
      expect(calls.of(id, 'stepA'), id).toBe(10);
      expect(calls.of(id, 'stepB'), id).toBe(10);
      expect(calls.of(id, 'final'), id).toBe(1);
    }
  });
});

describe('runtimes started side by side', () => {
  it('each run their own session to the end', async () => {
    const calls = new Calls();
    const count: TaskHandler = (ctx) => {
      calls.add(ctx.sessionId, 'count');
      return {};
    };
    const runtimes = await Promise.all(
      range(3).map(() => start({ t_alpha: { after: ['go'], run: 'count' } }, { count })),
    );
    // Every runtime is polling its (still empty) stream before any of them gets an event.
    await new Promise((r) => setTimeout(r, 500));

    for (const [k, rt] of runtimes.entries()) await rt.session(`side-${k}`).fire('go', { k });
    const settled = await Promise.allSettled(
      runtimes.map((rt) => rt.settle({ timeoutMs: 15_000 })),
    );

    // DynamoDB Local answers TrimmedDataAccessException to a TRIM_HORIZON iterator taken on an
    // empty shard once another table was written first; a stream poller that keeps retrying
    // that iterator never sees the runtime's events again.
    expect(
      settled.map(
        (r, k) => `side-${k}: ${r.status === 'fulfilled' ? 'settled' : (r.reason as Error).name}`,
      ),
    ).toEqual(['side-0: settled', 'side-1: settled', 'side-2: settled']);
    for (const [k, rt] of runtimes.entries()) {
      const s = rt.session(`side-${k}`);
      expect(await statuses(s), `side-${k}`).toEqual({ 't_alpha#0': 'finished' });
      expect(calls.of(`side-${k}`, 'count'), `side-${k}`).toBe(1);
    }
  });
});

/** A store on the selected backend: the memory store, or a fresh table on DynamoDB Local. */
async function makeStore(): Promise<{ store: SessionStore; close: () => void }> {
  if (backend === 'memory') return { store: new MemoryStore(), close: () => {} };
  const endpoint = process.env.TRIGGERS_DYNAMODB_ENDPOINT;
  if (!endpoint) throw new Error('TRIGGERS_DYNAMODB_ENDPOINT is not set (no global setup?)');
  const client = new DynamoDBClient(localAwsConfig(endpoint));
  const tableName = `concurrency-${randomUUID()}`;
  await createSessionTable(client, tableName);
  return { store: new DynamoStore({ tableName, client }), close: () => client.destroy() };
}

/**
 * The store seen through a slow network: every call first waits a few turns of the event loop,
 * so that racing evaluators interleave; `maxCommitItems` can be lowered, so that one evaluation
 * takes several commits. Counts the commits refused with `ConflictError`.
 */
function racing(
  store: SessionStore,
  rng: () => number,
  maxCommitItems: number,
): { store: SessionStore; conflicts: () => number } {
  let conflicts = 0;
  const pause = async () => {
    for (let n = Math.floor(rng() * 4); n > 0; n--) await new Promise((r) => setImmediate(r));
  };
  const wrapped = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'maxCommitItems') return maxCommitItems;
      const value = Reflect.get(target, prop, receiver);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        await pause();
        try {
          return await value.apply(target, args);
        } catch (err) {
          if (prop === 'commitEvaluation' && err instanceof ConflictError) conflicts += 1;
          throw err;
        }
      };
    },
  });
  return { store: wrapped, conflicts: () => conflicts };
}

/**
 * The session's events in the order the store accepted them, as a stream delivers them (they
 * were put one after another, so that is the order of `eventIds`), with their positions.
 */
async function acceptedEvents(
  store: SessionStore,
  sessionId: string,
  eventIds: readonly string[],
): Promise<DeliveredEvent[]> {
  if (store instanceof MemoryStore) return store.pendingEvents(sessionId);
  const found = await store.getEvents(sessionId, eventIds);
  return eventIds.flatMap((id, i) => {
    const e = found.get(id);
    return e ? [{ ...e, position: { stream: 'test', sequence: String(i + 1) } }] : [];
  });
}

const RACE_WORKFLOW: Workflow = {
  name: 'race',
  tasks: {
    t_every: { after: [], andEvery: 'go', run: 'h' },
    t_once: { after: ['go'], run: 'h' },
    t_join: { after: ['w', 'x', 'y', 'z'], run: 'h' },
  },
};

describe('concurrent evaluator invocations on one session', () => {
  it('apply every event exactly once, with no lost update and no gap in instance numbering', async () => {
    const { store: base, close } = await makeStore();
    try {
      for (const seed of [1, 2, 3]) {
        const sessionId = `race-${seed}`;
        // At most 3 events per commit: each evaluation takes several commits, which interleave.
        const { store, conflicts } = racing(base, seeded(seed), 8);
        const deps: EvaluatorDeps = {
          store,
          registry: new WorkflowRegistry([RACE_WORKFLOW]),
          clock: systemClock,
          log: silentSink,
        };
        const ids = range(12).map((i) => `go-${i}`);
        for (const [i, eventId] of ids.entries()) {
          await fireEvent(deps, { sessionId, trigger: 'go', kwargs: { i }, eventId });
        }
        const events = await acceptedEvents(base, sessionId, ids);
        expect(events.map((e) => e.eventId)).toEqual(ids);
        // Overlapping deliveries of the same stream, as duplicate invocations and retries give:
        // each starts at the session's first event (everything before a delivery's start is
        // applied: a stream source moves on only past what it delivered successfully).
        const windows = [
          events,
          events.slice(0, 6),
          events.slice(0, 9),
          events.slice(0, 3),
          events,
        ];

        const outcomes = await Promise.allSettled(
          windows.map((w) => evaluateSession(deps, sessionId, w)),
        );

        const label = `seed ${seed}`;
        expect(
          outcomes.filter((o) => o.status === 'rejected'),
          label,
        ).toEqual([]);
        expect(conflicts(), `${label}: the evaluators did race`).toBeGreaterThan(0);
        const head = await base.getHead(sessionId);
        expect(head?.state.fired.go?.count, label).toBe(12);
        expect(head?.state.next, label).toEqual({ t_every: 12, t_once: 1 });
        expect(head?.applied?.count, `${label}: events applied`).toBe(12);
        // Late re-deliveries of what is applied (a slow duplicate invocation) change nothing.
        await Promise.all(
          [events.slice(6), events.slice(3, 9)].map((w) => evaluateSession(deps, sessionId, w)),
        );
        expect((await base.getHead(sessionId))?.version, label).toBe(head?.version);
        const view = await readSession(deps, sessionId);
        const every = (view?.instances ?? []).filter((i) => i.task === 't_every');
        expect(every.map((i) => i.name).sort(), label).toEqual(
          range(12)
            .map((n) => `t_every#${n}`)
            .sort(),
        );
        expect(
          every.map((i) => (i.kwargs.go as { i: number } | undefined)?.i).sort(),
          `${label}: each event gets its own instance`,
        ).toEqual(range(12).sort());
        expect(
          (view?.instances ?? []).filter((i) => i.task === 't_once').map((i) => i.name),
          label,
        ).toEqual(['t_once#0']);
        expect(new Set(view?.instances.map((i) => i.status)), label).toEqual(
          new Set(['scheduled']),
        );
      }
    } finally {
      close();
    }
  });

  it('lose no trigger when four racing evaluators hold ever longer runs of the stream', async () => {
    const { store: base, close } = await makeStore();
    try {
      for (const seed of [4, 5, 6]) {
        const sessionId = `join-${seed}`;
        const { store, conflicts } = racing(base, seeded(seed), base.maxCommitItems);
        const deps: EvaluatorDeps = {
          store,
          registry: new WorkflowRegistry([RACE_WORKFLOW]),
          clock: systemClock,
          log: silentSink,
        };
        const triggers = ['w', 'x', 'y', 'z'];
        for (const trigger of triggers) {
          await fireEvent(deps, { sessionId, trigger, kwargs: { trigger }, eventId: trigger });
        }
        const events = await acceptedEvents(base, sessionId, triggers);

        // Each evaluator holds the stream up to a different event: they race to commit it.
        const outcomes = await Promise.allSettled(
          events.map((_, i) => evaluateSession(deps, sessionId, events.slice(0, i + 1))),
        );

        const label = `seed ${seed}`;
        expect(
          outcomes.filter((o) => o.status === 'rejected'),
          label,
        ).toEqual([]);
        expect(conflicts(), `${label}: the evaluators did race`).toBeGreaterThan(0);
        const head = await base.getHead(sessionId);
        for (const trigger of triggers) {
          expect(head?.state.fired[trigger]?.count, `${label}: ${trigger}`).toBe(1);
        }
        const view = await readSession(deps, sessionId);
        expect(
          view?.instances.map((i) => [i.name, i.status, i.kwargs]),
          label,
        ).toEqual([
          [
            't_join#0',
            'scheduled',
            Object.fromEntries(triggers.map((trigger) => [trigger, { trigger }])),
          ],
        ]);
      }
    } finally {
      close();
    }
  });
});
